"""The completion host handlers: a real engine over scripted providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from types import MappingProxyType, SimpleNamespace
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
from hexai_nvim.host.completion import Trigger, cancel, complete, service
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Provider,
    ProviderError,
    ProviderEvent,
    TextDelta,
)


class Scripted(Provider):
    """Model name ``"<delay ms>:<reply>"``; reply ``!401`` fails with auth; ``a|b``
    streams ``a`` then ``b``."""

    kinds = ("fake",)
    requires_key = False

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.closed: list[str] = []
        self.finished: list[str] = []

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        self.calls.append(call)
        delay, _, reply = call.model.partition(":")
        try:
            await asyncio.sleep(int(delay) / 1000)
            if reply == "!401":
                raise ProviderError(ErrorKind.AUTH, "invalid api key\nmore", status=401)
            # "a|b|c": three chunks 30 ms apart.
            for k, piece in enumerate(reply.split("|")):
                if k:
                    await asyncio.sleep(0.03)
                yield TextDelta(piece)
            self.finished.append(call.model)
        finally:
            self.closed.append(call.model)


def make_entry(model: str, index: int, kind: str = "openai") -> Entry:
    spec = ProviderSpec(name=f"p{index}", kind=kind, base_url="http://127.0.0.1:9")
    return Entry(surface="completion", index=index, provider=spec, model=model, temperature=0.2,
                 label=f"p{index}:{model.split(':')[1]}", max_tokens=50, timeout_ms=5000,
                 stream=True)


def make_config(models: Sequence[str], kinds: Sequence[str] = ()) -> Config:
    entries = tuple(
        make_entry(m, i, kinds[i] if i < len(kinds) else "openai") for i, m in enumerate(models)
    )
    return Config(
        general=General(context_mode="minimal"), completion=CompletionSettings(),
        engine=EngineSettings(), providers=MappingProxyType({e.provider.name: e.provider
                                                            for e in entries}),
        models=MappingProxyType({"completion": entries}),
    )


@dataclass(eq=False)
class FakeRuntime:
    config: Config
    engine: Engine
    lines: list[str]
    cwd: str | None = None

    def __post_init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.notes: list[tuple[str, int]] = []
        self.read: list[tuple[int, int]] = []
        self.nvim = SimpleNamespace(api=SimpleNamespace(buf_get_lines=self._get_lines))

    def _get_lines(self, buf: int, start: int, end: int, strict: bool) -> list[str]:
        self.read.append((start, end))
        return self.lines[start:end]

    def lua(self, module: str, function: str, *args: Any) -> None:
        assert (module, function) == ("hexai.completion", "on_update")
        self.updates.append(args[0])

    def notify(self, message: str, level: int = 2, *, once: str | None = None) -> None:
        self.notes.append((message, level))

    def spawn(self, coro: Coroutine[Any, Any, Any], *, what: str) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro)


def runtime(models: Sequence[str], lines: Sequence[str] = ("x = ",), kinds: Sequence[str] = ()
            ) -> tuple[FakeRuntime, Scripted]:
    provider = Scripted()
    config = make_config(models, kinds)
    engine = Engine(config, provider_factory=lambda spec: provider)
    return FakeRuntime(config, engine, list(lines)), provider


def payload(seq: int, **extra: Any) -> dict[str, Any]:
    return {"seq": seq, "buf": 1, "row": 1, "col": 4, "line_count": 1, "path": "a.py",
            "filetype": "python", **extra}


async def until(cond: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.002)


async def test_each_entry_is_sent_as_it_arrives_in_config_order() -> None:
    rt, _ = runtime(["60:slow_value", "0:fast_value"])
    assert complete(rt, payload(1)) == {"seq": 1}  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    first, second, last = rt.updates
    assert [e["status"] for e in first["entries"]] == ["pending", "pending"]
    assert [e["status"] for e in second["entries"]] == ["pending", "ok"]
    assert second["entries"][1]["text"] == "fast_value"
    assert [e["text"] for e in last["entries"]] == ["slow_value", "fast_value"]
    assert [e["label"] for e in last["entries"]] == ["p0:slow_value", "p1:fast_value"]
    assert all(u["seq"] == 1 and u["slot"] == "ghost" and (u["row"], u["col"]) == (0, 4)
               for u in rt.updates)
    assert last["entries"][0]["ms"] >= 60


async def test_a_failing_entry_gets_a_labelled_error_and_the_other_its_text() -> None:
    rt, _ = runtime(["0:!401", "10:value"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    bad, good = rt.updates[-1]["entries"]
    assert bad["status"] == "error" and bad["error_kind"] == "auth"
    assert bad["error_message"] == "HTTP 401: invalid api key"
    assert good["status"] == "ok" and good["text"] == "value"


async def test_a_new_trigger_cancels_the_old_fan_out_and_its_results_never_arrive() -> None:
    rt, provider = runtime(["300:old"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: len(provider.calls) == 1)
    rt.config = make_config(["0:new"])
    rt.engine.update_config(rt.config)
    complete(rt, payload(2))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    await until(lambda: "300:old" in provider.closed)
    assert "300:old" not in provider.finished
    await asyncio.sleep(0.35)
    assert all(u["seq"] == 2 for u in rt.updates if u["entries"][0]["status"] != "pending")
    assert rt.updates[-1]["entries"][0]["text"] == "new"


async def test_slots_are_independent() -> None:
    rt, provider = runtime(["50:v"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    complete(rt, payload(2, slot="cmp"))  # type: ignore[arg-type]
    await until(lambda: sum(u["done"] for u in rt.updates) == 2)
    assert {u["slot"] for u in rt.updates if u["done"]} == {"ghost", "cmp"}
    assert provider.finished == ["50:v", "50:v"]


async def test_cancel_stops_every_slot_and_sends_nothing_more() -> None:
    rt, provider = runtime(["200:v"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: len(provider.calls) == 1)
    assert cancel(rt, {}) == {"stopped": 1}  # type: ignore[arg-type]
    await until(lambda: provider.closed == ["200:v"])
    count = len(rt.updates)
    await asyncio.sleep(0.25)
    assert len(rt.updates) == count and not service(rt).slots  # type: ignore[arg-type]


async def test_ollama_entries_get_fim_and_the_suggestion_is_cleaned() -> None:
    rt, provider = runtime(["0:```\nx = 42\n```", "0:42"], lines=["x = "], kinds=["ollama"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    fim_call = next(c for c in provider.calls if c.model.startswith("0:```"))
    assert fim_call.request.fim is not None and fim_call.request.fim.prefix.endswith("x = ")
    assert [e["text"] for e in rt.updates[-1]["entries"]] == ["42", "42"]


async def test_no_entries_is_reported_in_the_snapshot() -> None:
    rt, _ = runtime([])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: bool(rt.updates))
    assert rt.updates[0]["done"] and "no completion entries" in rt.updates[0]["problem"]


def test_lines_that_miss_the_cursor_are_rejected() -> None:
    with pytest.raises(ValueError, match="lines"):
        Trigger.from_payload(payload(1, row=9, lines=["a"], first_line=0))
    with pytest.raises(ValueError, match="lines"):
        Trigger.from_payload(payload(1, lines=[1, 2]))


def test_lines_sent_as_one_text_are_split_and_a_line_holding_a_newline_is_read_again() -> None:
    trigger = Trigger.from_payload(payload(1, row=3, text="a\n\nb c", text_lines=3, first_line=1))
    assert trigger.lines == ("a", "", "b c") and trigger.first_line == 1
    # Neovim shows a NUL of the buffer as "\n": the count differs, the host reads the buffer.
    assert Trigger.from_payload(payload(1, text="a\nb", text_lines=1)).lines is None
    with pytest.raises(ValueError, match="lines"):
        Trigger.from_payload(payload(1, row=9, text="a", text_lines=1, first_line=0))
    with pytest.raises(ValueError, match="text"):
        Trigger.from_payload(payload(1, text=["a"], text_lines=1))


def test_malformed_payloads_are_rejected_with_the_field_name() -> None:
    with pytest.raises(ValueError, match="seq"):
        Trigger.from_payload({"row": 1, "col": 0})
    with pytest.raises(ValueError, match="row"):
        Trigger.from_payload({"seq": 1, "row": "x", "col": 0})
    t = Trigger.from_payload({"seq": 3, "row": 5, "col": 2})
    assert (t.row, t.col, t.slot) == (4, 2, "ghost")


async def test_a_cancel_that_arrives_while_the_buffer_is_read_wins() -> None:
    # In pynvim, the handler's blocking buf_get_lines lets other notifications
    # run meanwhile: a 'cancel' (InsertLeave) or a newer 'complete' can arrive
    # before the fan-out starts. Neither may be undone by the older trigger.
    rt, provider = runtime(["0:v"])
    read = rt._get_lines
    during: list[Any] = []

    def get_lines(buf: int, start: int, end: int, strict: bool) -> list[str]:
        if during:
            during.pop(0)()
        return read(buf, start, end, strict)

    rt.nvim.api.buf_get_lines = get_lines
    during.append(lambda: cancel(rt, {"slot": "ghost"}))  # type: ignore[arg-type]
    complete(rt, payload(1))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert provider.calls == [] and rt.updates == [], "a cancelled trigger started anyway"

    # A newer trigger arriving meanwhile (and finishing its read first) wins.
    during.append(lambda: complete(rt, payload(3)))  # type: ignore[arg-type]
    complete(rt, payload(2))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    await asyncio.sleep(0.05)
    assert {u["seq"] for u in rt.updates} == {3}
    assert len(provider.calls) == 1


async def test_a_streaming_entry_is_sent_as_it_grows_marked_streaming() -> None:
    rt, _ = runtime(["0:total|_sum|(a, b)", "400:later"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    texts = [(u["entries"][0]["status"], u["entries"][0]["text"]) for u in rt.updates]
    assert ("streaming", "total") in texts and ("streaming", "total_sum") in texts
    assert texts.index(("streaming", "total")) < texts.index(("ok", "total_sum(a, b)"))
    assert all(u["entries"][0]["stats"] == "…" for u in rt.updates
               if u["entries"][0]["status"] == "streaming")
    assert rt.updates[-1]["entries"][0]["stop_reason"] == "stop"


async def test_menu_slots_get_finished_answers_only() -> None:
    rt, _ = runtime(["0:a|b|c"])
    complete(rt, payload(1, slot="cmp"))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    assert [u["entries"][0]["status"] for u in rt.updates] == ["pending", "ok"]


async def test_an_entry_failing_with_auth_is_asked_once_and_named_once() -> None:
    rt, provider = runtime(["0:!401", "0:value"])
    for seq in (1, 2, 3):
        complete(rt, payload(seq))  # type: ignore[arg-type]
        await until(lambda seq=seq: bool(rt.updates) and rt.updates[-1]["done"]
                    and rt.updates[-1]["seq"] == seq)
    asked = [c.model for c in provider.calls]
    assert asked.count("0:!401") == 1 and asked.count("0:value") == 3
    bad = rt.updates[-1]["entries"][0]
    assert bad["status"] == "muted"
    assert len(rt.notes) == 1
    note = rt.notes[0][0]
    assert "p0:!401" in note and "API key" in note and ":HexaiConfigReload" in note
    # Asking explicitly tries it again (and it is muted again, without a second note).
    complete(rt, payload(4, manual=True))  # type: ignore[arg-type]
    await until(lambda: rt.updates[-1]["seq"] == 4 and rt.updates[-1]["done"])
    assert [c.model for c in provider.calls].count("0:!401") == 2
    assert rt.updates[-1]["entries"][0]["status"] == "error" and len(rt.notes) == 1
    # A new configuration asks it again.
    rt.config = make_config(["0:!401", "0:value"])
    complete(rt, payload(5))  # type: ignore[arg-type]
    await until(lambda: rt.updates[-1]["seq"] == 5 and rt.updates[-1]["done"])
    assert [c.model for c in provider.calls].count("0:!401") == 3


async def test_a_stalled_entry_says_so_in_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import hexai_nvim.host.completion as host

    monkeypatch.setattr(host, "STALL_AFTER_S", 0.05)
    rt, _ = runtime(["300:late", "0:quick"])
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    stats = [u["entries"][0]["stats"] for u in rt.updates]
    assert "… no answer after 1 s" in stats
    assert rt.updates[-1]["entries"][0]["status"] == "ok"
    assert rt.updates[-1]["entries"][1]["stats"].endswith(" ms")


async def test_lines_sent_with_the_trigger_are_used_without_reading_the_buffer() -> None:
    rt, provider = runtime(["0:x"], kinds=["ollama"])
    complete(rt, payload(1, row=3, col=4, line_count=1000, first_line=1,  # type: ignore[arg-type]
                         lines=["def f():", "    ", "    return"]))
    await until(lambda: rt.updates and rt.updates[-1]["done"])
    assert rt.read == []
    fim = provider.calls[0].request.fim
    assert fim is not None and fim.prefix.endswith("def f():\n    ")
    assert fim.suffix == "\n    return"


async def test_stats_are_written_after_the_entrys_snapshot_went_to_the_editor() -> None:
    from hexai_nvim.host.runtime import LaterSink

    order: list[str] = []

    class Sink:
        def record(self, result: Any) -> None:
            order.append(f"stats {result.entry.label}")

        def housekeeping(self) -> None:
            return None

        def configure(self, config: Config) -> None:
            pass

    provider = Scripted()
    config = make_config(["0:fast", "40:slow"])
    engine = Engine(config, stats=LaterSink(Sink()), provider_factory=lambda spec: provider)
    rt = FakeRuntime(config, engine, ["x = "])
    sent = rt.lua

    def lua(module: str, function: str, *args: Any) -> None:
        sent(module, function, *args)
        done = [e["label"] for e in args[0]["entries"] if e["status"] == "ok"]
        order.append("snapshot " + ",".join(done))

    rt.lua = lua  # type: ignore[method-assign]
    complete(rt, payload(1))  # type: ignore[arg-type]
    await until(lambda: len([o for o in order if o.startswith("stats")]) == 2)
    assert order == ["snapshot ", "snapshot p0:fast", "stats p0:fast",
                     "snapshot p0:fast,p1:slow", "stats p1:slow"]
