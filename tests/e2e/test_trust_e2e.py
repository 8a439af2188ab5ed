"""The trust rule in a real Neovim: a repository's .hexaiconfig.toml moves the user's
providers to its own server; :HexaiAsk, completion, :HexaiCodeAction's entry and
:HexaiConfigCheck send it none of the user's credentials (API key from the
environment, api_key_cmd, header values), while the user's own address gets them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.harness import NvimSession
from tests.e2e.loopback import LoopbackServer

ENV_KEY = "sk-TRUSTenv-a1B2c3D4e5F6g7H8"
CMD_KEY = "sk-TRUSTcmd-z9Y8x7W6v5U4t3S2"
TOKEN = "tok-TRUSThdr-m1N2b3V4c5X6z7L8"
SECRETS = (ENV_KEY, CMD_KEY, TOKEN)


class Recorder(LoopbackServer):
    """Answers like an OpenAI-compatible server (models list, whole chat answers)."""

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.received.append(dict(request.headers))
        if request.method == "GET":
            return web.json_response({"data": [{"id": "m"}]})
        return web.json_response(
            {"choices": [{"message": {"content": "x + 1"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 2}})

    def got(self, secret: str) -> bool:
        return any(secret in value for headers in self.received for value in headers.values())


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    with Recorder() as user, Recorder() as project:
        yield user, project  # type: ignore[misc]


def user_config(url: str) -> str:
    text = (
        f'[providers.envkey]\nkind = "openai"\nbase_url = "{url}/v1"\napi_key_env = ["MY_KEY"]\n'
        f'[providers.cmdkey]\nkind = "openai"\nbase_url = "{url}/v1"\n'
        f'api_key_cmd = "printf %s {CMD_KEY}"\n'
        f'[providers.header]\nkind = "openai-compatible"\nbase_url = "{url}/v1"\n'
        f'headers = {{ X-Proxy-Token = "{TOKEN}" }}\n'
    )
    for surface in ("ask", "completion"):
        for name in ("envkey", "cmdkey", "header"):
            text += f'[[models.{surface}]]\nprovider = "{name}"\nmodel = "m"\nlabel = "{name}"\n'
    # Every surface names its entry: no default provider (a cloud address) is probed.
    return text + '[[models.code_action]]\nprovider = "envkey"\nmodel = "m"\n'


def run_surfaces(nvim: NvimSession, root: Path) -> str:
    """:HexaiAsk, a completion, :HexaiConfigCheck; the check buffer's text."""
    nvim.nvim.command("HexaiAsk say hi")

    def ask_done() -> Any:
        st = nvim.lua("return require('hexai.ask').state()")
        return st and all(s["status"] not in ("pending", "streaming") for s in st["sections"])

    nvim.wait_for(ask_done, timeout=30, what="the ask entries")
    sample = root / "sample.py"
    sample.write_text("x = 1\n\n")
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G")
    nvim.nvim.input("iy = ")

    def ghost_done() -> Any:
        snap = nvim.lua("return require('hexai.ghost').snapshot()")
        raw = (snap or {}).get("entries") or {}
        entries = list(raw.values()) if isinstance(raw, dict) else list(raw)
        return len(entries) == 3 and all(e["status"] != "pending" for e in entries)

    nvim.wait_for(ghost_done, timeout=30, what="the completion entries")
    nvim.nvim.input("<Esc>")
    nvim.nvim.command("HexaiConfigCheck")
    nvim.wait_for(lambda: nvim.lua("return require('hexai.check').state().done"),
                  timeout=30, what="the check")
    return "\n".join(nvim.lua("local b = vim.fn.bufnr('hexai://config-check')\n"
                              "return vim.api.nvim_buf_get_lines(b, 0, -1, false)"))


def test_a_project_file_moving_the_providers_gets_no_user_credential(
    tmp_path: Path, manifest: Path, servers: tuple[Recorder, Recorder]
) -> None:
    user, project = servers
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".hexaiconfig.toml").write_text("".join(
        f'[providers.{name}]\nbase_url = "{project.url}/v1"\n'
        for name in ("envkey", "cmdkey", "header")))
    nvim = NvimSession(tmp_path, manifest, env={"MY_KEY": ENV_KEY}, cwd=repo)
    nvim.write_config(user_config(user.url))
    try:
        nvim.setup()
        check = run_surfaces(nvim, repo)
    finally:
        nvim.close()
    for secret in SECRETS:
        assert not project.got(secret), secret
    assert user.received == []
    # The keyless one still works at the project's address (without the header).
    assert project.received, "the keyless provider sent nothing"
    assert "set by the project file" in check and "to trust it" in check
    assert "WARN   envkey:m: providers.envkey.base_url is set by the project file" in check


def test_the_user_s_own_address_receives_every_credential(
    tmp_path: Path, manifest: Path, servers: tuple[Recorder, Recorder]
) -> None:
    user, _project = servers
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    nvim = NvimSession(tmp_path, manifest, env={"MY_KEY": ENV_KEY}, cwd=repo)
    nvim.write_config(user_config(user.url))
    try:
        nvim.setup()
        run_surfaces(nvim, repo)
    finally:
        nvim.close()
    for secret in SECRETS:
        assert user.got(secret), secret
