"""``hexai ask --json`` against a real llama.cpp server (llama-cpp-python + SmolLM2-135M).

These tests talk to the server the suite builds and starts on 127.0.0.1
(``tests/llama_server.py``); they never skip. The server's own answer to the
same request (a whole answer, which carries ``usage``) is the ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.llama_server import LlamaServer

PROMPT = "Name three colours of the rainbow, one per line."


def config(server: LlamaServer, *entries: str, provider: str = "") -> str:
    text = (f'[providers.local]\nkind = "openai-compatible"\nbase_url = "{server.base_url}"\n'
            f"{provider}\n")
    for extra in entries:
        text += (f'[[models.cli]]\nprovider = "local"\nmodel = "{server.model}"\n'
                 f"temperature = 0\n{extra}\n")
    return text


def hexai_ask(tmp_path: Path, config_text: str, prompt: str = PROMPT,
              *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    path = tmp_path / "hexai.toml"
    path.write_text(config_text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAI_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "hexai_nvim", "ask", "--config", str(path), "--json",
         "--timeout", "90", *extra, prompt],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=180, check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["entries"], proc.stderr


def server_answer(server: LlamaServer, tmp_path: Path, prompt: str = PROMPT,
                  max_tokens: int = 256) -> Any:
    """The server's own whole answer to exactly what hexai sends for ``prompt``."""
    from hexai_nvim.config import load_config
    from hexai_nvim.providers import HttpPool
    from hexai_nvim.providers.base import Call
    from hexai_nvim.providers.openai import OpenAIProvider
    from hexai_nvim.surfaces.ask import build_ask_request

    path = tmp_path / "truth.toml"
    path.write_text(config(server, f"stream = false\nmax_tokens = {max_tokens}"))
    cfg = load_config(str(path), cwd=str(tmp_path),
                      env={"XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": str(tmp_path)})
    entry = cfg.entries("ask")[0]
    call = Call(model=entry.model, request=build_ask_request(prompt, entry, cfg), stream=False)
    return server.post("/v1/chat/completions",
                       OpenAIProvider(entry.provider, HttpPool()).payload(call))


def test_streamed_and_whole_entries_report_the_servers_token_counts(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    truth = server_answer(llama_server, tmp_path)
    usage = truth["usage"]
    code, (streamed, whole), stderr = hexai_ask(
        tmp_path, config(llama_server, "stream = true\nmax_tokens = 256",
                         "stream = false\nmax_tokens = 256", provider="max_concurrency = 1"))
    assert code == 0, stderr
    for item in (streamed, whole):
        assert item["error"] is None and item["stop_reason"] == "stop", item
        assert item["text"] == truth["choices"][0]["message"]["content"]
    # Whole: the server's usage, as it is.
    ws = whole["stats"]
    assert (ws["input_tokens"], ws["output_tokens"]) == (usage["prompt_tokens"],
                                                         usage["completion_tokens"])
    assert (ws["input_source"], ws["output_source"], ws["tokens_estimated"]) == (
        "server", "server", False)
    # Streamed: llama-cpp-python sends no usage in streams; one piece per token.
    ss = streamed["stats"]
    assert ss["output_source"] == "chunks" and ss["tokens_estimated"] is True
    assert abs(ss["output_tokens"] - usage["completion_tokens"]) <= 0.1 * usage["completion_tokens"]
    assert abs(ss["input_tokens"] - usage["prompt_tokens"]) <= 0.5 * usage["prompt_tokens"]
    assert ss["tokens_per_s"] and ws["tokens_per_s"]


def test_an_answer_cut_by_max_tokens_says_length(llama_server: LlamaServer,
                                                 tmp_path: Path) -> None:
    code, entries, stderr = hexai_ask(
        tmp_path, config(llama_server, "stream = true\nmax_tokens = 8",
                         "stream = false\nmax_tokens = 8", provider="max_concurrency = 1"),
        "Write a long story about a dragon.")
    assert code == 0, stderr  # a length stop is an answer, and says so
    for item in entries:
        assert item["stop_reason"] == "length" and item["finish_reason"] == "length", item
        assert item["error"] is None and item["text"].strip()
    assert entries[1]["stats"]["output_tokens"] == 8


def test_two_streamed_entries_on_one_server_never_show_a_cut_answer_as_done(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    # No max_concurrency: both requests reach the single-slot server at once, and
    # llama-cpp-python ends the first stream with [DONE] and no finish_reason.
    answer = server_answer(llama_server, tmp_path, max_tokens=64)
    truth = answer["choices"][0]["message"]["content"]
    code, entries, _ = hexai_ask(
        tmp_path, config(llama_server, "stream = true\nmax_tokens = 64\nlabel = \"a\"",
                         "stream = true\nmax_tokens = 64\nlabel = \"b\""))
    for item in entries:
        if item["stop_reason"] in ("stop", "length"):
            assert item["error"] is None and item["text"] == truth, item
        else:
            assert item["stop_reason"] == "cut" and item["error"] is not None, item
            assert code == 1
    # The cut entry was asked again once the server was free: both answered in full.
    assert code == 0
    assert [e["stop_reason"] for e in entries] == ["stop", "stop"], entries
    assert sum(e["stats"]["retries"] for e in entries) == 1
