"""A real headless Neovim against a real llama.cpp server (llama-cpp-python + SmolLM2-135M).

The server is the suite's own (``tests/llama_server.py``: built once per machine,
started on 127.0.0.1); these tests never skip.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession
from tests.llama_server import LlamaServer


def provider(server: LlamaServer, extra: str = "") -> str:
    return (f'[providers.local]\nkind = "openai-compatible"\nbase_url = "{server.base_url}"\n'
            f"{extra}\n")


def entry(surface: str, server: LlamaServer, extra: str = "") -> str:
    return (f'[[models.{surface}]]\nprovider = "local"\nmodel = "{server.model}"\n'
            f"temperature = 0\n{extra}\n")


def ask_state(nvim: NvimSession) -> Any:
    return nvim.lua("return require('hexai.ask').state()")


def test_hexai_ask_streams_both_sections_from_the_real_server(
    nvim: NvimSession, llama_server: LlamaServer
) -> None:
    # Two streamed entries on one single-slot server: whichever the server cuts
    # is asked again, so both sections end done, with the server's answer.
    nvim.write_config(provider(llama_server)
                      + entry("ask", llama_server, 'label = "one"\nmax_tokens = 48')
                      + entry("ask", llama_server, 'label = "two"\nmax_tokens = 48'))
    nvim.setup()
    nvim.nvim.command("HexaiAsk Name two fruits.")

    def finished() -> Any:
        st = ask_state(nvim)
        if st and all(s["status"] not in ("pending", "streaming") for s in st["sections"]):
            return st
        return None

    st = nvim.wait_for(finished, timeout=120, what="both answers")
    sections = st["sections"]
    assert [s["status"] for s in sections] == ["ok", "ok"], sections
    assert all(s["text"].strip() for s in sections)
    assert sections[0]["text"] == sections[1]["text"]  # temperature 0, same server
    assert max(s["updates"] for s in sections) >= 3  # streamed, not painted at the end
    lines = nvim.lua("local v = require('hexai.ask').state().view\n"
                     "return vim.api.nvim_buf_get_lines(v.stack_buf, 0, -1, false)")
    headers = [line for line in lines if line.startswith("## ")]
    assert [h.split(" · ")[0] for h in headers] == ["## one", "## two"]
    assert all(" tok/s" in h and " out tok" in h for h in headers), headers


def test_a_completion_suggestion_from_the_real_server_appears(
    nvim: NvimSession, llama_server: LlamaServer, tmp_path: Path
) -> None:
    nvim.write_config(
        "[completion]\ncompletion_debounce_ms = 20\ntimeout_ms = 60000\n"
        + provider(llama_server, 'fim = "off"')
        + entry("completion", llama_server, 'label = "smol"\nmax_tokens = 24'))
    nvim.setup()
    sample = tmp_path / "sample.py"
    sample.write_text("def add(a, b):\n    \n")
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")
    nvim.nvim.input("Areturn ")

    def answered() -> Any:
        snap = nvim.lua("return require('hexai.ghost').snapshot()")
        if not snap:
            return None
        raw = snap["entries"]
        found = list(raw.values()) if isinstance(raw, dict) else list(raw)
        return found if found and found[0]["status"] not in ("pending", "streaming") else None

    [smol] = nvim.wait_for(answered, timeout=120, what="the suggestion")
    assert smol["label"] == "smol"
    assert smol["status"] in ("ok", "empty"), smol
    if smol["status"] == "ok":
        assert smol["text"].strip()
        assert "[smol" in str(nvim.extmarks("hexai.ghost"))
    assert smol.get("stop_reason") in ("stop", "length"), smol


def test_config_check_probes_the_real_server(
    nvim: NvimSession, llama_server: LlamaServer
) -> None:
    nvim.write_config(provider(llama_server) + entry("ask", llama_server))
    nvim.setup()
    nvim.nvim.command("HexaiConfigCheck")
    nvim.wait_for(lambda: nvim.lua("return require('hexai.check').state().done"),
                  timeout=120, what="check finished")
    lines = nvim.lua("local b = vim.fn.bufnr('hexai://config-check')\n"
                     "return vim.api.nvim_buf_get_lines(b, 0, -1, false)")
    text = "\n".join(lines)
    assert re.search(rf"^OK +local:{llama_server.model}: reachable", text, re.M), text
    assert re.search(rf"^OK +local:{llama_server.model}: one-token round trip \d", text,
                     re.M), text
