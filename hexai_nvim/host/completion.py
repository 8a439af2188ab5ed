"""Host handlers of the completion surface (registered with :func:`hexai_nvim.host.rpc.method`).

Lua debounces keystrokes and sends ``complete`` with a sequence number; this
module reads the text around the cursor, starts one fan-out over the
``completion`` entries and sends a snapshot of every entry's state to
``require('hexai.completion').on_update(snapshot)`` as each entry finishes.

Rules a caller may rely on:

- One fan-out per *slot* (``"ghost"`` for the inline suggestions, ``"menu"``,
  ``"cmp"``, ``"blink"`` for the completion menus). A new ``complete`` in a
  slot cancels that slot's running fan-out first: its HTTP connections close
  and nothing more is sent for its ``seq``.
- Every snapshot carries the ``seq`` and ``slot`` it answers, so Lua can drop
  a late one. Entries are listed in config order; each has a ``status`` of
  ``pending``, ``ok`` (``text`` is the cleaned suggestion), ``empty`` (the
  answer had nothing to insert) or ``error`` (``error_kind``,
  ``error_message``), and ``ms``, the time from the trigger reaching the host
  to the entry's end.
- ``cancel`` stops a slot (or every slot) without sending anything. A cancel
  or a newer ``complete`` that arrives while a ``complete`` handler still reads
  the buffer wins: that trigger never starts.
- Errors of an entry are shown in its line only, never through ``vim.notify``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hexai_nvim.host.rpc import Payload, method, per_runtime

# The engine and the prompt builders (with the providers they import) are
# imported inside the handlers: Neovim waits while the host imports this module.
if TYPE_CHECKING:
    from hexai_nvim.config.model import Entry
    from hexai_nvim.engine import EntryResult, FanOut
    from hexai_nvim.host.runtime import Runtime
    from hexai_nvim.providers.base import Request
    from hexai_nvim.surfaces.completion import BufferView, CursorContext

log = logging.getLogger("hexai_nvim.host.completion")

#: Lua module that receives the snapshots.
LUA_MODULE = "hexai.completion"
#: Longest error message put into an entry's line.
ERROR_MESSAGE_MAX = 120


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """One ``complete`` call from Lua, validated."""

    seq: int
    slot: str
    buf: int
    #: 0-based row and byte column of the cursor.
    row: int
    col: int
    line_count: int
    manual: bool
    path: str
    filetype: str
    commentstring: str

    @classmethod
    def from_payload(cls, payload: Payload) -> Trigger:
        """Raise ``ValueError`` naming the field when the payload is malformed."""

        def num(name: str, default: int | None = None) -> int:
            value = payload.get(name, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"complete: {name} must be a number, got {value!r}")
            return int(value)

        def text(name: str) -> str:
            value = payload.get(name, "")
            return value if isinstance(value, str) else ""

        slot = text("slot") or "ghost"
        if len(slot) > 32:
            raise ValueError("complete: slot name too long")
        row = num("row")  # 1-based, as nvim_win_get_cursor gives it
        return cls(
            seq=num("seq"),
            slot=slot,
            buf=num("buf", 0),
            row=max(0, row - 1),
            col=max(0, num("col")),
            line_count=max(1, num("line_count", row)),
            manual=bool(payload.get("manual", False)),
            path=text("path"),
            filetype=text("filetype"),
            commentstring=text("commentstring"),
        )


@dataclass
class EntryState:
    """What Lua is told about one entry."""

    index: int
    label: str
    key: str
    status: str = "pending"
    text: str = ""
    ms: int | None = None
    ttft_ms: int | None = None
    output_tokens: int | None = None
    tokens_per_s: float | None = None
    truncated: bool = False
    error_kind: str | None = None
    error_message: str | None = None
    #: How the answer ended (a StopReason value) and, unless the model simply
    #: finished, the same in words ("cut at 16 tokens (token limit)").
    stop_reason: str | None = None
    stop: str | None = None

    def to_lua(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "label": self.label,
            "key": self.key,
            "status": self.status,
            "text": self.text,
            "truncated": self.truncated,
        }
        for name in ("ms", "ttft_ms", "output_tokens", "tokens_per_s", "error_kind",
                     "error_message", "stop_reason", "stop"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass
class _Running:
    seq: int
    task: asyncio.Task[Any] | None = None
    fan: FanOut | None = None


@dataclass
class CompletionService:
    """Per-host state of the completion surface: the running fan-out of each slot."""

    slots: dict[str, _Running] = field(default_factory=dict)
    #: Bumped by every cancel of a slot (a new trigger cancels too): a trigger
    #: that was cancelled while its handler waited for Neovim never starts.
    epochs: dict[str, int] = field(default_factory=dict)
    _all_epoch: int = 0

    def epoch(self, slot: str) -> tuple[int, int]:
        """Changes whenever ``slot`` (or every slot) is cancelled."""
        return (self._all_epoch, self.epochs.get(slot, 0))

    def cancel(self, slot: str | None = None) -> int:
        """Cancel one slot (or all); return how many fan-outs were stopped."""
        if slot is None:
            self._all_epoch += 1
        else:
            self.epochs[slot] = self.epochs.get(slot, 0) + 1
        names = list(self.slots) if slot is None else [slot]
        stopped = 0
        for name in names:
            running = self.slots.pop(name, None)
            if running is None:
                continue
            if running.fan is not None:
                running.fan.cancel()
            if running.task is not None and not running.task.done():
                running.task.cancel()
                stopped += 1
        return stopped

    def start(self, rt: Runtime, trigger: Trigger, view: BufferView) -> None:
        """Cancel the slot's previous fan-out and start one for ``trigger``."""
        self.cancel(trigger.slot)
        running = _Running(seq=trigger.seq)
        self.slots[trigger.slot] = running
        started = time.perf_counter()
        running.task = rt.spawn(
            self._run(rt, trigger, view, running, started), what="completion"
        )

    async def _run(
        self, rt: Runtime, trigger: Trigger, view: BufferView, running: _Running,
        started: float,
    ) -> None:
        config = rt.config
        entries = config.entries("completion")
        if not entries:
            send_snapshot(rt, trigger, [], done=True,
                          problem="no completion entries configured (see :help hexai-config)")
            return
        from hexai_nvim.engine import DoneEvent, ErrorEvent
        from hexai_nvim.surfaces.completion import build_context, build_request

        ctx = build_context(view, config.general)
        prompts = config.prompts
        states = [EntryState(i, e.label, e.key) for i, e in enumerate(entries)]
        send_snapshot(rt, trigger, states, done=False)

        def request_for(entry: Entry) -> Request:
            return build_request(ctx, entry, prompts)

        fan = rt.engine.fan_out(entries, request_for)
        running.fan = fan
        remaining = len(entries)
        async for event in fan:
            if not isinstance(event, (DoneEvent, ErrorEvent)):
                continue
            remaining -= 1
            elapsed = int((time.perf_counter() - started) * 1000)
            apply_result(states[event.index], event.result, ctx, elapsed)
            if running.seq != trigger.seq or self.slots.get(trigger.slot) is not running:
                return  # superseded: never send a stale snapshot
            send_snapshot(rt, trigger, states, done=remaining == 0)
        if self.slots.get(trigger.slot) is running:
            del self.slots[trigger.slot]


