"""Host handlers of the completion surface (registered with :func:`hexai_nvim.host.rpc.method`).

Lua debounces keystrokes and sends ``complete`` with a sequence number and
the buffer lines the context needs (bounded in characters, see
:func:`hexai_nvim.surfaces.completion.context_limits`; one string joined by
newlines with its line count, so the host decodes one value, not one per
line); this module starts one
fan-out over the ``completion`` entries and sends a snapshot of every entry's
state to ``require('hexai.completion').on_update(snapshot)`` as the entries
stream and finish.

Rules a caller may rely on:

- One fan-out per *slot* (``"ghost"`` for the inline suggestions, ``"menu"``,
  ``"cmp"``, ``"blink"`` for the completion menus). A new ``complete`` in a
  slot cancels that slot's running fan-out first: its HTTP connections close
  and nothing more is sent for its ``seq``.
- Every snapshot carries the ``seq`` and ``slot`` it answers, so Lua can drop
  a late one. Entries are listed in config order, each an
  :class:`~hexai_nvim.surfaces.entry_state.EntryState` (``status``, ``text``,
  ``stats``, error fields, ``stop_reason``); ``ms`` is the time from the
  trigger reaching the host to the entry's end.
- In the ``ghost`` slot an entry's text is sent while it streams (status
  ``streaming``, text cleaned so far; one snapshot per burst of chunks). The
  menu slots get finished answers only.
- An entry with no token after :data:`STALL_AFTER_S` says so in its ``stats``
  (``… no answer after 1 s``), updated every second until it ends.
- ``cancel`` stops a slot (or every slot) without sending anything. A cancel
  or a newer ``complete`` that arrives while a ``complete`` handler still reads
  the buffer wins: that trigger never starts.
- Errors of an entry are shown in its line, never through ``vim.notify``,
  with one exception: an entry failing with ``auth`` or ``config`` is muted
  (status ``muted``, not asked) until the configuration changes or a manual
  trigger (``:HexaiComplete``), and the person is told once how to fix it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hexai_nvim.host import arena
from hexai_nvim.host.ignore import ignored, refuse_ignored
from hexai_nvim.host.rpc import Payload, method, per_runtime
from hexai_nvim.host.runtime import WARN
from hexai_nvim.surfaces.entry_state import EntryState

# The engine and the prompt builders (with the providers they import) are
# imported inside the handlers: Neovim waits while the host imports this module.
if TYPE_CHECKING:
    from hexai_nvim.config.model import Entry
    from hexai_nvim.engine.fanout import FanOut
    from hexai_nvim.engine.results import EntryResult
    from hexai_nvim.host.runtime import Runtime
    from hexai_nvim.providers.base import FimFile, Request
    from hexai_nvim.surfaces.completion import BufferView, CursorContext

log = logging.getLogger("hexai_nvim.host.completion")

#: Lua module that receives the snapshots.
LUA_MODULE = "hexai.completion"


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
    #: The lines Lua sent with the trigger (buffer line ``first_line`` first),
    #: or None: then the host reads them from Neovim.
    lines: tuple[str, ...] | None = None
    first_line: int = 0
    #: The buffer's full name (``[ignore]`` judges it); ``path`` is for the prompt.
    file: str = ""

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
        lines: tuple[str, ...] | None = None
        first_line = 0
        raw_lines = payload.get("lines")
        raw_text = payload.get("text")
        if raw_text is not None:
            # The lines joined by "\n" with their count: a count that differs
            # means a line held a "\n" (a NUL in the buffer): read them instead.
            if not isinstance(raw_text, (str, bytes)):
                raise ValueError("complete: text must be a string")
            split = _decode(raw_text).split("\n")
            if len(split) == num("text_lines"):
                lines = tuple(split)
                first_line = num("first_line", 0)
        elif raw_lines is not None:
            if not isinstance(raw_lines, (list, tuple)):
                raise ValueError("complete: lines must be a list of strings")
            if set(map(type, raw_lines)) <= {str}:  # what pynvim gives: no per-line work
                lines = tuple(raw_lines)
            elif all(isinstance(line, (str, bytes)) for line in raw_lines):
                lines = tuple(map(_decode, raw_lines))
            else:
                raise ValueError("complete: lines must be a list of strings")
            first_line = num("first_line", 0)
        if lines is not None and not first_line <= row - 1 < first_line + len(lines):
            raise ValueError(
                f"complete: lines (from {first_line}, {len(lines)}) miss the cursor row"
            )
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
            lines=lines,
            first_line=first_line,
            file=text("file"),
        )


@dataclass
class _Running:
    seq: int
    task: asyncio.Task[Any] | None = None
    fan: FanOut | None = None
    #: Timers of this run (the stalled-line updates), cancelled with it.
    handles: list[asyncio.TimerHandle] = field(default_factory=list)


@dataclass
class CompletionService:
    """Per-host state of the completion surface: the running fan-out of each slot."""

    slots: dict[str, _Running] = field(default_factory=dict)
    #: Bumped by every cancel of a slot (a new trigger cancels too): a trigger
    #: that was cancelled while its handler waited for Neovim never starts.
    epochs: dict[str, int] = field(default_factory=dict)
    _all_epoch: int = 0
    #: Entry key -> error kind of entries muted after an auth/config failure,
    #: valid for ``muted_config`` only (a new config asks them again).
    muted: dict[str, str] = field(default_factory=dict)
    #: Entries the person was told about (once per config, manual retries included).
    named: set[str] = field(default_factory=set)
    muted_config: object = None

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

    def mute(self, rt: Runtime, state: EntryState) -> None:
        """Stop asking an entry that failed with auth/config until the config
        changes or a manual trigger; tell the person once, naming the fix."""
        self.is_muted(rt, state.key)  # forget mutes of an older config
        self.muted[state.key] = state.error_kind or "error"
        if state.key in self.named:
            return
        self.named.add(state.key)
        fix = (
            "check its API key (api_key_env / api_key_cmd of its provider)"
            if state.error_kind == "auth"
            else "fix the configuration"
        )
        rt.notify(
            f"hexai: completion entry {state.label} paused after {state.error_kind}: "
            f"{state.error_message}\nTo resume, {fix} and run :HexaiConfigReload "
            "(or :HexaiComplete to try it once).",
            WARN,
        )

    def is_muted(self, rt: Runtime, key: str) -> bool:
        if self.muted_config is not rt.config:
            # The config changed: ask again, and tell again if it still fails.
            self.muted, self.named, self.muted_config = {}, set(), rt.config
        return key in self.muted

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
        from hexai_nvim.engine.events import ChunkEvent, DoneEvent, ErrorEvent, FallbackEvent
        from hexai_nvim.surfaces.completion import (
            answer_tokens,
            build_context,
            build_request,
            fit_context,
        )

        ctx = build_context(view, config.general)
        prompts = config.prompts
        states = [EntryState(i, e.label, e.key) for i, e in enumerate(entries)]
        results = arena.remember(rt, trigger.seq, trigger.slot, states, ctx)  # outcomes
        if trigger.manual:
            self.muted.clear()  # an explicit ask tries every entry again
        asked = []
        for state, entry in zip(states, entries, strict=True):
            if self.is_muted(rt, entry.key):
                state.status, state.stats = "muted", "paused"
            else:
                asked.append(state)
        if not asked:
            send_snapshot(rt, trigger, states, done=True)
            return

        #: The context per budget: built once, shared by entries whose servers
        #: take the same (one build per trigger when no server is smaller).
        contexts = {config.general.max_context_tokens: ctx}

        def request_for(entry: Entry) -> Request:
            # A server that stated (or showed) a smaller context gets less text.
            general = fit_context(config.general, rt.engine.context_tokens(entry),
                                  answer_tokens(entry)) or config.general
            fitted = contexts.get(general.max_context_tokens)
            if fitted is None:
                fitted = contexts[general.max_context_tokens] = build_context(view, general)
            return build_request(fitted, entry, prompts)

        fan = rt.engine.fan_out([entries[s.index] for s in asked], request_for)
        running.fan = fan
        loop = asyncio.get_running_loop()
        # The requests go out first (each entry's task runs to its first wait,
        # the HTTP answer): the pending snapshot is drawn while they travel.
        await asyncio.sleep(0)
        if running.seq != trigger.seq or self.slots.get(trigger.slot) is not running:
            return
        send_snapshot(rt, trigger, states, done=False)
        stream = trigger.slot == "ghost"  # the menus show finished answers only
        parts: dict[int, list[str]] = {}
        #: Entries whose text streamed on since it was last cleaned: cleaned
        #: once per snapshot (a burst of chunks), not once per chunk.
        dirty: set[int] = set()
        flush: asyncio.Handle | None = None

        def send(done: bool) -> None:
            for index in dirty:
                asked[index].text = clean_partial("".join(parts[index]), ctx)
            dirty.clear()
            send_snapshot(rt, trigger, states, done=done)

        def current() -> bool:
            return running.seq == trigger.seq and self.slots.get(trigger.slot) is running

        def send_streamed() -> None:
            nonlocal flush
            flush = None
            if current():
                send(False)

        def stalled(after_s: int) -> None:
            if not current():
                return
            quiet = [s for s in asked if s.status == "pending"]
            for state in quiet:
                state.stats = f"… no answer after {after_s} s"
            if quiet:
                send(False)
                running.handles.append(loop.call_later(STALL_AFTER_S, stalled, after_s + 1))

        running.handles.append(loop.call_later(STALL_AFTER_S, stalled, 1))
        remaining = len(asked)
        try:
            async for event in fan:
                if isinstance(event, ChunkEvent):
                    if not stream:
                        continue
                    state = asked[event.index]
                    parts.setdefault(event.index, []).append(event.text)
                    state.status, state.stats = "streaming", "…"
                    dirty.add(event.index)
                    if flush is None:  # one snapshot for a burst of chunks
                        flush = loop.call_soon(send_streamed)
                    continue
                if isinstance(event, FallbackEvent):
                    # The primary failed before any text; its fallback runs in
                    # the same slot and the line is named for both.
                    state = asked[event.index]
                    state.label = event.label
                    parts.pop(event.index, None)
                    dirty.discard(event.index)
                    state.stats = f"… fallback after {event.error.kind.value}"
                    if flush is None:
                        flush = loop.call_soon(send_streamed)
                    continue
                if not isinstance(event, (DoneEvent, ErrorEvent)):
                    continue
                remaining -= 1
                elapsed = int((time.perf_counter() - started) * 1000)
                state = asked[event.index]
                dirty.discard(event.index)
                apply_result(state, event.result, ctx, elapsed)
                results[state.index] = event.result
                if not current():
                    return  # superseded: never send a stale snapshot
                if state.sticky_error:
                    self.mute(rt, state)
                if flush is not None:
                    flush.cancel()
                    flush = None
                send(remaining == 0)
        finally:
            if flush is not None:
                flush.cancel()
            for handle in running.handles:
                handle.cancel()
        if self.slots.get(trigger.slot) is running:
            del self.slots[trigger.slot]


#: A pending entry's line says "no answer after N s" from this many seconds on.
STALL_AFTER_S = 1.0


def clean_partial(text: str, ctx: CursorContext) -> str:
    """The cleaned text of an answer still streaming ("" while nothing usable came)."""
    from hexai_nvim.surfaces.completion import clean_suggestion

    return clean_suggestion(text, ctx)


def apply_result(state: EntryState, result: EntryResult, ctx: CursorContext, ms: int) -> None:
    """Fold an entry's final result into its state (cleaning the suggestion)."""
    from hexai_nvim.surfaces.completion import clean_suggestion

    state.finish(result, ms)
    if state.status != "ok" and not (result.truncated and result.text.strip()):
        state.text = ""
        if state.status == "error":
            log.info("completion %s failed: %s", state.label, state.error_kind)
        return
    text = clean_suggestion(result.text, ctx)
    state.text = text
    state.status = "ok" if text else "empty"


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
    rt.lua(LUA_MODULE, "on_update", arena.present(rt, snapshot))  # blind mode


