"""The config check: static report (files, problems, entries, masked keys) and live probes."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aiohttp import web

from hexai_nvim.config.keys import KeyInfo
from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    ConfigError,
    EngineSettings,
    Entry,
    General,
    Problem,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine
from hexai_nvim.surfaces.check import (
    ERROR,
    OK,
    WARN,
    CheckLine,
    ProbeResult,
    key_statuses,
    probe_all,
    probe_targets,
    static_report,
    summary,
)

SECRET = "sk-test-0123456789abcdefWXYZ"


def spec(name: str, kind: str, base_url: str, **kw: Any) -> ProviderSpec:
    return ProviderSpec(name=name, kind=kind, base_url=base_url, **kw)


def entry(surface: str, index: int, provider: ProviderSpec, model: str) -> Entry:
    return Entry(surface=surface, index=index, provider=provider, model=model, temperature=0.2,
                 label=f"{provider.name}:{model}", max_tokens=100, timeout_ms=5000, stream=True)


def make_config(models: Mapping[str, tuple[Entry, ...]], **kw: Any) -> Config:
    providers = {e.provider.name: e.provider for es in models.values() for e in es}
    return Config(
        general=General(), completion=CompletionSettings(), engine=EngineSettings(),
        providers=MappingProxyType(providers), models=MappingProxyType(dict(models)), **kw,
    )


OPENAI = spec("openai", "openai", "http://127.0.0.1:9/v1",
              api_key_env=("HEXAI_OPENAI_API_KEY", "OPENAI_API_KEY"))
OLLAMA = spec("ollama", "ollama", "http://127.0.0.1:9")


def texts(lines: list[CheckLine], level: str | None = None) -> list[str]:
    return [line.text for line in lines if level is None or line.level == level]


# -- static report -------------------------------------------------------------


def test_report_lists_files_layers_entries_in_order_and_masks_keys() -> None:
    config = make_config(
        {"completion": (entry("completion", 0, OPENAI, "gpt-a"),
                        entry("completion", 1, OLLAMA, "q")),
         "ask": (entry("ask", 0, OLLAMA, "q"),),
         "code_action": ()},
        files=("/home/u/.config/hexai/config.toml", "/proj/.hexaiconfig.toml"),
        sources=MappingProxyType({"general.max_tokens": "global", "models.ask": "project",
                                  "provider.name": "default"}),
        warnings=("unknown key general.foo",),
    )
    keys, values = key_statuses(config, {"OPENAI_API_KEY": SECRET})
    assert values == {"openai": SECRET, "ollama": None}
    lines = static_report(config, None, keys, global_path="/home/u/.config/hexai/config.toml")
    all_text = "\n".join(texts(lines))
    assert SECRET not in all_text and SECRET[-8:] not in all_text
    assert "read /home/u/.config/hexai/config.toml (global)" in all_text
    assert "read /proj/.hexaiconfig.toml (project)" in all_text
    assert ("layers in effect, lowest first: default (1 key), global (1 key), project (1 key)"
            in all_text)
    assert "unknown key general.foo" in texts(lines, WARN)
    entries = [t for t in texts(lines) if t.startswith(("completion[", "ask[", "code_action"))]
    assert entries[0].startswith("completion[0] openai:gpt-a (primary)")
    assert entries[1].startswith("completion[1] ollama:q")
    assert entries[2].startswith("ask[0] ollama:q")
    assert "code_action: no entries" in texts(lines, WARN)
    assert "openai: key found (****WXYZ) from env:OPENAI_API_KEY" in texts(lines, OK)
    assert any(t.startswith("ollama: no key") for t in texts(lines, OK))
    assert {line.level for line in lines} <= {OK, WARN, ERROR}


def test_missing_required_key_is_an_error_naming_the_variables() -> None:
    config = make_config({"ask": (entry("ask", 0, OPENAI, "m"),)})
    keys, _ = key_statuses(config, {})
    lines = static_report(config, None, keys)
    assert texts(lines, ERROR) == [
        "openai: no API key found: set HEXAI_OPENAI_API_KEY or OPENAI_API_KEY"
    ]


def test_problems_are_listed_with_paths_and_the_last_good_config_is_named() -> None:
    config = make_config({"ask": (entry("ask", 0, OLLAMA, "m"),)})
    error = ConfigError([Problem("general.max_tokens", "expected an integer", file="/c.toml",
                                 line=3)], warnings=("w1",), files=("/c.toml",))
    lines = static_report(config, error, [])
    errors = texts(lines, ERROR)
    assert errors[0].startswith("the configuration has 1 problem; the last good")
    assert "/c.toml:3: general.max_tokens: expected an integer" in errors
    assert "w1" in texts(lines, WARN)
    assert "read /c.toml (global)" in texts(lines, OK)


def test_invalid_custom_code_actions_are_warnings() -> None:
    config = make_config({"ask": ()}, prompts=MappingProxyType(
        {"code_action": {"custom": [{"id": "x", "title": "X"}]}}))
    warnings = texts(static_report(config, None, []), WARN)
    assert any("prompts.code_action.custom[0]" in w and "requires instruction or user" in w
               for w in warnings)


def test_a_failing_key_command_is_an_error_without_output() -> None:
    config = make_config({"ask": (entry("ask", 0, OPENAI, "m"),)})

    def resolver(spec: ProviderSpec, env: Mapping[str, str] | None) -> KeyInfo:
        return KeyInfo(None, "cmd failed: exit status 1")

    keys, _ = key_statuses(config, {}, resolver)
    assert texts(static_report(config, None, keys), ERROR) == [
        "openai: no key: api_key_cmd cmd failed: exit status 1"
    ]


def test_targets_are_distinct_provider_models_with_their_users() -> None:
    config = make_config({
        "completion": (entry("completion", 0, OLLAMA, "q"),),
        "ask": (entry("ask", 0, OLLAMA, "q"), entry("ask", 1, OPENAI, "g")),
    })
    targets = probe_targets(config)
    assert [(t.name, t.used_by) for t in targets] == [
        ("ollama:q", ("completion[0]", "ask[0]")), ("openai:g", ("ask[1]",)),
    ]


def test_summary_counts_levels() -> None:
    assert summary([CheckLine(OK, "a"), CheckLine(WARN, "b")]).level == WARN
    assert summary([CheckLine(ERROR, "a"), CheckLine(WARN, "b")]).text == (
        "1 error(s), 1 warning(s) in all sections")
    assert summary([CheckLine(OK, "a")]).level == OK


# -- live probe ------------------------------------------------------------------


KEY_ENV = ("OPENAI_API_KEY",)


async def probe(
    config: Config, env: Mapping[str, str], timeout_s: float, **kw: Any
) -> list[ProbeResult]:
    """The probe as the host runs it: through an engine of its own, no stats."""
    engine = Engine(config, env=env)
    try:
        return await probe_all(probe_targets(config), engine, timeout_s=timeout_s, **kw)
    finally:
        await engine.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Fake:
    """An OpenAI- and Ollama-style server with the behaviours a probe meets."""

    def __init__(self) -> None:
        self.auth: list[str | None] = []
        self.bodies: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/api/tags", self.tags)
        app.router.add_post("/api/chat", self.ollama_chat)
        app.router.add_get("/slow/v1/models", self.slow)
        app.router.add_get("/locked/v1/models", self.locked)
        app.router.add_post("/locked/v1/chat/completions", self.locked)
        return app

    async def models(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization"))
        return web.json_response({"data": [{"id": "gpt-ok"}, {"id": "other"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            chunk = {"choices": [{"index": 0, "delta": {"content": "OK"}, "finish_reason": None}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
            await resp.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            await resp.write_eof()
            return resp
        return web.json_response({"choices": [{"message": {"content": "OK"},
                                               "finish_reason": "length"}]})

    async def tags(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": "qwen:latest", "model": "qwen:latest"}]})

    async def ollama_chat(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(
            text=json.dumps({"message": {"content": "OK"}, "done": True, "eval_count": 1}) + "\n",
            content_type="application/x-ndjson",
        )

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    async def locked(self, request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "bad key"}}, status=401)


async def test_probe_reports_reachable_listed_and_round_trip(aiohttp_server: Any) -> None:
    fake = Fake()
    server = await aiohttp_server(fake.app())
    base = f"http://127.0.0.1:{server.port}"
    openai = spec("openai", "openai", f"{base}/v1", api_key_env=KEY_ENV)
    ollama = spec("ollama", "ollama", base)
    config = make_config({"ask": (entry("ask", 0, openai, "gpt-ok"),
                                  entry("ask", 1, ollama, "qwen"),
                                  entry("ask", 2, openai, "gpt-missing"))})
    arrived: list[str] = []
    results = await probe(config, {"OPENAI_API_KEY": SECRET}, 5,
                          on_result=lambda r: arrived.append(r.target.name))
    assert sorted(arrived) == sorted(["openai:gpt-ok", "ollama:qwen", "openai:gpt-missing"])
    first, second, third = results
    assert [line.level for line in first.lines] == [OK, OK, OK]
    assert "reachable" in first.lines[0].text and "model listed" in first.lines[1].text
    assert "one-token round trip" in first.lines[2].text
    assert [line.level for line in second.lines] == [OK, OK, OK]  # qwen matched qwen:latest
    assert third.lines[1].level == WARN and "not in the server's list" in third.lines[1].text
    assert fake.auth[0] == f"Bearer {SECRET}"
    assert all(body.get("max_tokens", body.get("options", {}).get("num_predict")) == 1
               for body in fake.bodies)
    assert all(SECRET not in line.text for r in results for line in r.lines)


async def test_unreachable_and_refused_entries_are_errors(aiohttp_server: Any) -> None:
    fake = Fake()
    server = await aiohttp_server(fake.app())
    dead = spec("dead", "openai-compatible", f"http://127.0.0.1:{free_port()}/v1")
    locked = spec("locked", "openai", f"http://127.0.0.1:{server.port}/locked/v1",
                  api_key_env=KEY_ENV)
    config = make_config({"ask": (entry("ask", 0, dead, "m"), entry("ask", 1, locked, "m"))})
    results = await probe(config, {"OPENAI_API_KEY": SECRET}, 5)
    dead_lines, locked_lines = results[0].lines, results[1].lines
    assert len(dead_lines) == 1 and dead_lines[0].level == ERROR
    assert "unreachable: cannot connect to 127.0.0.1" in dead_lines[0].text
    assert locked_lines[0].level == OK  # it answered, so it is reachable
    assert any(line.level == ERROR and "refused (HTTP 401)" in line.text for line in locked_lines)
    assert any(line.level == ERROR and "round trip failed: auth (HTTP 401): bad key" in line.text
               for line in locked_lines)


async def test_one_overall_timeout_bounds_the_whole_probe(aiohttp_server: Any) -> None:
    fake = Fake()
    server = await aiohttp_server(fake.app())
    base = f"http://127.0.0.1:{server.port}"
    slow = spec("slow", "openai-compatible", f"{base}/slow/v1")
    fast = spec("fast", "openai-compatible", f"{base}/v1")
    config = make_config({"ask": (entry("ask", 0, slow, "m"), entry("ask", 1, fast, "gpt-ok"))})
    started = time.monotonic()
    results = await probe(config, {}, 0.5)
    assert time.monotonic() - started < 3
    assert results[0].lines[-1].level == ERROR
    assert results[0].lines[-1].text == "slow:m: no answer within 0.5 s (listing models)"
    assert [line.level for line in results[1].lines] == [OK, OK, OK]


async def test_credentials_in_a_base_url_never_show(aiohttp_server: Any) -> None:
    password, token, query_key = "pw-Secret-4242", "tok-Secret-1717", "qk-Secret-9090"
    fake = Fake()
    server = await aiohttp_server(fake.app())
    # /nolist/v1/models is a 404: the WARN line names the URL it tried.
    proxy = spec("proxy", "openai-compatible",
                 f"http://alice:{password}@127.0.0.1:{server.port}/nolist/v1")
    dead = spec("dead", "openai-compatible",
                f"http://{token}@127.0.0.1:{free_port()}/v1?key={query_key}")
    config = make_config({"completion": (entry("completion", 0, proxy, "m"),),
                          "ask": (entry("ask", 0, dead, "m"),), "code_action": ()})
    lines = static_report(config, None, [])
    results = await probe(config, {}, 5)
    lines += [line for r in results for line in r.lines]
    shown = "\n".join(texts(lines))
    for secret in (password, token, query_key):
        assert secret not in shown
    # Still says where: user and host stay, the secrets are masked.
    assert f"http://alice:****@127.0.0.1:{server.port}/nolist/v1" in shown
    assert "the server does not list models (HTTP 404)" in shown
    assert "cannot connect to 127.0.0.1" in shown
