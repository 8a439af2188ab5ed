"""The fan-out engine against scripted fake providers (no network)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
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
from hexai_nvim.engine.events import ChunkEvent, DoneEvent, ErrorEvent, Event, StartEvent
from hexai_nvim.engine.results import EntryResult, EntryStats
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Message,
    Provider,
    ProviderError,
    ProviderEvent,
    Request,
    TextDelta,
    UsageReport,
)
from hexai_nvim.stats import StatsStore

# ---------------------------------------------------------------------------
# Fakes
# ---------------------------------------------------------------------------

# A step of a scripted answer:
#   ("text", str) | ("sleep", seconds) | ("usage", in, out) | ("stall",)
#   ("error", ErrorKind, status, retry_after) | ("raise", exception)
Step = tuple[Any, ...]


class ScriptedProvider(Provider):
    """Answers each model with a script; one script per attempt (the last repeats)."""

    kinds = ("fake",)

    def __init__(self, scripts: Mapping[str, Any], requires_key: bool) -> None:
        self.scripts = scripts
        self.requires_key = requires_key
        self.calls: list[Call] = []
        self.active = 0
        self.max_active = 0
        self.closed = 0

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        attempts = self.scripts[call.model]
        script = attempts[min(self._attempt(call.model), len(attempts) - 1)]
        self.calls.append(call)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        call.transfer.bytes_sent += 100
        try:
            for step in script:
                op = step[0]
                if op == "text":
                    call.transfer.bytes_received += len(step[1])
                    yield TextDelta(step[1])
                elif op == "sleep":
                    await asyncio.sleep(step[1])
                elif op == "usage":
                    yield UsageReport(step[1], step[2])
                elif op == "stall":
                    await asyncio.Event().wait()
                elif op == "error":
                    call.transfer.status = step[2]
                    raise ProviderError(
                        step[1], f"scripted {step[2]}", status=step[2], retry_after=step[3]
                    )
                elif op == "raise":
                    raise step[1]
            call.transfer.status = 200
        finally:
            self.active -= 1
            self.closed += 1

    def _attempt(self, model: str) -> int:
        return sum(1 for c in self.calls if c.model == model)


@dataclass
class KeyInfo:
    value: str | None
    source: str | None = None


class Keys:
    """A key resolver that counts its calls."""

    def __init__(self, keys: Mapping[str, str | None]) -> None:
        self.keys = keys
        self.calls = 0

    def __call__(self, spec: ProviderSpec, env: Mapping[str, str]) -> KeyInfo:
        self.calls += 1
        return KeyInfo(self.keys.get(spec.name))


def spec(name: str = "fake", *, max_concurrency: int | None = None) -> ProviderSpec:
    return ProviderSpec(
        name=name,
        kind="openai-compatible",
        base_url="http://127.0.0.1:9",
        api_key_env=(f"HEXAI_{name.upper()}_API_KEY", f"{name.upper()}_API_KEY"),
        max_concurrency=max_concurrency,
    )


def entry(
    model: str, provider: ProviderSpec | None = None, *, index: int = 0, timeout_ms: int = 5000
) -> Entry:
    provider = provider or spec()
    return Entry(
        surface="ask",
        index=index,
        provider=provider,
        model=model,
        temperature=0.2,
        label=f"{provider.name}:{model}",
        max_tokens=100,
        timeout_ms=timeout_ms,
        stream=True,
    )


def config(entries: Sequence[Entry] = (), **engine: Any) -> Config:
    providers = {e.provider.name: e.provider for e in entries}
    return Config(
        general=General(),
        completion=CompletionSettings(),
        engine=EngineSettings(**engine),
        providers=MappingProxyType(providers),
        models=MappingProxyType({"ask": tuple(entries)}),
    )


REQUEST = Request(messages=(Message("user", "x" * 40),))


def make_engine(
    entries: Sequence[Entry],
    scripts: Mapping[str, Any],
    *,
    requires_key: bool = False,
    keys: Keys | None = None,
    stats: StatsStore | ListSink | None = None,
    **engine: Any,
) -> tuple[Engine, dict[str, ScriptedProvider]]:
    providers: dict[str, ScriptedProvider] = {}

    def factory(s: ProviderSpec) -> Provider:
        providers[s.name] = ScriptedProvider(scripts, requires_key)
        return providers[s.name]

    eng = Engine(
        config(entries, **engine),
        stats=stats,
        provider_factory=factory,
        key_resolver=keys or Keys({}),
    )
    return eng, providers


async def collect(fan: Any) -> list[Event]:
    return [event async for event in fan]


def leftover_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


# ---------------------------------------------------------------------------
# Events and results
# ---------------------------------------------------------------------------


async def test_events_arrive_as_they_happen_and_results_keep_entry_order() -> None:
    entries = [entry("slow", index=0), entry("fast", index=1)]
    scripts = {
        "slow": [[("sleep", 0.05), ("text", "slow "), ("text", "answer")]],
        "fast": [[("text", "fast "), ("text", "answer"), ("usage", 7, 2)]],
    }
    eng, _ = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)
    events = await collect(fan)
    results = await fan.wait()
    await eng.close()

    # Per entry: start, chunks in order, exactly one final event, in that order.
    for index in (0, 1):
        mine = [e for e in events if e.index == index]
        assert isinstance(mine[0], StartEvent)
        assert isinstance(mine[-1], DoneEvent)
        assert [e.text for e in mine if isinstance(e, ChunkEvent)] == (
            ["slow ", "answer"] if index == 0 else ["fast ", "answer"]
        )
    finals = [e.index for e in events if isinstance(e, (DoneEvent, ErrorEvent))]
    assert finals == [1, 0]  # the fast entry finished first
    assert [r.index for r in results] == [0, 1]
    assert [r.text for r in results] == ["slow answer", "fast answer"]
    assert all(r.ok and not r.truncated for r in results)
    fast = results[1].stats
    assert (fast.input_tokens, fast.output_tokens, fast.tokens_estimated) == (7, 2, False)
    assert fast.status == "ok" and fast.chunks == 2 and fast.http_status == 200
    assert fast.bytes_sent == 100 and fast.bytes_received == len("fast answer")
    slow = results[0].stats
    assert slow.tokens_estimated
    # 40 characters / 4 plus the chat template's 4 tokens for its one message
    assert (slow.input_tokens, slow.input_source) == (14, "estimate")
    # no usage: a streamed answer counts its pieces (one token each on llama.cpp, Ollama)
    assert (slow.output_tokens, slow.output_source) == (2, "chunks")
    assert slow.ttft_ms is not None and slow.total_ms is not None
    assert slow.ttft_ms <= slow.total_ms
    assert not leftover_tasks()


async def test_one_failure_never_touches_the_others_and_nothing_is_raised() -> None:
    entries = [entry("good", index=0), entry("auth", index=1), entry("bug", index=2)]
    scripts = {
        "good": [[("text", "hello")]],
        "auth": [[("error", ErrorKind.AUTH, 401, None)]],
        "bug": [[("text", "par"), ("raise", ValueError("boom"))]],
    }
    eng, _ = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)
    events = await collect(fan)
    good, auth, bug = await fan.wait()
    await eng.close()

    assert good.ok and good.text == "hello"
    assert auth.error is not None and auth.error.kind is ErrorKind.AUTH
    assert auth.error.status == 401 and auth.stats.status == "error"
    assert auth.stats.error_kind == "auth" and auth.stats.http_status == 401
    assert bug.error is not None and bug.error.kind is ErrorKind.BAD_RESPONSE
    assert "ValueError" in bug.error.message
    assert bug.text == "par" and bug.truncated and bug.stats.status == "truncated"
    kinds = {e.index: type(e) for e in events if isinstance(e, (DoneEvent, ErrorEvent))}
    assert kinds == {0: DoneEvent, 1: ErrorEvent, 2: ErrorEvent}


async def test_request_factory_is_called_per_entry_and_its_failure_stays_local() -> None:
    entries = [entry("a", index=0), entry("b", index=1)]
    scripts = {"a": [[("text", "A")]], "b": [[("text", "B")]]}
    eng, providers = make_engine(entries, scripts)

    def build(e: Entry) -> Request:
        if e.model == "b":
            raise RuntimeError("no template")
        return Request(messages=(Message("user", f"for {e.model}"),), max_tokens=e.max_tokens)

    a, b = await eng.fan_out(entries, build).wait()
    await eng.close()
    assert a.ok and providers["fake"].calls[0].request.messages[0].content == "for a"
    assert b.error is not None and b.error.kind is ErrorKind.CONFIG
    assert "no template" in b.error.message
    assert len(providers["fake"].calls) == 1


async def test_empty_fan_out_finishes_at_once() -> None:
    eng, _ = make_engine([], {})
    fan = eng.fan_out([], REQUEST)
    assert await collect(fan) == []
    assert await fan.wait() == []
    await eng.close()


# ---------------------------------------------------------------------------
# Concurrency limits
# ---------------------------------------------------------------------------


async def test_provider_max_concurrency_queues_the_excess() -> None:
    one = spec("one", max_concurrency=1)
    entries = [entry(f"m{i}", one, index=i) for i in range(3)]
    scripts = {f"m{i}": [[("sleep", 0.03), ("text", f"{i}")]] for i in range(3)}
    eng, providers = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)
    events = await collect(fan)
    results = await fan.wait()
    await eng.close()

    assert providers["one"].max_active == 1
    assert all(r.ok for r in results)
    # Each start comes after the previous entry finished.
    order = [(type(e).__name__, e.index) for e in events if not isinstance(e, ChunkEvent)]
    assert order == [
        ("StartEvent", 0),
        ("DoneEvent", 0),
        ("StartEvent", 1),
        ("DoneEvent", 1),
        ("StartEvent", 2),
        ("DoneEvent", 2),
    ]
    queued = [r.stats.queued_ms for r in results]
    assert queued[0] < queued[1] < queued[2]
    assert queued[2] >= 2 * 25  # waited for two 30 ms answers (lower bound only)


async def test_global_cap_limits_across_providers() -> None:
    specs = [spec(f"p{i}") for i in range(4)]
    entries = [entry("m", s, index=i) for i, s in enumerate(specs)]
    active = {"now": 0, "max": 0}

    class Counting(ScriptedProvider):
        async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
            try:
                await asyncio.sleep(0.02)
                yield TextDelta("ok")
            finally:
                active["now"] -= 1

    eng = Engine(
        config(entries, max_concurrency=2),
        provider_factory=lambda s: Counting({}, False),
        key_resolver=Keys({}),
    )
    results = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert all(r.ok for r in results)
    assert active["max"] == 2


# ---------------------------------------------------------------------------
# Deadlines
# ---------------------------------------------------------------------------


async def test_total_deadline_keeps_streamed_text_and_marks_it_truncated() -> None:
    entries = [entry("drip", timeout_ms=100), entry("quiet", index=1, timeout_ms=100)]
    scripts = {
        "drip": [[("text", "partial "), ("text", "answer"), ("stall",)]],
        "quiet": [[("stall",)]],
    }
    eng, providers = make_engine(entries, scripts)
    drip, quiet = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()

    assert drip.text == "partial answer" and drip.truncated
    assert drip.error is not None and drip.error.kind is ErrorKind.TIMEOUT
    assert "100 ms" in drip.error.message
    assert drip.stats.status == "truncated" and drip.stats.error_kind == "timeout"
    assert not drip.ok
    assert quiet.text == "" and not quiet.truncated
    assert quiet.error is not None and quiet.error.kind is ErrorKind.TIMEOUT
    assert quiet.stats.status == "error" and quiet.stats.ttft_ms is None
    assert providers["fake"].closed == 2  # both streams were closed, not left open


async def test_first_token_deadline() -> None:
    entries = [entry("silent"), entry("talks", index=1)]
    scripts = {
        "silent": [[("stall",)]],
        "talks": [[("text", "a"), ("sleep", 0.08), ("text", "b")]],
    }
    eng, _ = make_engine(entries, scripts, first_token_timeout_ms=50)
    silent, talks = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert silent.error is not None and silent.error.kind is ErrorKind.TIMEOUT
    assert "first token" in silent.error.message
    # The first-token deadline stops counting once text arrived.
    assert talks.ok and talks.text == "ab"


async def test_queue_time_counts_against_the_total_deadline() -> None:
    one = spec("one", max_concurrency=1)
    entries = [entry("hog", one, timeout_ms=2000), entry("waits", one, index=1, timeout_ms=60)]
    scripts = {"hog": [[("sleep", 0.2), ("text", "done")]], "waits": [[("text", "never")]]}
    eng, providers = make_engine(entries, scripts)
    hog, waits = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert hog.ok
    assert waits.error is not None and waits.error.kind is ErrorKind.TIMEOUT
    assert "slot" in waits.error.message
    assert waits.stats.started_at is None and waits.stats.total_ms is None
    assert [c.model for c in providers["one"].calls] == ["hog"]


async def test_connect_timeout_is_handed_to_the_provider() -> None:
    entries = [entry("a")]
    eng, providers = make_engine(entries, {"a": [[("text", "x")]]}, connect_timeout_ms=1234)
    await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert providers["fake"].calls[0].connect_timeout_s == pytest.approx(1.234)


# ---------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after() -> None:
    entries = [entry("busy")]
    scripts = {"busy": [[("error", ErrorKind.RATE_LIMITED, 429, 0.05)], [("text", "finally")]]}
    eng, providers = make_engine(entries, scripts)
    started = time.monotonic()
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    elapsed = time.monotonic() - started
    await eng.close()
    assert result.ok and result.text == "finally"
    assert result.stats.retries == 1
    assert len(providers["fake"].calls) == 2
    assert elapsed >= 0.045  # it did wait for Retry-After
    assert result.stats.bytes_sent == 200  # both attempts counted


async def test_503_retried_at_most_the_configured_times() -> None:
    entries = [entry("down")]
    scripts = {"down": [[("error", ErrorKind.SERVER, 503, 0.0)]]}
    eng, providers = make_engine(entries, scripts, retries=2)
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert result.error is not None and result.error.kind is ErrorKind.SERVER
    assert result.error.status == 503
    assert len(providers["fake"].calls) == 3 and result.stats.retries == 2


async def test_no_retry_once_text_was_streamed_or_for_other_statuses() -> None:
    # 500 is retried since hexai 0.42.4 (test_resilience); a 400 never is.
    entries = [entry("midway"), entry("broken", index=1)]
    scripts = {
        "midway": [[("text", "half"), ("error", ErrorKind.SERVER, 503, 0.0)]],
        "broken": [[("error", ErrorKind.BAD_RESPONSE, 400, 0.0)]],
    }
    eng, providers = make_engine(entries, scripts)
    midway, broken = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert midway.truncated and midway.text == "half" and midway.stats.retries == 0
    assert broken.error is not None and broken.stats.retries == 0
    assert len(providers["fake"].calls) == 2


async def test_no_retry_when_retry_after_passes_the_deadline() -> None:
    entries = [entry("later", timeout_ms=300)]
    scripts = {"later": [[("error", ErrorKind.RATE_LIMITED, 429, 5.0)], [("text", "x")]]}
    eng, providers = make_engine(entries, scripts)
    started = time.monotonic()
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert time.monotonic() - started < 5.0
    assert result.error is not None and result.error.kind is ErrorKind.RATE_LIMITED
    assert len(providers["fake"].calls) == 1


# ---------------------------------------------------------------------------
# Cancellation and leaks
# ---------------------------------------------------------------------------


async def test_cancel_one_entry_leaves_the_others_running() -> None:
    entries = [entry("stuck"), entry("fine", index=1)]
    scripts = {
        "stuck": [[("text", "so far"), ("stall",)]],
        "fine": [[("sleep", 0.05), ("text", "ok")]],
    }
    eng, providers = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)
    async for event in fan:
        if isinstance(event, ChunkEvent) and event.index == 0:
            fan.cancel(0)
    stuck, fine = await fan.wait()
    await eng.close()
    assert stuck.error is not None and stuck.error.kind is ErrorKind.CANCELLED
    assert stuck.stats.status == "cancelled" and stuck.text == "so far"
    assert fine.ok and fine.text == "ok"
    assert providers["fake"].closed == 2 and providers["fake"].active == 0


async def test_cancel_all_closes_every_stream() -> None:
    entries = [entry(f"s{i}", index=i) for i in range(4)]
    scripts = {f"s{i}": [[("stall",)]] for i in range(4)}
    eng, providers = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)
    await asyncio.sleep(0.01)
    assert providers["fake"].active == 4
    fan.cancel()
    results = await fan.wait()
    assert [r.stats.status for r in results] == ["cancelled"] * 4
    assert providers["fake"].active == 0 and providers["fake"].closed == 4
    # Cancelling again (or a finished entry) is harmless.
    fan.cancel()
    fan.cancel(1)
    await eng.close()
    assert not leftover_tasks()


async def test_cancelling_the_waiting_task_cancels_the_entries() -> None:
    entries = [entry("a"), entry("b", index=1)]
    scripts = {"a": [[("stall",)]], "b": [[("stall",)]]}
    eng, providers = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)
    waiter = asyncio.ensure_future(fan.wait())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert fan.done
    assert [r.stats.status for r in await fan.wait()] == ["cancelled", "cancelled"]
    assert providers["fake"].active == 0
    await eng.close()
    assert not leftover_tasks()


async def test_leaving_the_iteration_early_cancels_the_rest() -> None:
    entries = [entry("quick"), entry("slow", index=1)]
    scripts = {"quick": [[("text", "q")]], "slow": [[("stall",)]]}
    eng, providers = make_engine(entries, scripts)

    async with eng.fan_out(entries, REQUEST) as fan:
        async for event in fan:
            if isinstance(event, DoneEvent):
                break
    quick, slow = fan.results()
    assert quick is not None and quick.ok
    assert slow is not None and slow.stats.status == "cancelled"

    # Without the context manager: a dropped iterator is closed by the loop.
    fan2 = eng.fan_out(entries, REQUEST)
    async for event in fan2:
        if isinstance(event, DoneEvent):
            break
    gc.collect()
    for _ in range(20):
        if fan2.done:
            break
        await asyncio.sleep(0.01)
    assert fan2.done
    assert fan2.results()[1] is not None
    assert providers["fake"].active == 0
    await eng.close()
    assert not leftover_tasks()


async def test_cancelling_the_consumer_task_cancels_the_entries() -> None:
    entries = [entry("a"), entry("b", index=1)]
    scripts = {"a": [[("text", "x"), ("stall",)]], "b": [[("stall",)]]}
    eng, providers = make_engine(entries, scripts)
    fan = eng.fan_out(entries, REQUEST)

    async def consume() -> None:
        async for _event in fan:
            pass

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.01)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    results = await fan.wait()
    assert [r.stats.status for r in results] == ["cancelled", "cancelled"]
    assert results[0].text == "x"
    assert providers["fake"].active == 0
    await eng.close()
    assert not leftover_tasks()


async def test_engine_close_cancels_running_fan_outs() -> None:
    entries = [entry("a")]
    eng, providers = make_engine(entries, {"a": [[("stall",)]]})
    fan = eng.fan_out(entries, REQUEST)
    await asyncio.sleep(0.01)
    await eng.close()
    assert fan.done and fan.results()[0] is not None
    assert providers["fake"].active == 0
    assert not leftover_tasks()
    with pytest.raises(RuntimeError):
        eng.fan_out(entries, REQUEST)


async def test_a_foreign_cancel_still_records_a_result_and_propagates() -> None:
    entries = [entry("a")]
    eng, _ = make_engine(entries, {"a": [[("stall",)]]})
    fan = eng.fan_out(entries, REQUEST)
    await asyncio.sleep(0.01)
    fan._tasks[0].cancel()  # as asyncio.run does at shutdown
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert fan._tasks[0].cancelled()
    (result,) = await fan.wait()
    assert result.stats.status == "cancelled"
    await eng.close()


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


async def test_missing_key_fails_without_a_request_and_names_the_variables() -> None:
    entries = [entry("a")]
    eng, providers = make_engine(entries, {"a": [[("text", "x")]]}, requires_key=True)
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert result.error is not None and result.error.kind is ErrorKind.CONFIG
    assert "HEXAI_FAKE_API_KEY" in result.error.message
    assert "FAKE_API_KEY" in result.error.message
    assert providers["fake"].calls == []
    assert result.stats.bytes_sent == 0 and result.stats.started_at is None


async def test_key_is_resolved_once_and_again_after_update_config() -> None:
    entries = [entry("a"), entry("b", index=1)]
    keys = Keys({"fake": "sk-secret-123456"})
    scripts = {"a": [[("text", "x")]], "b": [[("text", "y")]]}
    eng, providers = make_engine(entries, scripts, requires_key=True, keys=keys)
    await eng.fan_out(entries, REQUEST).wait()
    await eng.fan_out(entries, REQUEST).wait()
    assert keys.calls == 1
    assert {c.api_key for c in providers["fake"].calls} == {"sk-secret-123456"}
    eng.update_config(config(entries))
    await eng.fan_out(entries, REQUEST).wait()
    assert keys.calls == 2
    await eng.close()


async def test_key_never_reaches_errors_stats_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hexai_nvim")
    secret = "sk-live-abcdef0123456789"
    entries = [entry("leaky")]
    store = StatsStore(tmp_path / "stats.jsonl", 60)

    class Leaky(ScriptedProvider):
        async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
            raise ProviderError(ErrorKind.AUTH, f"bad key {call.api_key}", status=401)
            yield TextDelta("")  # pragma: no cover - makes this a generator

    eng = Engine(
        config(entries),
        stats=store,
        provider_factory=lambda s: Leaky({}, True),
        key_resolver=Keys({"fake": secret}),
    )
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert result.error is not None
    assert secret not in result.error.message and "[redacted]" in result.error.message
    assert secret not in (tmp_path / "stats.jsonl").read_text()
    assert secret not in json.dumps(result.stats.to_dict())
    assert "auth" in caplog.text and secret not in caplog.text

    class Buggy(ScriptedProvider):
        async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
            raise RuntimeError(f"bug with {call.api_key} inside")
            yield TextDelta("")  # pragma: no cover - makes this a generator

    eng = Engine(
        config(entries),
        provider_factory=lambda s: Buggy({}, True),
        key_resolver=Keys({"fake": secret}),
    )
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert result.error is not None and secret not in result.error.message
    assert "failed unexpectedly at" in caplog.text and secret not in caplog.text


# ---------------------------------------------------------------------------
# Stats
# ---------------------------------------------------------------------------


def test_entry_stats_rates_and_dict() -> None:
    stats = EntryStats(
        queued_ms=1.0,
        ttft_ms=100.0,
        total_ms=1100.0,
        input_tokens=10,
        output_tokens=50,
        tokens_estimated=False,
        bytes_sent=1,
        bytes_received=2,
        status="ok",
        chunks=10,
    )
    # decode rate: the 49 tokens after the first in the 1 s after it (llama.cpp's own way)
    assert stats.tokens_per_s == pytest.approx(49.0)
    single = replace(stats, chunks=1)
    assert single.tokens_per_s == pytest.approx(50 / 1.1)  # whole answer at once
    burst = replace(stats, total_ms=100.2)  # ten pieces in one read: no decode rate
    assert burst.tokens_per_s == pytest.approx(50 / 0.1002)
    assert replace(stats, output_tokens=0).tokens_per_s is None
    assert replace(stats, total_ms=None).tokens_per_s is None
    data = stats.to_dict()
    for key in (
        "ttft_ms",
        "total_ms",
        "input_tokens",
        "output_tokens",
        "status",
        "queued_ms",
        "tokens_per_s",
        "bytes_sent",
        "bytes_received",
        "retries",
    ):
        assert key in data
    assert json.loads(json.dumps(data))["tokens_per_s"] == 49.0


async def test_finished_entries_are_appended_to_the_stats_file(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "hexai" / "nvim-stats.jsonl"
    store = StatsStore(path, 60)
    entries = [entry("a"), entry("b", index=1)]
    scripts = {"a": [[("text", "x")]], "b": [[("error", ErrorKind.AUTH, 401, None)]]}
    eng, _ = make_engine(entries, scripts, stats=store)
    results: list[EntryResult] = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((d["model"], d["status"]) for d in lines) == [("a", "ok"), ("b", "error")]
    assert all(d["provider"] == "fake" and d["surface"] == "ask" for d in lines)
    assert {r.entry.model for r in results} == {"a", "b"}
    assert path.stat().st_mode & 0o777 == 0o600


class ListSink:
    """A result sink that is not the stats store: the engine needs only the protocol."""

    def __init__(self) -> None:
        self.results: list[EntryResult] = []
        self.chores = 0
        self.handed = 0
        self.configured: list[Config] = []

    def record(self, result: EntryResult) -> None:
        self.results.append(result)

    def housekeeping(self) -> Any:
        def chore() -> None:
            self.chores += 1

        self.handed += 1
        return chore if self.handed == 1 else None

    def configure(self, config: Config) -> None:
        self.configured.append(config)


async def test_the_engine_writes_every_result_to_the_sink_it_is_given() -> None:
    sink = ListSink()
    entries = [entry("a"), entry("b", index=1)]
    scripts = {"a": [[("text", "x")]], "b": [[("error", ErrorKind.AUTH, 401, None)]]}
    eng, _ = make_engine(entries, scripts, stats=sink)  # type: ignore[arg-type]
    await eng.fan_out(entries, REQUEST).wait()
    eng.update_config(config(entries))
    await eng.close()
    assert sorted(r.entry.model for r in sink.results) == ["a", "b"]
    assert sink.chores == 1  # the housekeeping ran once, in a worker thread
    assert len(sink.configured) == 1 and eng.stats_store is sink


async def test_a_failed_key_command_is_reported_and_not_cached() -> None:
    entries = [entry("a")]

    class FailingCmd(Keys):
        def __call__(self, spec: ProviderSpec, env: Mapping[str, str]) -> KeyInfo:
            self.calls += 1
            return KeyInfo(None, "cmd failed: timed out after 5 s")

    keys = FailingCmd({})
    eng, providers = make_engine(entries, {"a": [[("text", "x")]]}, requires_key=True, keys=keys)
    (first,) = await eng.fan_out(entries, REQUEST).wait()
    (second,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert first.error is not None and first.error.kind is ErrorKind.CONFIG
    assert "api_key_cmd failed: timed out after 5 s" in first.error.message
    assert second.error is not None and keys.calls == 2
    assert providers["fake"].calls == []


async def test_default_key_resolver_reads_the_environment() -> None:
    entries = [entry("a")]
    providers: list[ScriptedProvider] = []

    def factory(s: ProviderSpec) -> Provider:
        providers.append(ScriptedProvider({"a": [[("text", "x")]]}, True))
        return providers[-1]

    eng = Engine(
        config(entries),
        env={"FAKE_API_KEY": "env-key-value-42"},
        provider_factory=factory,
    )
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert result.ok
    assert providers[0].calls[0].api_key == "env-key-value-42"


async def test_cancel_right_after_fan_out_still_gives_every_result() -> None:
    entries = [entry("a"), entry("b", index=1)]
    eng, providers = make_engine(entries, {"a": [[("text", "x")]], "b": [[("stall",)]]})
    fan = eng.fan_out(entries, REQUEST)
    fan.cancel()  # before any task had a chance to run
    events = await asyncio.wait_for(collect(fan), 2)
    results = await fan.wait()
    assert [r.stats.status for r in results] == ["cancelled", "cancelled"]
    assert sum(isinstance(e, ErrorEvent) for e in events) == 2
    assert providers == {} or providers["fake"].calls == []
    await eng.close()


async def test_a_foreign_cancel_before_start_still_records_a_result() -> None:
    entries = [entry("a")]
    eng, _ = make_engine(entries, {"a": [[("stall",)]]})
    fan = eng.fan_out(entries, REQUEST)
    fan._tasks[0].cancel()
    (result,) = await asyncio.wait_for(fan.wait(), 2)
    assert result.stats.status == "cancelled"
    assert len([e async for e in fan]) == 1
    await eng.close()


def test_one_engine_can_serve_successive_event_loops() -> None:
    one = spec("one", max_concurrency=1)
    entries = [entry("a", one), entry("b", one, index=1)]
    scripts = {"a": [[("sleep", 0.01), ("text", "A")]], "b": [[("text", "B")]]}
    eng, _ = make_engine(entries, scripts, requires_key=True, keys=Keys({"one": "k-123456"}))

    async def once() -> list[str]:
        return [r.text for r in await eng.fan_out(entries, REQUEST).wait()]

    assert asyncio.run(once()) == ["A", "B"]
    assert asyncio.run(once()) == ["A", "B"]  # fresh semaphore and key lock
    asyncio.run(eng.close())


async def test_a_failing_stats_prune_is_reported_not_left_unretrieved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class BadPrune(StatsStore):
        def prune(self, now: float | None = None) -> int:
            raise RuntimeError("disk on fire")

    store = BadPrune(tmp_path / "stats.jsonl", 60)
    entries = [entry("a")]
    eng, _ = make_engine(entries, {"a": [[("text", "x")]]}, stats=store)
    (result,) = await eng.fan_out(entries, REQUEST).wait()
    for _ in range(100):  # the prune runs in a worker thread
        if not eng._recorder._background:
            break
        await asyncio.sleep(0.01)
    await eng.close()
    assert result.ok
    assert "stats prune failed: disk on fire" in caplog.text


async def test_a_config_update_runs_key_commands_again(tmp_path: Path) -> None:
    # With the default resolver: a rotated key is read after a reload.
    key_file = tmp_path / "key"
    key_file.write_text("sk-first-0123456789\n")
    cmd_spec = replace(spec("cmd"), api_key_cmd=f"cat {key_file}", api_key_env=())
    entries = [entry("a", cmd_spec)]
    fake = ScriptedProvider({"a": [[("text", "x")]]}, True)
    eng = Engine(config(entries), env={}, provider_factory=lambda s: fake)
    await eng.fan_out(entries, REQUEST).wait()
    key_file.write_text("sk-second-0123456789\n")
    await eng.fan_out(entries, REQUEST).wait()  # cached: still the first key
    eng.update_config(config(entries))
    await eng.fan_out(entries, REQUEST).wait()
    await eng.close()
    assert [c.api_key for c in fake.calls] == [
        "sk-first-0123456789",
        "sk-first-0123456789",
        "sk-second-0123456789",
    ]