# ---------------------------------------------------------------------------
# RPC methods
# ---------------------------------------------------------------------------

#: The completion state of a runtime (created on first use).
service = per_runtime(CompletionService)


def read_view(rt: Runtime, trigger: Trigger) -> BufferView:
    """The lines around the cursor: those Lua sent, else read from Neovim (one
    blocking API call, from a handler greenlet)."""
    from hexai_nvim.surfaces.completion import BufferView, fetch_range

    if trigger.lines is not None:
        lines, start = trigger.lines, trigger.first_line
    else:
        start, end = fetch_range(rt.config.general, trigger.row, trigger.line_count)
        raw = rt.nvim.api.buf_get_lines(trigger.buf, start, end, False)
        lines = tuple(_decode(line) for line in raw)
    return BufferView(
        lines=lines,
        first_line=start,
        row=trigger.row,
        col=trigger.col,
        path=trigger.path,
        filetype=trigger.filetype,
        commentstring=trigger.commentstring,
        files=read_other_files(rt, trigger),
    )


#: The other listed, loaded, named buffers: their numbers and names.
_OTHER_BUFFERS_LUA = """
local current = ...
local out = {}
for _, buf in ipairs(vim.api.nvim_list_bufs()) do
  if buf ~= current and vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].buflisted
      and vim.bo[buf].buftype == '' then
    local name = vim.api.nvim_buf_get_name(buf)
    if name ~= '' then out[#out + 1] = { buf, name, vim.fn.fnamemodify(name, ':~:.') } end
  end
end
return out
"""