def apply_result(state: EntryState, result: EntryResult, ctx: CursorContext, ms: int) -> None:
    """Fold an entry's final result into its state (cleaning the suggestion)."""
    from hexai_nvim.surfaces.completion import clean_suggestion
    from hexai_nvim.surfaces.format import stop_words

    state.ms = ms
    stats = result.stats
    state.ttft_ms = None if stats.ttft_ms is None else int(stats.ttft_ms)
    state.output_tokens = stats.output_tokens
    tps = stats.tokens_per_s
    state.tokens_per_s = None if tps is None else round(tps, 1)
    state.truncated = result.truncated
    state.stop_reason = result.stop_reason.value
    state.stop = stop_words(result) or None
    if result.error is not None and not (result.truncated and result.text.strip()):
        state.status = "error"
        state.error_kind = result.error.kind.value
        state.error_message = _short(result.error.message, result.error.status)
        log.info("completion %s failed: %s", state.label, result.error.kind.value)
        return
    text = clean_suggestion(result.text, ctx)
    state.text = text
    state.status = "ok" if text else "empty"


def _short(message: str, status: int | None) -> str:
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    if status is not None and str(status) not in first:
        first = f"HTTP {status}: {first}" if first else f"HTTP {status}"
    if len(first) > ERROR_MESSAGE_MAX:
        first = first[: ERROR_MESSAGE_MAX - 1] + "…"
    return first


def send_snapshot(
    rt: Runtime, trigger: Trigger, states: Sequence[EntryState], *, done: bool,
    problem: str | None = None,
) -> None:
    snapshot: dict[str, Any] = {
        "seq": trigger.seq,
        "slot": trigger.slot,
        "buf": trigger.buf,
        "row": trigger.row,
        "col": trigger.col,
        "done": done,
        "entries": [s.to_lua() for s in states],
    }
    if problem:
        snapshot["problem"] = problem
    rt.lua(LUA_MODULE, "on_update", snapshot)


# ---------------------------------------------------------------------------
# RPC methods
# ---------------------------------------------------------------------------

#: The completion state of a runtime (created on first use).
service = per_runtime(CompletionService)


def read_view(rt: Runtime, trigger: Trigger) -> BufferView:
    """Read the lines the context needs (one blocking API call, from a handler greenlet)."""
    from hexai_nvim.surfaces.completion import BufferView, fetch_range

    start, end = fetch_range(rt.config.general, trigger.row, trigger.line_count)
    lines = rt.nvim.api.buf_get_lines(trigger.buf, start, end, False)
    return BufferView(
        lines=tuple(_decode(line) for line in lines),
        first_line=start,
        row=trigger.row,
        col=trigger.col,
        path=trigger.path,
        filetype=trigger.filetype,
        commentstring=trigger.commentstring,
    )


def _decode(line: Any) -> str:
    if isinstance(line, bytes):
        return line.decode("utf-8", errors="replace")
    return str(line)


@method("complete")
def complete(rt: Runtime, payload: Payload) -> dict[str, Any]:
    """Start (or restart) the fan-out of ``payload['slot']`` for the cursor in the payload."""
    trigger = Trigger.from_payload(payload)
    svc = service(rt)
    svc.cancel(trigger.slot)  # before reading the buffer: stop the old requests at once
    epoch = svc.epoch(trigger.slot)
    # A blocking call: other notifications run meanwhile (pynvim greenlets).
    view = read_view(rt, trigger)
    if svc.epoch(trigger.slot) != epoch:
        return {"seq": trigger.seq, "started": False}  # cancelled or superseded meanwhile
    svc.start(rt, trigger, view)
    return {"seq": trigger.seq}


@method("cancel")
def cancel(rt: Runtime, payload: Payload) -> dict[str, Any]:
    """Cancel the running fan-out of ``payload['slot']`` (every slot when absent)."""
    slot = payload.get("slot") if isinstance(payload, Mapping) else None
    stopped = service(rt).cancel(slot if isinstance(slot, str) and slot else None)
    return {"stopped": stopped}
