"""The trust rule, end to end through the engine: a project-chosen address never
receives a user credential, from any source, on any surface or the check; the
user's own address receives each of them.

Two real loopback servers record every request: USER (the address the user's
layers give) and PROJECT (the address a hostile ``.hexaiconfig.toml`` sets).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hexai_nvim.config import load_config
from hexai_nvim.config.keys import clear_key_cache
from hexai_nvim.config.model import SURFACES, Config
from hexai_nvim.engine.core import Engine
from hexai_nvim.providers.base import ErrorKind, Message, Request
from hexai_nvim.surfaces.check import OK, WARN, probe_all, probe_targets

ENV_KEY = "sk-envkey-0123456789abcdefQRST"
CMD_KEY = "sk-cmdkey-9876543210fedcbaUVWX"
HEADER_TOKEN = "tok-header-55aa55aa55aa55aaYZ"
EDITOR_TOKEN = "tok-editor-1234abcd5678efgh"
PASSWORD = "pw-url-0f0f0f0f0f0f0f0fAB"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
PROJECT_HEADER = "project-own-value-123"
REQUEST = Request(messages=(Message("user", "hi"),), max_tokens=4)


@dataclass
class Recorder:
    """An OpenAI-style server that records the path and headers of every request."""

    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.answer)
        return app

    async def answer(self, request: web.Request) -> web.Response:
        self.seen.append((f"{request.method} {request.path}", dict(request.headers)))
        if request.method == "GET":
            return web.json_response({"data": [{"id": "m"}]})
        return web.json_response(
            {"choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
        )

    def received(self, secret: str) -> bool:
        return any(secret in value for _path, headers in self.seen for value in headers.values())

    def paths(self) -> list[str]:
        return [path for path, _headers in self.seen]


@dataclass(frozen=True)
class Source:
    """One way a user credential is configured, and how it shows on the wire."""

    name: str
    #: The user's provider table (global file), ``{url}`` replaced.
    provider: str
    #: What the server receives when the credential is sent.
    wire: str
    env: Mapping[str, str] = field(default_factory=dict)
    editor: Mapping[str, Any] | None = None


SOURCES = [
    Source("api_key_env", 'kind = "openai"\nbase_url = "{url}"\napi_key_env = ["CORP_KEY"]\n',
           ENV_KEY, env={"CORP_KEY": ENV_KEY}),
    Source("api_key_cmd",
           f'kind = "openai"\nbase_url = "{{url}}"\napi_key_cmd = "printf %s {CMD_KEY}"\n',
           CMD_KEY),
    Source("header value", 'kind = "openai-compatible"\nbase_url = "{url}"\n'
           f'headers = {{ X-Proxy-Token = "{HEADER_TOKEN}" }}\n', HEADER_TOKEN),
    Source("editor header", 'kind = "openai-compatible"\nbase_url = "{url}"\n', EDITOR_TOKEN,
           editor={"providers": {"corp": {
               "headers": {"Authorization": f"Bearer {EDITOR_TOKEN}"}}}}),
    Source("url password", 'kind = "openai-compatible"\nbase_url = "{userinfo_url}"\n', BASIC),
]


def write_config(tmp_path: Path, source: Source, user: str, project: str | None) -> Config:
    clear_key_cache()
    userinfo = user.replace("http://", f"http://alice:{PASSWORD}@")
    models = "".join(f'[[models.{s}]]\nprovider = "corp"\nmodel = "m"\n' for s in SURFACES)
    table = source.provider.replace("{url}", user).replace("{userinfo_url}", userinfo)
    global_file = tmp_path / "global.toml"
    global_file.write_text(f"[providers.corp]\n{table}\n{models}")
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    if project is not None:
        (root / ".hexaiconfig.toml").write_text(
            f'[providers.corp]\nbase_url = "{project}"\n'
            f'headers = {{ X-Project = "{PROJECT_HEADER}" }}\n'
        )
    return load_config(str(global_file), cwd=str(root), env=dict(source.env),
                       editor=source.editor)


async def run_everything(config: Config, env: Mapping[str, str]) -> dict[str, Any]:
    """Every surface's entries, then the check's listing and round trip."""
    engine = Engine(config, env=env)
    outcome: dict[str, Any] = {}
    try:
        await engine.warm_up(config.entries("completion"))
        for surface in SURFACES:
            (result,) = await engine.fan_out(config.entries(surface), REQUEST).wait()
            outcome[surface] = result
        outcome["check"] = await probe_all(probe_targets(config), engine, timeout_s=5)
    finally:
        await engine.close()
    return outcome


@pytest.fixture
async def servers(aiohttp_server: Any) -> tuple[Recorder, str, Recorder, str]:
    user, project = Recorder(), Recorder()
    user_server = await aiohttp_server(user.app())
    project_server = await aiohttp_server(project.app())
    return (user, f"http://127.0.0.1:{user_server.port}/v1",
            project, f"http://127.0.0.1:{project_server.port}/v1")


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
async def test_the_user_s_own_address_receives_the_credential(
    tmp_path: Path, servers: tuple[Recorder, str, Recorder, str], source: Source
) -> None:
    user, user_url, _project, _project_url = servers
    config = write_config(tmp_path, source, user_url, None)
    outcome = await run_everything(config, source.env)
    assert all(outcome[s].ok for s in SURFACES), [outcome[s].error for s in SURFACES]
    # completion, chat, cli, code action (hexai's four surfaces), then the
    # check's listing and round trip
    assert user.paths() == ["POST /v1/chat/completions"] * len(SURFACES) + [
        "GET /v1/models", "POST /v1/chat/completions"]
    for _path, headers in user.seen:
        assert any(source.wire in value for value in headers.values()), headers


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
@pytest.mark.parametrize("move", ["host", "path", "port"])
async def test_a_project_chosen_address_receives_no_user_credential(
    tmp_path: Path, servers: tuple[Recorder, str, Recorder, str], source: Source, move: str
) -> None:
    user, user_url, project, project_url = servers
    if move == "path":  # the user's own server, another path
        project_url = user_url.replace("/v1", "/other/v1")
    elif move == "port":
        project_url = project_url  # same host, the project server's port
    else:
        project_url = project_url.replace("127.0.0.1", "localhost")
    config = write_config(tmp_path, source, user_url, project_url)
    spec = config.providers["corp"]
    if source.name != "url password":
        assert "set by the project file" in spec.key_withheld
        assert any("not sent to" in w for w in config.warnings)
    # (A password in the user's base_url cannot travel: the project's URL
    # replaces the whole string; the servers below show it.)
    outcome = await run_everything(config, source.env)
    for recorder in (user, project):
        assert not recorder.received(source.wire), recorder.seen
        for secret in (ENV_KEY, CMD_KEY, HEADER_TOKEN, EDITOR_TOKEN, PASSWORD, BASIC):
            assert not recorder.received(secret)
    # The project's own header still goes to the project's address.
    sent = [headers for _path, headers in (user.seen + project.seen)]
    assert all(h.get("X-Project") == PROJECT_HEADER for h in sent)
    check_lines = [line for r in outcome["check"] for line in r.lines]
    if source.name in ("api_key_env", "api_key_cmd"):
        # A provider that needs its key fails, labelled, before sending anything.
        for surface in SURFACES:
            error = outcome[surface].error
            assert error is not None and error.kind is ErrorKind.CONFIG
            assert "set by the project file" in error.message
            assert "to trust it" in error.message
        assert sent == []
        assert [line.level for line in check_lines] == [WARN]
        assert "to trust it" in check_lines[0].text
    else:
        # Keyless servers keep working: the request goes out without the credential.
        assert all(outcome[s].ok for s in SURFACES)
        assert len(sent) == len(SURFACES) + 2  # every surface, the listing, the round trip
        assert {line.level for line in check_lines} == {OK}


async def test_the_same_address_written_by_the_project_is_still_trusted(
    tmp_path: Path, servers: tuple[Recorder, str, Recorder, str]
) -> None:
    user, user_url, _project, _project_url = servers
    source = SOURCES[0]
    config = write_config(tmp_path, source, user_url, user_url + "/")
    assert config.providers["corp"].key_withheld == ""
    outcome = await run_everything(config, source.env)
    assert outcome["chat"].ok and outcome["cli"].ok
    assert user.received(ENV_KEY)


def test_a_project_may_not_choose_an_address_through_a_user_header(tmp_path: Path) -> None:
    """A header the project adds is sent; the user's is kept back (and known)."""
    source = SOURCES[2]
    config = write_config(tmp_path, source, "http://127.0.0.1:9/v1", "http://127.0.0.1:8/v1")
    spec = config.providers["corp"]
    assert dict(spec.headers) == {"X-Project": PROJECT_HEADER}
    assert dict(spec.withheld_headers) == {"X-Proxy-Token": HEADER_TOKEN}
    assert "header X-Proxy-Token is not sent to http://127.0.0.1:8/v1" in spec.key_withheld
    assert HEADER_TOKEN not in spec.key_withheld