#: The first lines of the given buffers, as one string each.
_BUFFER_TEXTS_LUA = """
local bufs, chars = ...
local out = {}
for i, buf in ipairs(bufs) do
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, 400, false), '\\n') .. '\\n'
  out[i] = text:sub(1, chars)
end
return out
"""


def read_other_files(rt: Runtime, trigger: Trigger) -> tuple[FimFile, ...]:
    """Other open files as FIM context, when an entry's format takes them (none
    otherwise). Two blocking calls: the names first, so that buffers
    ``[ignore]`` keeps from models are skipped before their text is read."""
    from hexai_nvim.providers.base import FimFile
    from hexai_nvim.surfaces.completion import EXTRA_FILE_CHARS, EXTRA_FILES, wants_files

    if not wants_files(rt.config.entries("completion")):
        return ()
    try:
        chosen: list[tuple[int, str]] = []
        for item in rt.nvim.exec_lua(_OTHER_BUFFERS_LUA, trigger.buf) or ():
            if len(chosen) == EXTRA_FILES:
                break
            if (isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], int)
                    and ignored(rt, _decode(item[1])) is None):  # [ignore]d: never context
                chosen.append((item[0], _decode(item[2])))
        if not chosen:
            return ()
        texts = rt.nvim.exec_lua(_BUFFER_TEXTS_LUA, [buf for buf, _ in chosen], EXTRA_FILE_CHARS)
    except Exception:  # the extra context is optional; the completion is not
        log.debug("reading the other open buffers failed", exc_info=True)
        return ()
    return tuple(FimFile(name, _decode(text))
                 for (_, name), text in zip(chosen, texts or (), strict=False))


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
    where = {"file": trigger.file, "filename": trigger.path}
    if (refuse_ignored(rt, where, ":HexaiComplete") if trigger.manual
            else ignored(rt, trigger.file or trigger.path, tell=trigger.path or trigger.file)):
        send_snapshot(rt, trigger, [], done=True)  # [ignore]: nothing leaves for this file
        return {"seq": trigger.seq, "started": False, "ignored": True}
    epoch = svc.epoch(trigger.slot)
    # Without lines from Lua a blocking call: other notifications run meanwhile.
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
