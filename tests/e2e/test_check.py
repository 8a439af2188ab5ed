""":HexaiConfigCheck and :checkhealth hexai end to end (the simulator and a dead port)."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession

SECRET = "sk-e2e-SECRET-0123456789abcdWXYZ"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_config(sim_url: str) -> str:
    return f"""
[provider]
name = "openai"

[openai]
base_url = "{sim_url}/v1"
model = "checkok"

[providers.dead]
kind = "openai-compatible"
base_url = "http://127.0.0.1:{free_port()}/v1"

[models]
completion = "checkok"
code_action = "checkok"

[[models.ask]]
provider = "openai"
model = "checkok"

[[models.ask]]
provider = "dead"
model = "nothing"
"""


def session(tmp_path: Path, manifest: Path, sim: Any) -> NvimSession:
    nvim = NvimSession(tmp_path, manifest, env={"OPENAI_API_KEY": SECRET})
    nvim.write_config(check_config(sim.url))
    nvim.setup()
    return nvim


def buffer_text(nvim: NvimSession, name: str) -> list[str]:
    return list(nvim.lua(
        "local b = vim.fn.bufnr(...)\nreturn vim.api.nvim_buf_get_lines(b, 0, -1, false)", name))


def test_config_check_shows_ok_and_error_lines_and_no_key_material(
    tmp_path: Path, manifest: Path, sim: Any
) -> None:
    nvim = session(tmp_path, manifest, sim)
    try:
        nvim.nvim.command("HexaiConfigCheck")
        nvim.wait_for(lambda: nvim.lua("return require('hexai.check').state().done"),
                      timeout=30, what="check finished")
        lines = buffer_text(nvim, "hexai://config-check")
        verdicts = [line for line in lines[2:] if line and not line.startswith("## ")]
        assert verdicts and all(re.match(r"^(OK|WARN|ERROR) ", line) for line in verdicts), verdicts
        text = "\n".join(lines)
        assert f"read {nvim.config_file} (global)" in text
        assert re.search(r"^OK +ask\[0\] openai:checkok", text, re.M)
        assert re.search(r"^OK +ask\[1\] dead:nothing", text, re.M)
        assert re.search(r"^OK +openai: key found \(\*\*\*\*WXYZ\) from env:OPENAI_API_KEY",
                         text, re.M)
        assert re.search(r"^OK +openai:checkok: reachable", text, re.M)
        assert re.search(r"^OK +openai:checkok: one-token round trip \d", text, re.M)
        assert re.search(r"^ERROR +dead:nothing: unreachable: cannot connect to 127\.0\.0\.1", text,
                         re.M)
        assert re.search(r"^ERROR +\d+ error\(s\)", text, re.M)  # the summary
        # No key material at all: not the key, not a long piece of it.
        assert SECRET not in text and SECRET[:10] not in text and SECRET[8:20] not in text
        # The probe really went to the simulator with the key.
        assert sim.state.requests_for("checkok")
    finally:
        nvim.close()


def test_checkhealth_runs_without_lua_errors(tmp_path: Path, manifest: Path, sim: Any) -> None:
    nvim = session(tmp_path, manifest, sim)
    try:
        nvim.nvim.command("checkhealth hexai")
        text = "\n".join(nvim.lua(
            "for _, b in ipairs(vim.api.nvim_list_bufs()) do\n"
            "  if vim.bo[b].filetype == 'checkhealth' then\n"
            "    return vim.api.nvim_buf_get_lines(b, 0, -1, false)\n"
            "  end\n"
            "end\nreturn {}"))
        assert "Failed to run healthcheck" not in text and "E5108" not in text, text
        assert "stack traceback" not in text
        assert "Neovim 0.11" in text
        assert "python3 provider:" in text
        assert "remote plugin registered" in text
        assert re.search(r"pynvim \d", text) and re.search(r"aiohttp \d", text)
        assert "openai:checkok: one-token round trip" in text
        assert "dead:nothing: unreachable" in text
        assert SECRET not in text and SECRET[:10] not in text
        # The summary counts the errors shown, and is not one more of them.
        counted = re.search(r"(\d+) error\(s\)", text)
        assert counted and int(counted.group(1)) == text.count("ERROR") - 1, text
        assert not re.search(r"❌.*error\(s\)", text)
    finally:
        nvim.close()


def test_checkhealth_names_the_fix_when_the_plugin_is_not_registered(
    tmp_path: Path, sim: Any
) -> None:
    nvim = NvimSession(tmp_path, tmp_path / "missing-manifest.vim")
    try:
        nvim.lua("require('hexai').setup({})")
        nvim.nvim.command("checkhealth hexai")
        text = "\n".join(nvim.lua(
            "for _, b in ipairs(vim.api.nvim_list_bufs()) do\n"
            "  if vim.bo[b].filetype == 'checkhealth' then\n"
            "    return vim.api.nvim_buf_get_lines(b, 0, -1, false)\n"
            "  end\n"
            "end\nreturn {}"))
        assert "Failed to run healthcheck" not in text
        assert "remote plugin not registered" in text and ":HexaiBuild" in text
        assert "pip install hexai-nvim" not in text
    finally:
        nvim.close()
