"""Failures become ProviderError values with a kind, the server's message, and no key."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from hexai_nvim.config.model import ProviderSpec
from hexai_nvim.providers import HttpPool, make_provider
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Finish,
    Message,
    ProviderError,
    ProviderEvent,
    Request,
    StopReason,
    TextDelta,
)
from hexai_nvim.providers.http import (
    error_for_status,
    kind_for_status,
    parse_retry_after,
    provider_message,
)
from hexai_nvim.secrets import scrub
from hexai_nvim.sim import SimState, create_app, reply_text

KEY = "sk-live-SECRET-0123456789abcdefXYZ"
PROMPT = "hello"
KINDS = ["openai", "openrouter", "anthropic", "ollama"]

ServerFactory = Callable[..., Awaitable[Any]]


@dataclass
class Sim:
    state: SimState
    url: str


@pytest.fixture
async def sim(aiohttp_server: ServerFactory) -> Sim:
    state = SimState()
    server = await aiohttp_server(create_app(state))
    return Sim(state, str(server.make_url("/")).rstrip("/"))


@pytest.fixture
async def http() -> AsyncIterator[HttpPool]:
    pool = HttpPool()
    yield pool
    await pool.close()


def spec(kind: str, base_url: str) -> ProviderSpec:
    return ProviderSpec(name=kind, kind=kind, base_url=base_url)


def url_for(sim: Sim, kind: str) -> str:
    return sim.url if kind == "ollama" else f"{sim.url}/v1"


def make_call(model: str, *, stream: bool = True, timeout: float = 5.0) -> Call:
    request = Request(messages=(Message("user", PROMPT),))
    return Call(model=model, request=request, stream=stream, api_key=KEY, connect_timeout_s=timeout)


async def fail(
    http: HttpPool, provider_spec: ProviderSpec, call: Call
) -> tuple[ProviderError, list[ProviderEvent]]:
    events: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as info:
        async for event in make_provider(provider_spec, http).stream(call):
            events.append(event)
    error = info.value
    assert KEY not in error.message and KEY not in str(error)
    return error, events


def text_of(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# ---------------------------------------------------------------------------
# HTTP statuses, with each provider's own error body
# ---------------------------------------------------------------------------

STATUSES = [
    ("401", ErrorKind.AUTH, None),
    ("403", ErrorKind.AUTH, None),
    ("404", ErrorKind.NOT_FOUND, None),
    ("429+retry_after=7", ErrorKind.RATE_LIMITED, 7.0),
    ("500", ErrorKind.SERVER, None),
    ("503+retry_after=2.5", ErrorKind.SERVER, 2.5),
    ("400", ErrorKind.BAD_RESPONSE, None),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(("status", "kind", "retry_after"), STATUSES)
@pytest.mark.parametrize("provider_kind", KINDS)
async def test_http_status_becomes_error_kind_with_the_providers_message(
    sim: Sim,
    http: HttpPool,
    provider_kind: str,
    status: str,
    kind: ErrorKind,
    retry_after: float | None,
    stream: bool,
) -> None:
    call = make_call(f"m+status={status}+echo_key", stream=stream)
    error, events = await fail(http, spec(provider_kind, url_for(sim, provider_kind)), call)
    code = int(status.split("+")[0])
    assert (error.kind, error.status, error.retry_after) == (kind, code, retry_after)
    assert events == []
    # The message is the one of the provider's JSON error body, which echoed
    # the key: it must have been scrubbed.
    assert error.message.endswith("(key received: [redacted])")
    assert call.transfer.status == code
    assert call.transfer.bytes_received > 0


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}},
            401,
            "Incorrect API key",
        ),
        (
            {"type": "error", "error": {"type": "not_found_error", "message": "model: x"}},
            404,
            "model: x",
        ),
        ({"error": "model 'x' not found"}, 404, "model 'x' not found"),
        ({"detail": "Not Found"}, 404, "Not Found"),
    ],
)
def test_error_message_comes_from_each_body_shape(
    body: dict[str, Any], status: int, message: str
) -> None:
    error = error_for_status(status, "X", json.dumps(body).encode(), {}, None)
    assert error.message == message
    assert error.kind is kind_for_status(status)


def test_error_without_json_says_the_status() -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    error = error_for_status(502, "Bad Gateway", html, {}, None)
    assert (error.kind, error.message) == (ErrorKind.SERVER, "HTTP 502 Bad Gateway")
    plain = error_for_status(500, None, b"upstream exploded", {}, None)
    assert plain.message == "HTTP 500: upstream exploded"


def test_control_characters_of_a_server_message_are_dropped() -> None:
    body = {"error": {"message": "bad\u001b[2J\u001b]0;owned\u0007 request\u009b"}}
    error = error_for_status(400, None, json.dumps(body).encode(), {}, None)
    assert error.message == "bad[2J]0;owned request"
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in error.message)


def test_status_kinds() -> None:
    assert [
        kind_for_status(s).value for s in (401, 402, 403, 404, 408, 429, 500, 503, 529, 422)
    ] == [
        "auth",
        "auth",
        "auth",
        "not_found",
        "timeout",
        "rate_limited",
        "server",
        "server",
        "server",
        "bad_response",
    ]


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert parse_retry_after({"Retry-After": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after({"Retry-After": date}, now=1445412470.0) == 10.0
    assert parse_retry_after({"Retry-After": date}, now=1445412490.0) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_scrub_removes_whole_and_shortened_keys() -> None:
    # (One scrubber for the process: hexai_nvim.secrets; this pins its use here.)
    assert scrub(f"bad key {KEY}!", KEY) == "bad key [redacted]!"
    assert scrub(f"bad key {KEY[:14]}...{KEY[-4:]} here", KEY) == "bad key [redacted] here"
    assert scrub("nothing here", None) == "nothing here"
    assert scrub("a b c", "b") == "a b c"  # too short to be a key


def test_provider_message_shapes() -> None:
    assert provider_message({"error": {"type": "overloaded_error"}}) == "overloaded_error"
    assert provider_message({"message": "m"}) == "m"
    assert provider_message(["not", "a", "dict"]) is None


# ---------------------------------------------------------------------------
# Transport failures
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("provider_kind", KINDS)
async def test_refused_port_is_unreachable(http: HttpPool, provider_kind: str) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    error, _ = await fail(http, spec(provider_kind, base), make_call("m"))
    assert error.kind is ErrorKind.UNREACHABLE
    assert "Connection refused" in error.message
    assert error.status is None


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: a connect there hangs (SYNs dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
        pytest.skip("this kernel accepts connections beyond the backlog")
    except (TimeoutError, OSError):
        pass
    finally:
        probe.close()
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def test_connect_timeout_is_timeout(http: HttpPool, full_backlog: int) -> None:
    base = f"http://127.0.0.1:{full_backlog}/v1"
    loop = asyncio.get_running_loop()
    started = loop.time()
    error, _ = await fail(http, spec("openai", base), make_call("m", timeout=0.2))
    assert error.kind is ErrorKind.TIMEOUT
    assert "0.2s" in error.message
    assert loop.time() - started < 3.0


async def test_unknown_host_is_unreachable(http: HttpPool, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def no_such_host(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "no-such-host.test":  # answered here: no resolver is asked
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    error, _ = await fail(http, spec("anthropic", "http://no-such-host.test/v1"), make_call("m"))
    assert error.kind is ErrorKind.UNREACHABLE
    assert "no-such-host.test" in error.message


async def test_a_connection_dropped_before_the_answer_is_tried_once_more(
    aiohttp_server: ServerFactory, http: HttpPool
) -> None:
    attempts: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        attempts.append(1)
        if len(attempts) == 1:  # as a server closing an idle keep-alive connection
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return web.json_response({"choices": [{"message": {"content": "ok"}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(app)
    provider = make_provider(spec("openai", str(server.make_url("/v1"))), http)
    events = [e async for e in provider.stream(make_call("m"))]
    assert text_of(events) == "ok"
    assert len(attempts) == 2


async def test_a_server_that_never_answers_is_bad_response(
    aiohttp_server: ServerFactory, http: HttpPool
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(app)
    error, _ = await fail(http, spec("openai", str(server.make_url("/v1"))), make_call("m"))
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "without answering" in error.message


async def test_invalid_base_url_is_a_config_error(http: HttpPool) -> None:
    error, _ = await fail(http, spec("openai", "ftp://example.invalid/v1"), make_call("m"))
    assert error.kind is ErrorKind.CONFIG


async def test_redirect_is_reported_not_followed(
    aiohttp_server: ServerFactory, http: HttpPool
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.1:1/elsewhere")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", redirect)
    server = await aiohttp_server(app)
    error, _ = await fail(http, spec("openai", str(server.make_url("/v1"))), make_call("m"))
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "redirect" in error.message and "elsewhere" in error.message


# ---------------------------------------------------------------------------
# Broken answers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("fault", ["malformed", "truncate", "disconnect"])
@pytest.mark.parametrize("provider_kind", KINDS)
async def test_broken_answers_are_bad_response(
    sim: Sim, http: HttpPool, provider_kind: str, fault: str, stream: bool
) -> None:
    call = make_call(f"m+fault={fault}", stream=stream)
    if stream and fault == "truncate":
        # A stream that simply stops is no transport failure: its Finish says cut
        # (the engine makes that a failure, tests/unit/test_stop_reason.py).
        events = [e async for e in make_provider(
            spec(provider_kind, url_for(sim, provider_kind)), http).stream(call)]
        assert events[-1] == Finish(None, StopReason.CUT)
        assert text_of(events) == reply_text("m", PROMPT, tokens=6)
        return
    error, events = await fail(http, spec(provider_kind, url_for(sim, provider_kind)), call)
    assert error.kind is ErrorKind.BAD_RESPONSE
    if stream and fault in ("truncate", "disconnect"):
        # Text that arrived before the break was delivered.
        assert text_of(events) == reply_text("m", PROMPT, tokens=6)
    if fault == "truncate":
        assert "truncated" in error.message or "malformed" in error.message


@pytest.mark.parametrize(
    ("provider_kind", "kind"),
    [("openai", ErrorKind.SERVER), ("anthropic", ErrorKind.SERVER), ("ollama", ErrorKind.SERVER)],
)
async def test_error_inside_a_stream(
    sim: Sim, http: HttpPool, provider_kind: str, kind: ErrorKind
) -> None:
    error, events = await fail(
        http, spec(provider_kind, url_for(sim, provider_kind)), make_call("m+fault=error")
    )
    assert error.kind is kind
    assert "(simulated)" in error.message
    assert text_of(events) == reply_text("m", PROMPT, tokens=6)


@pytest.mark.parametrize(
    ("provider_kind", "body", "kind"),
    [
        (
            "openai",
            {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}},
            ErrorKind.RATE_LIMITED,
        ),
        ("openrouter", {"error": {"message": "No endpoints", "code": 404}}, ErrorKind.NOT_FOUND),
        (
            "anthropic",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ErrorKind.SERVER,
        ),
        ("ollama", {"error": "llama runner process has terminated"}, ErrorKind.SERVER),
    ],
)
async def test_json_error_body_with_200_where_a_stream_was_asked(
    aiohttp_server: ServerFactory,
    http: HttpPool,
    provider_kind: str,
    body: dict[str, Any],
    kind: ErrorKind,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    base = str(server.make_url("/")).rstrip("/")
    error, events = await fail(http, spec(provider_kind, base), make_call("m", stream=True))
    assert error.kind is kind
    assert events == []
    assert error.message in json.dumps(body)


async def test_error_body_echoing_the_key_in_malformed_json_is_scrubbed(
    aiohttp_server: ServerFactory, http: HttpPool
) -> None:
    async def handler(request: web.Request) -> web.Response:
        key = request.headers["Authorization"].split()[1]
        return web.Response(text=f"data: {{broken {key}\n\n", content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(app)
    error, _ = await fail(http, spec("openai", str(server.make_url("/v1"))), make_call("m"))
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "[redacted]" in error.message and KEY[:6] not in error.message


# ---------------------------------------------------------------------------
# Cancellation closes the connection at once
# ---------------------------------------------------------------------------


async def consume(
    http: HttpPool, provider_spec: ProviderSpec, call: Call, seen: list[ProviderEvent]
) -> None:
    async for event in make_provider(provider_spec, http).stream(call):
        seen.append(event)


@pytest.mark.parametrize("fault", ["stall", "drip"])
@pytest.mark.parametrize("provider_kind", KINDS)
async def test_cancelling_closes_the_connection(
    sim: Sim, http: HttpPool, provider_kind: str, fault: str
) -> None:
    seen: list[ProviderEvent] = []
    call = make_call(f"m+fault={fault}+tps=20" if fault == "drip" else f"m+fault={fault}")
    task = asyncio.create_task(
        consume(http, spec(provider_kind, url_for(sim, provider_kind)), call, seen)
    )
    if fault == "drip":
        assert await sim.state.async_wait_for(lambda s: len(seen) > 1, 2.0)
    else:
        assert await sim.state.async_wait_for(lambda s: s.active == 1, 2.0)
        await asyncio.sleep(0.05)  # headers have been read; the body never comes
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await sim.state.async_wait_for(lambda s: s.disconnects == 1 and s.active == 0, 1.0)
    [recorded] = sim.state.requests
    assert recorded.disconnected and not recorded.finished


async def test_a_deadline_around_the_stream_closes_the_connection(sim: Sim, http: HttpPool) -> None:
    seen: list[ProviderEvent] = []
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(
            consume(http, spec("openai", f"{sim.url}/v1"), make_call("m+ttft=5000"), seen), 0.2
        )
    assert await sim.state.async_wait_for(lambda s: s.disconnects == 1, 1.0)
    assert seen == []


@pytest.mark.parametrize("provider_kind", KINDS)
async def test_cancelling_before_the_answer_starts_closes_the_connection(
    sim: Sim, http: HttpPool, provider_kind: str
) -> None:
    # Not streamed and slow: no response headers yet when the task is cancelled.
    call = make_call("m+ttft=5000", stream=False)
    task = asyncio.create_task(
        consume(http, spec(provider_kind, url_for(sim, provider_kind)), call, [])
    )
    assert await sim.state.async_wait_for(lambda s: s.active == 1, 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await sim.state.async_wait_for(lambda s: s.disconnects == 1 and s.active == 0, 1.0)
    assert call.transfer.status is None


async def test_leaving_the_iteration_early_closes_the_connection(sim: Sim, http: HttpPool) -> None:
    stream = make_provider(spec("ollama", sim.url), http).stream(make_call("m+tps=20"))
    first = await stream.__anext__()
    assert isinstance(first, TextDelta)
    await stream.aclose()  # type: ignore[attr-defined]
    assert await sim.state.async_wait_for(lambda s: s.disconnects == 1, 1.0)


async def test_pool_survives_a_cancelled_request(sim: Sim, http: HttpPool) -> None:
    task = asyncio.create_task(
        consume(http, spec("openai", f"{sim.url}/v1"), make_call("m+fault=stall"), [])
    )
    assert await sim.state.async_wait_for(lambda s: s.active == 1, 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events: list[ProviderEvent] = []
    await consume(http, spec("openai", f"{sim.url}/v1"), make_call("m"), events)
    assert text_of(events) == reply_text("m", PROMPT)


# ---------------------------------------------------------------------------
# The pool and the factory
# ---------------------------------------------------------------------------


def test_one_session_per_loop_created_lazily() -> None:
    pool = HttpPool()
    assert pool._sessions == {}  # nothing before a coroutine asks

    async def use() -> object:
        first = await pool.session()
        assert await pool.session() is first  # reused within the loop
        await first.close()  # the loop ends; its session goes with it
        return first

    async def use_and_close() -> object:
        session = await pool.session()
        # The first loop is closed now: its entry was dropped.
        assert len(pool._sessions) == 1
        await pool.close()
        assert session.closed and pool._sessions == {}
        return session

    first = asyncio.run(use())
    second = asyncio.run(use_and_close())
    assert first is not second


def test_importing_providers_does_not_import_aiohttp() -> None:
    code = (
        "import sys\n"
        "import hexai_nvim.providers, hexai_nvim.providers.openai, "
        "hexai_nvim.providers.anthropic, hexai_nvim.providers.ollama\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_make_provider_dispatches_on_kind() -> None:
    pool = HttpPool()
    kinds = {
        "openai": ("OpenAIProvider", True),
        "openai-compatible": ("OpenAIProvider", False),
        "openrouter": ("OpenAIProvider", True),
        "llamacpp": ("OpenAIProvider", False),
        "mistral": ("OpenAIProvider", True),
        "anthropic": ("AnthropicProvider", True),
        "ollama": ("OllamaProvider", False),
    }
    for kind, (name, requires_key) in kinds.items():
        provider = make_provider(spec(kind, "http://127.0.0.1:1"), pool)
        assert type(provider).__name__ == name
        assert provider.requires_key is requires_key
        assert kind in [info.name for info in provider.kinds]
    with pytest.raises(ValueError, match="unknown provider kind"):
        make_provider(spec("gemini", "http://127.0.0.1:1"), pool)


def test_proxy_is_used_for_remote_hosts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "corp.example,.skip.example")
    pool = HttpPool()
    assert pool.proxy_for("https://api.openai.com/v1/x") == "http://proxy.internal:3128"
    assert pool.proxy_for("https://127.0.0.1:8080/v1") is None
    assert pool.proxy_for("https://localhost/v1") is None
    assert pool.proxy_for("https://api.corp.example/v1") is None
    assert pool.proxy_for("https://a.skip.example/v1") is None
    assert pool.proxy_for("http://plain.example/v1") is None  # no http_proxy set


def test_the_repr_of_a_call_hides_its_key() -> None:
    call = make_call("m")
    assert KEY not in repr(call) and KEY not in str(call)
    assert "m" in repr(call)  # the rest of the call is still shown


@pytest.mark.parametrize("scheme", ["http", "ftp"])
async def test_credentials_in_a_base_url_stay_out_of_messages(http: HttpPool, scheme: str) -> None:
    # http: refused connection; ftp: an invalid URL (its message quotes the URL).
    port = free_port()
    base = f"{scheme}://alice:pw-0123456789abcdef@127.0.0.1:{port}/v1"
    # No key: aiohttp refuses URL credentials next to an Authorization header.
    call = dataclasses.replace(make_call("m"), api_key=None)
    error, _ = await fail(http, spec("ollama", base), call)
    assert error.kind is (ErrorKind.UNREACHABLE if scheme == "http" else ErrorKind.CONFIG)
    assert f"127.0.0.1:{port}" in error.message
    assert "pw-0123456789abcdef" not in error.message and "alice" not in error.message
