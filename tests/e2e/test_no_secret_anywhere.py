"""No configured secret leaves the process, on any channel, even when servers echo them.

One run with failing entries (a 401 that echoes every credential it received, a
500 that does the same, an unreachable server), then every output channel is
collected: the terminal (``hexai ask`` text, JSON, Markdown and blind, ``hexai
config show/check/diff``), the stats files, the log file, and in a real Neovim
the :HexaiConfigCheck buffer, :checkhealth hexai, :messages, the ask view, the
:HexaiAskExport file and the ghost lines. None may hold a byte-exact secret,
nor any 6-character slice of one.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.harness import REPO, NvimSession
from tests.e2e.loopback import LoopbackServer

ENV_KEY = "sk-LEAKenv-q7Zr9XwP2mK4vB8n"
CMD_KEY = "sk-LEAKcmd-T5yU3iO1pA6sD9fG"
TOKEN = "tok-LEAKhdr-H2jK4lZ6xC8vB0nM"
HEADER_KEY = "hk-LEAKauth-Q1wE3rT5yU7iO9pA"
PASSWORD = "pw-LEAKurl-R4tY6uI8oP0aS2dF"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
SECRETS = (ENV_KEY, CMD_KEY, TOKEN, HEADER_KEY, PASSWORD, BASIC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EchoServer(LoopbackServer):
    """A loopback server that fails every request and echoes every credential it got."""

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.received.append(dict(request.headers))
        echoed = "; ".join(
            f"{name}: {request.headers[name]}"
            for name in ("Authorization", "X-Proxy-Token", "x-api-key")
            if name in request.headers
        )
        status = 401 if request.path.startswith("/leaky") else 500
        message = f"Incorrect API key provided: {echoed}"
        body: dict[str, Any] = {"error": {"message": message, "type": "invalid_request_error"}}
        if status == 500:
            body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return web.json_response(body, status=status)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def config_text(port: int, dead: int, token: str = TOKEN) -> str:
    models = ""
    for surface in ("completion", "ask"):
        for name in ("leaky", "cmdkey", "dead"):
            models += f'[[models.{surface}]]\nprovider = "{name}"\nmodel = "m"\nlabel = "{name}"\n'
    return (
        f'[providers.leaky]\nkind = "openai"\nbase_url = "http://127.0.0.1:{port}/leaky/v1"\n'
        f'api_key_env = ["LEAK_KEY"]\nheaders = {{ X-Proxy-Token = "{token}" }}\n'
        # Anthropic sends its key as x-api-key: the URL's password goes as Basic auth.
        f'[providers.cmdkey]\nkind = "anthropic"\n'
        f'base_url = "http://alice:{PASSWORD}@127.0.0.1:{port}/broken/v1"\n'
        f'api_key_cmd = "printf %s {CMD_KEY}"\n'
        f'[providers.dead]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:{dead}/v1"\n'
        f'headers = {{ Authorization = "Bearer {HEADER_KEY}" }}\n'
        f'[[models.code_action]]\nprovider = "leaky"\nmodel = "m"\n' + models
    )


def leaks(channel: str, text: str) -> list[str]:
    found = []
    for secret in SECRETS:
        for i in range(len(secret) - 5):
            if secret[i : i + 6] in text:
                found.append(f"{channel}: {secret[i:i + 6]!r} of {secret[:4]}…")
                break
    return found


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hexai_nvim", *args], capture_output=True, text=True,
        env=env, cwd=str(REPO), timeout=60, check=False,
    )
    return done.stdout + done.stderr


def test_no_secret_on_any_channel(tmp_path: Path, manifest: Path, echo: EchoServer) -> None:
    dead = free_port()
    channels: dict[str, str] = {}

    # -- the terminal ------------------------------------------------------
    config = tmp_path / "config.toml"
    config.write_text(config_text(echo.port, dead))
    rotated = tmp_path / "rotated.toml"
    rotated.write_text(config_text(echo.port, dead, token="tok-ROTATED-0000aaaa1111bbbb"))
    cache = tmp_path / "cli-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXAI_", "OPENAI_"))}
    env.update(LEAK_KEY=ENV_KEY, XDG_CACHE_HOME=str(cache), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), PYTHONPATH=str(REPO))
    channels["hexai ask"] = cli(["ask", "--config", str(config), "say hi"], env)
    channels["hexai ask --json"] = cli(["ask", "--config", str(config), "--json", "say hi"], env)
    channels["hexai ask --markdown"] = cli(["ask", "--config", str(config), "--markdown",
                                            "say hi"], env)
    channels["hexai ask --blind"] = cli(["ask", "--config", str(config), "--blind", "say hi"],
                                        env)
    for command in (["show"], ["show", "--json"], ["check"], ["check", "--json"]):
        channels[f"hexai config {' '.join(command)}"] = cli(
            ["config", *command, "--config", str(config)], env)
    channels["hexai config diff"] = cli(["config", "diff", str(config), str(rotated)], env)
    assert "X-Proxy-Token: changed" in channels["hexai config diff"]
    stats = list(cache.glob("hexai/*.jsonl"))
    assert stats, "the CLI wrote no stats"
    channels["stats (cli)"] = "".join(p.read_text() for p in stats)
    # The run really failed as intended, and the servers really got the secrets.
    assert "auth" in channels["hexai ask"] and "server" in channels["hexai ask"]
    assert "unreachable" in channels["hexai ask"]
    assert any(ENV_KEY in h.get("Authorization", "") for h in echo.received)
    assert any(h.get("x-api-key") == CMD_KEY for h in echo.received)
    assert any(h.get("X-Proxy-Token") == TOKEN for h in echo.received)
    assert any(BASIC in h.get("Authorization", "") for h in echo.received)

    # -- Neovim --------------------------------------------------------------
    root = tmp_path / "nvim"
    root.mkdir()
    nvim = NvimSession(root, manifest, env={"LEAK_KEY": ENV_KEY})
    nvim.write_config(config_text(echo.port, dead))
    try:
        nvim.setup()
        nvim.nvim.command("HexaiAsk say hi")

        def ask_done() -> Any:
            st = nvim.lua("return require('hexai.ask').state()")
            return st and all(s["status"] not in ("pending", "streaming") for s in st["sections"])

        nvim.wait_for(ask_done, timeout=30, what="the ask entries")
        channels["ask view"] = "\n".join(nvim.lua(
            "local out = {}\n"
            "for _, b in ipairs(vim.api.nvim_list_bufs()) do\n"
            "  if vim.api.nvim_buf_is_loaded(b) then\n"
            "    vim.list_extend(out, vim.api.nvim_buf_get_lines(b, 0, -1, false))\n"
            "  end\n"
            "end\nreturn out"))
        channels["ask state"] = json.dumps(nvim.lua("return require('hexai.ask').state()"),
                                           default=str)
        assert "Incorrect API key provided" in channels["ask view"]
        export = root / "export.md"
        nvim.nvim.command(f"HexaiAskExport {export}")
        nvim.wait_for(export.exists, timeout=10, what="the export file")
        channels[":HexaiAskExport"] = export.read_text()
        assert "Incorrect API key provided" in channels[":HexaiAskExport"]

        sample = root / "sample.py"
        sample.write_text("def add(a, b):\n    \n")
        nvim.nvim.command(f"edit {sample}")
        nvim.nvim.command("normal! 2G$")
        nvim.nvim.input("Areturn ")

        def ghost_done() -> Any:
            snap = nvim.lua("return require('hexai.ghost').snapshot()")
            if not snap:
                return None
            raw = snap["entries"]
            entries = list(raw.values()) if isinstance(raw, dict) else list(raw)
            return len(entries) == 3 and all(e["status"] != "pending" for e in entries) and snap

        snapshot = nvim.wait_for(ghost_done, timeout=30, what="the completion entries")
        channels["ghost lines"] = str(nvim.extmarks("hexai.ghost")) + json.dumps(
            snapshot, default=str)
        nvim.nvim.input("<Esc>")

        nvim.nvim.command("HexaiConfigCheck")
        nvim.wait_for(lambda: nvim.lua("return require('hexai.check').state().done"),
                      timeout=30, what="the check")
        channels[":HexaiConfigCheck"] = "\n".join(nvim.lua(
            "local b = vim.fn.bufnr('hexai://config-check')\n"
            "return vim.api.nvim_buf_get_lines(b, 0, -1, false)"))
        assert "Incorrect API key provided" in channels[":HexaiConfigCheck"]
        nvim.nvim.command("checkhealth hexai")
        channels[":checkhealth hexai"] = "\n".join(nvim.lua(
            "for _, b in ipairs(vim.api.nvim_list_bufs()) do\n"
            "  if vim.bo[b].filetype == 'checkhealth' then\n"
            "    return vim.api.nvim_buf_get_lines(b, 0, -1, false)\n"
            "  end\n"
            "end\nreturn {}"))
        assert "hexai: summary" in channels[":checkhealth hexai"]
        channels[":messages"] = nvim.messages()
        log = Path(nvim.lua("return require('hexai').log_file()"))
        channels["hexai.log"] = log.read_text() if log.exists() else ""
        assert channels["hexai.log"], "the host wrote no log"
        nvim_stats = list((root / "cache").glob("hexai/*.jsonl"))
        channels["stats (nvim)"] = "".join(p.read_text() for p in nvim_stats)
        assert channels["stats (nvim)"]
    finally:
        nvim.close()

    found = [leak for name, text in channels.items() for leak in leaks(name, text)]
    assert found == [], "\n".join(found)
