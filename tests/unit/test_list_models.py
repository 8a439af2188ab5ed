"""``Provider.list_models`` and ``Engine.list_models``: the check's model list goes
through the provider layer and the engine, with the engine's key policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    General,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine
from hexai_nvim.providers import make_provider
from hexai_nvim.providers.base import ErrorKind, Provider, lists_models
from hexai_nvim.sim import SimState
from hexai_nvim.sim.thread import SimThread

KEY = "sk-list-0123456789abcdef"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(["alpha", "beta"], cap_s=5.0)) as running:
        yield running


def config_of(*specs: ProviderSpec) -> Config:
    return Config(general=General(), completion=CompletionSettings(), engine=EngineSettings(),
                  providers={s.name: s for s in specs}, models={})


@pytest.mark.parametrize(
    ("kind", "path"),
    [("openai", "/v1"), ("openrouter", "/v1"), ("openai-compatible", "/v1"),
     ("anthropic", "/v1"), ("ollama", "")],
)
async def test_every_provider_lists_the_server_s_models(
    sim: SimThread, kind: str, path: str
) -> None:
    spec = ProviderSpec(name="p", kind=kind, base_url=sim.url + path, api_key_env=("K",))
    engine = Engine(config_of(spec), env={"K": KEY})
    try:
        listing = await engine.list_models(spec)
    finally:
        await engine.close()
    assert listing.error is None and listing.supported
    assert listing.names is not None and {"alpha", "beta"} <= set(listing.names)
    assert listing.http_status == 200


def test_the_built_in_wire_formats_declare_a_model_list() -> None:
    from hexai_nvim.providers.http import HttpPool

    for kind in ("openai", "anthropic", "ollama"):
        spec = ProviderSpec(name="p", kind=kind, base_url="http://127.0.0.1:9")
        assert lists_models(make_provider(spec, HttpPool()))
    assert not lists_models(Provider())


class Recorder:
    """A loopback server that records the headers of each request it receives."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.seen: list[dict[str, str]] = []
        self.status = status
        self.body = body if body is not None else {"data": [{"id": "m"}]}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.any)
        return app

    async def any(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        return web.json_response(self.body, status=self.status)


async def test_a_refusal_is_a_scrubbed_auth_error_with_its_status(aiohttp_server: Any) -> None:
    recorder = Recorder(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    server = await aiohttp_server(recorder.app())
    spec = ProviderSpec(name="p", kind="openai", base_url=f"http://127.0.0.1:{server.port}/v1",
                        api_key_env=("K",))
    engine = Engine(config_of(spec), env={"K": KEY})
    try:
        listing = await engine.list_models(spec)
    finally:
        await engine.close()
    assert listing.error is not None and listing.error.kind is ErrorKind.AUTH
    assert listing.http_status == 401
    assert KEY not in listing.error.message and KEY[:6] not in listing.error.message
    assert recorder.seen[0]["Authorization"] == f"Bearer {KEY}"


async def test_a_withheld_key_is_never_sent_to_list_models(aiohttp_server: Any) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app())
    base = f"http://127.0.0.1:{server.port}"
    why = "providers.p.base_url is set by the project file"
    cloud = ProviderSpec(name="p", kind="openai", base_url=f"{base}/v1", api_key_env=("K",),
                         key_withheld=why)
    local = ProviderSpec(name="q", kind="ollama", base_url=base, api_key_env=("K",),
                         key_withheld=why)
    engine = Engine(config_of(cloud, local), env={"K": KEY})
    try:
        refused = await engine.list_models(cloud)
        keyless = await engine.list_models(local)
    finally:
        await engine.close()
    # A provider that needs its key is not asked at all; a keyless one is asked without it.
    assert refused.error is not None and refused.error.kind is ErrorKind.CONFIG
    assert why in refused.error.message
    assert len(recorder.seen) == 1
    assert all(KEY not in value for value in recorder.seen[0].values())
    assert keyless.error is not None  # the recorder's answer is not an Ollama list
