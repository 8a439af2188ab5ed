"""The engine with the real provider clients against the simulator (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from types import MappingProxyType
from typing import Any

import pytest

from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine
from hexai_nvim.engine.events import ChunkEvent, DoneEvent, ErrorEvent, StartEvent
from hexai_nvim.providers.base import ErrorKind, Message, Request
from hexai_nvim.sim import SimState, key_digest, reply_text
from hexai_nvim.sim.thread import SimThread

PROMPT = "say hi"
REQUEST = Request(messages=(Message("system", "be brief"), Message("user", PROMPT)), max_tokens=64)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=10.0)) as running:
        yield running


@pytest.fixture
def state(sim: SimThread) -> SimState:
    sim.state.reset()
    return sim.state


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def provider(name: str, kind: str, base_url: str, **kw: Any) -> ProviderSpec:
    return ProviderSpec(name=name, kind=kind, base_url=base_url, **kw)


def entry(spec: ProviderSpec, model: str, index: int, *, timeout_ms: int = 5000) -> Entry:
    return Entry(
        surface="ask",
        index=index,
        provider=spec,
        model=model,
        temperature=0.2,
        label=f"{spec.name}:{model.split('+')[0]}",
        max_tokens=64,
        timeout_ms=timeout_ms,
        stream=True,
    )


def config(entries: Sequence[Entry], **engine: Any) -> Config:
    return Config(
        general=General(),
        completion=CompletionSettings(),
        engine=EngineSettings(**engine),
        providers=MappingProxyType({e.provider.name: e.provider for e in entries}),
        models=MappingProxyType({"ask": tuple(entries)}),
    )


def leftover_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_answer_401_stall_and_refused_in_one_fan_out(sim: SimThread, state: SimState) -> None:
    oai = provider("oai", "openai", f"{sim.url}/v1", api_key_env=("SIM_KEY",), max_concurrency=4)
    local = provider("local", "ollama", sim.url)
    gone = provider("gone", "openai-compatible", f"http://127.0.0.1:{closed_port()}/v1")
    entries = [
        entry(local, "alpha", 0),
        entry(oai, "beta+status=401", 1),
        entry(oai, "gamma+fault=stall", 2, timeout_ms=300),
        entry(gone, "delta", 3),
    ]
    engine = Engine(config(entries), env={"SIM_KEY": "sk-sim-secret-0001"})
    fan = engine.fan_out(entries, REQUEST)
    events = [event async for event in fan]
    answer, unauthorized, stalled, refused = await fan.wait()
    await engine.close()

    assert answer.ok and not answer.truncated
    assert answer.text == reply_text("alpha", PROMPT)
    assert answer.text and answer.stats.status == "ok"
    assert answer.stats.tokens_estimated is False  # Ollama reports its counts
    assert answer.stats.bytes_sent > 0 and answer.stats.bytes_received > 0

    assert unauthorized.error is not None and unauthorized.error.kind is ErrorKind.AUTH
    assert unauthorized.error.status == 401
    assert stalled.error is not None and stalled.error.kind is ErrorKind.TIMEOUT
    assert refused.error is not None and refused.error.kind is ErrorKind.UNREACHABLE
    labels = [r.entry.label for r in (unauthorized, stalled, refused)]
    assert labels == ["oai:beta", "oai:gamma", "gone:delta"]

    # Every entry started and ended exactly once; the answer streamed in pieces.
    for index in range(4):
        mine = [e for e in events if e.index == index]
        assert isinstance(mine[0], StartEvent)
        assert sum(isinstance(e, (DoneEvent, ErrorEvent)) for e in mine) == 1
    assert "".join(e.text for e in events if isinstance(e, ChunkEvent) and e.index == 0) == (
        answer.text
    )
    # The key went to the simulator (as a digest) and nowhere in the results.
    beta = state.requests_for("beta+status=401")
    assert beta and beta[0].key_digest == key_digest("sk-sim-secret-0001")
    assert all("sk-sim-secret" not in repr(r) for r in (answer, unauthorized, stalled, refused))
    assert await state.async_wait_for(lambda s: s.disconnects >= 1)  # the stall was closed
    assert not leftover_tasks()


async def test_cancel_closes_every_connection(sim: SimThread, state: SimState) -> None:
    spec = provider("sim", "openai-compatible", f"{sim.url}/v1")
    anth = provider("anth", "anthropic", f"{sim.url}/v1", api_key_env=("K",))
    entries = [entry(spec, f"s{i}+fault=stall", i) for i in range(3)]
    entries.append(entry(anth, "s3+fault=stall", 3))
    engine = Engine(config(entries), env={"K": "anthropic-test-key"})
    fan = engine.fan_out(entries, REQUEST)
    assert await state.async_wait_for(lambda s: s.active == 4)
    fan.cancel()
    results = await fan.wait()
    assert [r.error.kind if r.error else None for r in results] == [ErrorKind.CANCELLED] * 4
    assert await state.async_wait_for(lambda s: s.disconnects == 4 and s.active == 0)
    await engine.close()
    assert not leftover_tasks()


async def test_cancel_one_entry_closes_only_its_connection(sim: SimThread, state: SimState) -> None:
    spec = provider("sim", "openai-compatible", f"{sim.url}/v1")
    entries = [entry(spec, "stuck+fault=stall", 0), entry(spec, "fine+ttft=100", 1)]
    engine = Engine(config(entries))
    fan = engine.fan_out(entries, REQUEST)
    assert await state.async_wait_for(lambda s: s.active == 2)
    fan.cancel(0)
    assert await state.async_wait_for(lambda s: s.disconnects == 1)
    stuck, fine = await fan.wait()
    await engine.close()
    assert stuck.error is not None and stuck.error.kind is ErrorKind.CANCELLED
    assert fine.ok and fine.text
    assert state.disconnects == 1
    # The simulator marks a request finished once its write returns, which can be
    # just after the client has read the answer's end: wait for the mark.
    assert await state.async_wait_for(lambda s: s.requests_for("fine")[0].finished)
    assert state.disconnects == 1


async def test_rate_limit_is_retried_after_retry_after(sim: SimThread, state: SimState) -> None:
    spec = provider("sim", "openai-compatible", f"{sim.url}/v1")
    entries = [entry(spec, "busy+fail_first=1+status=429+retry_after=0.05", 0)]
    engine = Engine(config(entries))
    (result,) = await engine.fan_out(entries, REQUEST).wait()
    await engine.close()
    assert result.ok and result.stats.retries == 1
    assert len(state.requests_for("busy")) == 2


async def test_sequential_fan_outs_reuse_keep_alive_connections(
    sim: SimThread, state: SimState
) -> None:
    spec = provider("sim", "openai-compatible", f"{sim.url}/v1")
    entries = [entry(spec, "one", 0)]
    engine = Engine(config(entries))
    for _ in range(5):
        (result,) = await engine.fan_out(entries, REQUEST).wait()
        assert result.ok
    await engine.close()
    ports = {r.client_port for r in state.requests_for("one")}
    assert len(state.requests_for("one")) == 5
    assert len(ports) == 1  # one pooled connection served all five


async def test_truncated_stream_keeps_text(sim: SimThread, state: SimState) -> None:
    spec = provider("sim", "openai-compatible", f"{sim.url}/v1")
    entries = [entry(spec, "drip+fault=drip+tps=50+tokens=40", 0, timeout_ms=250)]
    engine = Engine(config(entries))
    (result,) = await engine.fan_out(entries, REQUEST).wait()
    await engine.close()
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert result.truncated and result.text
    assert reply_text("drip", PROMPT, tokens=40).startswith(result.text)
    assert result.stats.status == "truncated"


async def test_a_token_in_configured_headers_never_reaches_the_result(
    sim: SimThread, state: SimState
) -> None:
    # No api_key: the user authenticates with a header of their own, and the
    # server echoes the token back in its error (echo_key), as careless ones do.
    token = "tok-hdr-0123456789abcdefSECRET"
    corp = provider(
        "corp",
        "openai-compatible",
        f"{sim.url}/v1",
        headers=MappingProxyType({"Authorization": f"Bearer {token}"}),
    )
    entries = [entry(corp, "m+status=401+echo_key", 0)]
    engine = Engine(config(entries), env={})
    (result,) = await engine.fan_out(entries, REQUEST).wait()
    await engine.close()
    assert state.requests[0].headers["Authorization"] == "Bearer ***"  # sent (masked here)
    assert result.error is not None and result.error.kind is ErrorKind.AUTH
    assert "key received" in result.error.message  # the echo is there, scrubbed
    assert token not in result.error.message and token[:10] not in result.error.message
