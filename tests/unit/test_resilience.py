"""Retries with back-off, the per-provider circuit breaker and per-entry fallbacks
(hexai 0.42.4 and its newest commits), through the real provider clients and
aiohttp against the simulator on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
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
from hexai_nvim.engine.events import DoneEvent, ErrorEvent, FallbackEvent
from hexai_nvim.providers.base import ErrorKind, Message, Request
from hexai_nvim.resilience import CircuitBreaker, is_retryable, retry_delay
from hexai_nvim.sim import SimState
from hexai_nvim.sim.thread import SimThread
from hexai_nvim.stats import StatsStore
from hexai_nvim.surfaces.format import format_result
from tests.unit.config_fixtures import load

REQUEST = Request(messages=(Message("user", "say hi"),), max_tokens=32)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=10.0)) as running:
        yield running


@pytest.fixture
def state(sim: SimThread) -> SimState:
    sim.state.reset()
    return sim.state


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def entry(spec: ProviderSpec, model: str, *, fallback: Entry | None = None,
          timeout_ms: int = 5000) -> Entry:
    return Entry(
        surface="completion", index=0, provider=spec, model=model, temperature=0.2,
        label=f"{spec.name}:{model.split('+')[0]}", max_tokens=32, timeout_ms=timeout_ms,
        stream=True, fallback=fallback,
    )


def make_config(entries: Sequence[Entry], **engine: Any) -> Config:
    specs = {e.provider.name: e.provider for e in entries}
    specs.update({e.fallback.provider.name: e.fallback.provider for e in entries if e.fallback})
    return Config(
        general=General(), completion=CompletionSettings(),
        engine=EngineSettings(**engine), providers=MappingProxyType(specs),
        models=MappingProxyType({"completion": tuple(entries)}),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- retry rules


def test_which_failures_are_retried_and_how_long_we_wait() -> None:
    for status in (429, 500, 502, 503, 504):
        assert is_retryable(ErrorKind.SERVER, status, streamed=False)
    assert not is_retryable(ErrorKind.SERVER, 503, streamed=True)  # text was shown
    assert not is_retryable(ErrorKind.AUTH, 401, streamed=False)
    assert not is_retryable(ErrorKind.BAD_RESPONSE, 400, streamed=False)
    assert is_retryable(ErrorKind.UNREACHABLE, None, streamed=False)
    assert [retry_delay(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]  # exponential
    assert retry_delay(20) == 8.0  # capped
    assert retry_delay(1, retry_after=3.0) == 3.0  # the server's Retry-After wins


# --------------------------------------------------------------------------- breaker (clock)


def test_breaker_opens_after_n_failures_in_the_window_then_lets_one_trial_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, window_s=60, cooldown_s=30, clock=clock)
    for _ in range(2):
        assert breaker.skip_reason("openai") is None
        breaker.record("openai", ErrorKind.SERVER)
    assert breaker.skip_reason("openai") is None  # 2 failures: still closed
    breaker.record("openai", ErrorKind.SERVER)
    clock.now += 6
    reason = breaker.skip_reason("openai")
    assert reason == "openai failed 3 times in 60 s; next try in 24 s"
    assert breaker.skip_reason("ollama") is None  # per provider
    clock.now += 24  # the cooldown has passed: one trial, the others still wait
    assert breaker.skip_reason("openai") is None
    assert breaker.skip_reason("openai") is not None
    breaker.record("openai", ErrorKind.SERVER)  # the trial failed: open again
    assert breaker.is_open("openai")
    clock.now += 30
    assert breaker.skip_reason("openai") is None
    breaker.record("openai", None)  # the trial answered: closed, counting from zero
    assert not breaker.is_open("openai")
    breaker.record("openai", ErrorKind.SERVER)
    assert breaker.skip_reason("openai") is None


def test_breaker_forgets_failures_older_than_the_window_and_ignores_non_provider_errors() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, window_s=60, cooldown_s=30, clock=clock)
    breaker.record("p", ErrorKind.SERVER)
    breaker.record("p", ErrorKind.UNREACHABLE)
    clock.now += 61
    breaker.record("p", ErrorKind.TIMEOUT)
    assert breaker.skip_reason("p") is None  # only one failure inside the window
    for kind in (ErrorKind.CANCELLED, ErrorKind.AUTH, ErrorKind.CONFIG, ErrorKind.NOT_FOUND):
        breaker.record("p", kind)
    breaker.record("p", ErrorKind.TIMEOUT, started=False)  # waited for a slot only
    assert breaker.skip_reason("p") is None
    off = CircuitBreaker(0, window_s=60, cooldown_s=30, clock=clock)
    for _ in range(10):
        off.record("p", ErrorKind.SERVER)
    assert off.skip_reason("p") is None


# --------------------------------------------------------------------------- breaker (HTTP)


async def test_a_failing_provider_is_skipped_without_a_request_then_tried_again(
    state: SimState, sim: SimThread, tmp_path: Path
) -> None:
    spec = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
    down = entry(spec, "down+status=500")
    clock = Clock()
    store = StatsStore(tmp_path / "stats.jsonl", 60)
    engine = Engine(make_config([down], retries=0, breaker_failures=3,
                                breaker_window_ms=60_000, breaker_cooldown_ms=30_000),
                    stats=store)
    engine._breaker._clock = clock  # the cooldown passes without waiting for it
    try:
        for _ in range(3):
            (result,) = await engine.fan_out([down], REQUEST).wait()
            assert result.error is not None and result.error.kind is ErrorKind.SERVER
        assert len(state.requests_for("down+status=500")) == 3
        (skipped,) = await engine.fan_out([down], REQUEST).wait()
        assert skipped.error is not None and skipped.error.kind is ErrorKind.SKIPPED
        assert skipped.error.label() == "skipped: cloud failed 3 times in 60 s; next try in 30 s"
        assert len(state.requests_for("down+status=500")) == 3  # nothing was sent
        assert skipped.stats.bytes_sent == 0
        clock.now += 30
        (trial,) = await engine.fan_out([down], REQUEST).wait()
        assert trial.error is not None and trial.error.kind is ErrorKind.SERVER
        assert len(state.requests_for("down+status=500")) == 4  # the window passed: tried
    finally:
        await engine.close()
    kinds = [r.error_kind for r in store.read()]
    assert kinds == ["server", "server", "server", "skipped", "server"]


async def test_an_answer_closes_the_breaker(state: SimState, sim: SimThread) -> None:
    spec = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
    flaky = entry(spec, "flaky+status=503+fail_first=2")
    engine = Engine(make_config([flaky], retries=0, breaker_failures=2))
    clock = Clock()
    engine._breaker._clock = clock
    try:
        for _ in range(2):
            await engine.fan_out([flaky], REQUEST).wait()
        (skipped,) = await engine.fan_out([flaky], REQUEST).wait()
        assert skipped.error is not None and skipped.error.kind is ErrorKind.SKIPPED
        clock.now += 31
        (trial,) = await engine.fan_out([flaky], REQUEST).wait()
        assert trial.ok
        (again,) = await engine.fan_out([flaky], REQUEST).wait()
        assert again.ok and len(state.requests_for("flaky+status=503+fail_first=2")) == 4
    finally:
        await engine.close()


async def test_retries_back_off_on_500_within_the_deadline(state: SimState, sim: SimThread) -> None:
    spec = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
    flaky = entry(spec, "flaky+status=500+fail_first=2")
    engine = Engine(make_config([flaky], retries=2))
    try:
        (result,) = await engine.fan_out([flaky], REQUEST).wait()
    finally:
        await engine.close()
    assert result.ok and result.stats.retries == 2
    assert len(state.requests_for("flaky+status=500+fail_first=2")) == 3
    assert "2 retries" in format_result(result)


# --------------------------------------------------------------------------- fallback


@pytest.mark.parametrize("failure", ["500", "unreachable"])
async def test_the_fallback_answers_when_the_primary_fails_labelled(
    state: SimState, sim: SimThread, tmp_path: Path, failure: str
) -> None:
    local = ProviderSpec(name="local", kind="ollama", base_url=sim.url)
    if failure == "500":
        cloud = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
        primary_model = "big+status=500"
    else:
        cloud = ProviderSpec(name="cloud", kind="openai-compatible",
                             base_url=f"http://127.0.0.1:{closed_port()}/v1")
        primary_model = "big"
    backup = entry(local, "small")
    primary = entry(cloud, primary_model, fallback=backup)
    store = StatsStore(tmp_path / "stats.jsonl", 60)
    engine = Engine(make_config([primary], retries=0), stats=store)
    try:
        fan = engine.fan_out([primary], REQUEST)
        events = [event async for event in fan]
    finally:
        await engine.close()
    (announce,) = [e for e in events if isinstance(e, FallbackEvent)]
    assert announce.label == "cloud:big → local:small (fallback)"
    kind = ErrorKind.SERVER if failure == "500" else ErrorKind.UNREACHABLE
    assert announce.error.kind is kind
    (done,) = [e for e in events if isinstance(e, DoneEvent)]
    result = done.result
    assert result.ok and result.text
    assert result.entry.key == "local:small" and result.fallback_of == primary
    assert result.first_error is not None and result.first_error.kind is kind
    assert result.label == "cloud:big → local:small (fallback)"
    assert f"fallback after {kind.value}" in format_result(result)
    assert len(state.requests_for("small")) == 1
    (record,) = store.read()
    assert (record.provider, record.model, record.fallback_of) == ("local", "small", primary.key)


async def test_the_fallback_runs_once_and_within_the_entrys_deadline(
    state: SimState, sim: SimThread
) -> None:
    cloud = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
    backup = entry(cloud, "also+status=500")
    primary = entry(cloud, "first+status=500", fallback=backup)
    engine = Engine(make_config([primary], retries=0, breaker_failures=0))
    try:
        (result,) = await engine.fan_out([primary], REQUEST).wait()
        assert result.error is not None and result.error.kind is ErrorKind.SERVER
        assert result.label == "cloud:first → cloud:also (fallback)"
        assert len(state.requests_for("also+status=500")) == 1  # once, never a chain
        # A primary that used up the deadline leaves no time for its fallback.
        slow = entry(cloud, "slow+ttft=2000", fallback=entry(cloud, "quick"), timeout_ms=300)
        (late,) = await engine.fan_out([slow], REQUEST).wait()
        assert late.error is not None and late.error.kind is ErrorKind.TIMEOUT
        assert late.fallback_of is None and not state.requests_for("quick")
    finally:
        await engine.close()


async def test_a_skipped_provider_goes_straight_to_the_fallback(
    state: SimState, sim: SimThread
) -> None:
    cloud = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
    local = ProviderSpec(name="local", kind="ollama", base_url=sim.url)
    primary = entry(cloud, "gone+status=502", fallback=entry(local, "here"))
    engine = Engine(make_config([primary], retries=0, breaker_failures=1))
    try:
        await engine.fan_out([primary], REQUEST).wait()  # fails, falls back, opens
        events = [e async for e in engine.fan_out([primary], REQUEST)]
    finally:
        await engine.close()
    (announce,) = [e for e in events if isinstance(e, FallbackEvent)]
    assert announce.error.kind is ErrorKind.SKIPPED
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    assert len(state.requests_for("gone+status=502")) == 1  # the second never went out
    assert len(state.requests_for("here")) == 2


async def test_text_already_shown_is_never_replaced_by_a_fallback(
    state: SimState, sim: SimThread
) -> None:
    cloud = ProviderSpec(name="cloud", kind="openai-compatible", base_url=f"{sim.url}/v1")
    primary = entry(cloud, "half+fault=truncate", fallback=entry(cloud, "other"))
    engine = Engine(make_config([primary], retries=0))
    try:
        (result,) = await engine.fan_out([primary], REQUEST).wait()
    finally:
        await engine.close()
    assert result.fallback_of is None and not state.requests_for("other")


def test_config_fallback_keys_reach_the_engine(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[models.completion]]\nprovider = "openai"\nmodel = "gpt-4.1"\n'
        'fallback_provider = "ollama"\nfallback_model = "qwen2.5-coder:7b"\n'
        "[engine]\nbreaker_failures = 5\nbreaker_window_ms = 1000\nbreaker_cooldown_ms = 2000\n",
    )
    (first,) = config.entries("completion")
    assert first.fallback is not None
    assert replace(first.fallback, index=0).key == "ollama:qwen2.5-coder:7b"
    engine = Engine(config)
    assert (engine._breaker.failures, engine._breaker.window_s, engine._breaker.cooldown_s) == (
        5, 1.0, 2.0,
    )
