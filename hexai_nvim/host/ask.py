"""Host handlers of ``:HexaiAsk``: fan a question out to every ``ask`` entry.

RPC methods (Lua → host, all notifications):

- ``ask.start`` ``{prompt, context?: {text, filename, filetype}}``: start a new
  ask (the one still running, if any, is cancelled: the view shows one ask);
- ``ask.retry``: run the last prompt (and context) again;
- ``ask.cancel``: stop every entry still running;
- ``ask.vote`` ``{id, index?, action}``: a vote in the view (``vote``,
  ``all_bad``) or a yank/put of an answer (``yank``, ``insert``), recorded in
  the arena (:mod:`hexai_nvim.arena`); in blind mode a vote reveals;
- ``ask.export`` ``{path?}``: the last ask as Markdown
  (:mod:`hexai_nvim.surfaces.export`), written to ``path`` or sent to
  ``require('hexai.arena').open_markdown(lines)``;
- ``ask.seed`` ``{seed}``: seed the blind shuffle (tests, reproducible demos).

Blind mode (``[arena] blind`` and two or more entries): each question gets a
fresh shuffled order (:class:`~hexai_nvim.surfaces.ask_blind.BlindAsk`); Lua
gets the entries in that order, as "Answer A", "Answer B"..., every update
passes :meth:`BlindAsk.present` (no names, timings, token counts or error
texts) and the fastest mark waits, until a vote reveals: then every entry's
whole state is sent again (with the scrubbed error text), the fastest mark,
``on_reveal(id)`` and one message naming the letters.

Host → Lua (``require('hexai.ask')``), in this order per ask:

- ``on_begin(id, {prompt, entries = {entry state}, layout})``: each entry's
  :class:`~hexai_nvim.surfaces.entry_state.EntryState` (``status`` ``pending``);
- ``on_update(id, index, update)`` any number of times, where ``update`` has
  ``status`` (the entry-state vocabulary: ``pending``, ``streaming``, ``ok``,
  ``error`` (with ``truncated`` when text came before it), ``cancelled``),
  maybe ``reset`` (drop the text so far: the server cut the answer and it is
  asked again), maybe ``label`` (a fallback answers), maybe ``append`` (text
  to add); the last update of an entry is its whole entry state
  (:func:`final_update`: ``stats``, ``error_kind``/``error_message``/
  ``error_status``, ``stop_reason`` and ``score``, the scoreboard's figures);
- ``on_fastest(id, index)`` when an answered entry is the fastest so far
  (lowest total time of the entries that answered);
- ``on_reveal(id)`` (blind mode) once the names are shown.

Indexes sent to Lua are the shown slots (the entry index outside blind mode).

Streamed text is batched per entry (:class:`StreamBatcher`): Neovim gets at
most one update per entry every :data:`FLUSH_INTERVAL_S`, however fast the
model writes, so a long answer never makes the editor stutter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hexai_nvim.host.ignore import refuse_ignored
from hexai_nvim.host.rpc import Payload, method, per_runtime
from hexai_nvim.host.runtime import ERROR, INFO, WARN, Runtime
from hexai_nvim.surfaces.entry_state import EntryState, result_state
from hexai_nvim.surfaces.format import header_stats, score_figures

# The engine (and with it the providers) and the prompt builders are imported
# inside the handlers: Neovim waits while the host imports this module.
if TYPE_CHECKING:
    from hexai_nvim.config.model import Entry
    from hexai_nvim.engine.fanout import FanOut
    from hexai_nvim.engine.results import EntryResult
    from hexai_nvim.surfaces.ask import AskContext
    from hexai_nvim.surfaces.ask_blind import BlindAsk

log = logging.getLogger("hexai_nvim.host.ask")

#: Longest time text may wait before it is drawn; also the shortest gap
#: between two draws of one entry.
FLUSH_INTERVAL_S = 0.03

LUA_MODULE = "hexai.ask"


# ---------------------------------------------------------------------------
# Formatting shared with the other surfaces
# ---------------------------------------------------------------------------


def final_update(result: EntryResult) -> dict[str, Any]:
    """The last update of an entry: its entry state (the one every surface
    sends, :func:`~hexai_nvim.surfaces.entry_state.result_state`) with the
    header's stats line, the scoreboard's figures and the provider's whole
    error message. Its ``text`` is empty: the view has it from the stream."""
    state = result_state(result, stats=header_stats(result), full_error=True)
    state.score = score_figures(result)
    return state.to_lua()


# ---------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------


class StreamBatcher:
    """Coalesce streamed text per entry: at most one flush per entry per interval.

    ``add`` sends at once when the entry has not been flushed for
    ``interval_s``; otherwise it keeps the text and arms one timer that flushes
    when the interval is up. ``flush`` sends what is pending now (call it
    before an entry's final update so the order holds). Must be used on the
    loop it was given.
    """

    def __init__(
        self,
        send: Callable[[int, str], None],
        *,
        interval_s: float = FLUSH_INTERVAL_S,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = interval_s
        self._loop = loop or asyncio.get_running_loop()
        self._clock = clock
        self._pending: dict[int, list[str]] = {}
        self._last: dict[int, float] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}

    def add(self, index: int, text: str) -> None:
        if not text:
            return
        self._pending.setdefault(index, []).append(text)
        if index in self._timers:
            return
        waited = self._clock() - self._last.get(index, float("-inf"))
        if waited >= self._interval:
            self.flush(index)
        else:
            self._timers[index] = self._loop.call_later(
                self._interval - waited, self._on_timer, index
            )

    def _on_timer(self, index: int) -> None:
        self._timers.pop(index, None)
        self.flush(index)

    def flush(self, index: int) -> None:
        timer = self._timers.pop(index, None)
        if timer is not None:
            timer.cancel()
        pieces = self._pending.pop(index, None)
        if pieces:
            self._last[index] = self._clock()
            self._send(index, "".join(pieces))

    def drop(self, index: int) -> None:
        """Forget what is pending for ``index`` (its answer starts over)."""
        timer = self._timers.pop(index, None)
        if timer is not None:
            timer.cancel()
        self._pending.pop(index, None)

    def close(self) -> None:
        """Flush everything pending and stop the timers."""
        for index in list(self._pending):
            self.flush(index)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class FastestAnswer:
    """The answered entry with the lowest total time, as results come in."""

    def __init__(self) -> None:
        self.index: int | None = None
        self._total: float | None = None

    def add(self, index: int, result: EntryResult) -> bool:
        """Take one finished entry; True when it is the new fastest."""
        total = result.stats.total_ms
        if result.error is not None or total is None:
            return False
        if self._total is not None and total >= self._total:
            return False
        self.index, self._total = index, total
        return True


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------


@dataclass
class AskRun:
    """One ask in flight (or finished): what was asked and how to stop it."""

    id: int
    prompt: str
    context: AskContext | None
    fan: FanOut | None = None
    task: asyncio.Task[Any] | None = None
    #: Entry indexes that have had their final update.
    finished: set[int] = field(default_factory=set)
    #: Final results by entry index (for :HexaiAskExport and the arena's votes).
    results: dict[int, EntryResult] = field(default_factory=dict)
    #: The entries asked, in config order.
    entries: tuple[Entry, ...] = ()
    #: The label voted best ("all bad" for none), once the person voted.
    vote: str | None = None
    #: Blind mode: the shuffled order and whether it was revealed (None: not blind).
    blind: BlindAsk | None = None
    fastest: FastestAnswer = field(default_factory=FastestAnswer)
    #: The arena's record of this ask: its outcome id and the action kept.
    outcome_id: str = ""
    preference: str | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def cancel(self) -> bool:
        """Stop what is still running; True when something was."""
        if not self.running:
            return False
        if self.fan is not None:
            self.fan.cancel()
        elif self.task is not None:
            self.task.cancel()
        return True


@dataclass
class AskState:
    next_id: int = 1
    current: AskRun | None = None
    #: Shuffles blind questions (``ask.seed`` fixes it).
    rng: random.Random = field(default_factory=random.Random)


#: The ask state of a host (one per :class:`Runtime`).
state = per_runtime(AskState)


# ---------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------


def parse_context(raw: Any) -> AskContext | None:
    """The editor context sent by Lua (``None`` when absent or empty)."""
    if not isinstance(raw, dict):
        return None
    text = raw.get("text")
    if not isinstance(text, str) or not text:
        return None
    filename = raw.get("filename")
    filetype = raw.get("filetype")
    from hexai_nvim.surfaces.ask import AskContext

    return AskContext(
        text=text,
        filename=filename if isinstance(filename, str) else "",
        filetype=filetype if isinstance(filetype, str) else "",
    )


@method("ask.start")
def ask_start(rt: Runtime, payload: Payload) -> int | None:
    """Start an ask; returns its id (None when nothing was started)."""
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        rt.notify("hexai: :HexaiAsk needs a question", WARN)
        return None
    raw = payload.get("context")
    if isinstance(raw, dict) and refuse_ignored(rt, raw, ":HexaiAsk"):
        return None
    return start(rt, prompt.strip(), parse_context(raw))


@method("ask.retry")
def ask_retry(rt: Runtime, payload: Payload) -> int | None:
    last = state(rt).current
    if last is None:
        rt.notify("hexai: nothing to retry yet: ask something with :HexaiAsk first", WARN)
        return None
    return start(rt, last.prompt, last.context)


@method("ask.cancel")
def ask_cancel(rt: Runtime, payload: Payload) -> bool:
    current = state(rt).current
    return current.cancel() if current is not None else False


@method("ask.seed")
def ask_seed(rt: Runtime, payload: Payload) -> bool:
    """Seed the blind shuffle: the same seed gives the same orders."""
    seed = payload.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        return False
    state(rt).rng = random.Random(seed)
    return True


def start(rt: Runtime, prompt: str, context: AskContext | None) -> int | None:
    """Cancel the running ask (if any), tell Lua about the new one, start it."""
    st = state(rt)
    config = rt.config
    entries = config.entries("chat")
    if not entries:
        rt.notify("hexai: no ask entries are configured (see :help hexai-config-models)", ERROR)
        return None
    if st.current is not None:
        st.current.cancel()
    run = AskRun(id=st.next_id, prompt=prompt, context=context, entries=tuple(entries))
    st.next_id += 1
    st.current = run
    shown = [EntryState(index=i, label=e.label, key=e.key).to_lua()
             for i, e in enumerate(entries)]
    if config.arena.blind and len(entries) >= 2:
        from hexai_nvim.surfaces.ask_blind import BlindAsk

        run.blind = BlindAsk.shuffled(len(entries), st.rng)
        shown = [run.blind.present(real, shown[real])[1] for real in run.blind.perm]
    layout = config.ui.get("ask_layout", "auto")
    rt.lua(LUA_MODULE, "on_begin", run.id, {
        "prompt": prompt,
        "layout": layout if isinstance(layout, str) else "auto",
        "entries": shown,
        "blind": run.blind is not None,
    })

    from hexai_nvim.surfaces.ask import build_ask_request

    def request_for(entry: Any) -> Any:
        return build_ask_request(prompt, entry, config, context)

    async def go() -> None:
        await run_ask(rt, run, lambda: rt.engine.fan_out(entries, request_for))

    run.task = rt.spawn(go(), what="ask")
    return run.id


async def run_ask(rt: Runtime, run: AskRun, make_fan: Callable[[], FanOut]) -> None:
    """Follow the fan-out of ``run`` and forward it to Lua, batched."""
    from hexai_nvim.engine.events import (
        ChunkEvent,
        DoneEvent,
        ErrorEvent,
        FallbackEvent,
        RestartEvent,
        StartEvent,
    )

    def send(index: int, update: dict[str, Any]) -> None:
        send_update(rt, run, index, update)

    batcher = StreamBatcher(lambda i, text: send(i, {"status": "streaming", "append": text}))
    fastest = run.fastest
    fan = make_fan()
    run.fan = fan
    try:
        async for event in fan:
            if isinstance(event, ChunkEvent):
                batcher.add(event.index, event.text)
            elif isinstance(event, StartEvent):
                send(event.index, {"status": "pending", "started": True})
            elif isinstance(event, RestartEvent):
                batcher.drop(event.index)
                send(event.index, {"status": "pending", "reset": True})
            elif isinstance(event, FallbackEvent):
                # The primary failed before any text: the slot now waits for
                # its fallback, and its header says so.
                batcher.drop(event.index)
                send(event.index, {"status": "pending", "reset": True,
                                   "label": event.label})
            elif isinstance(event, (DoneEvent, ErrorEvent)):
                batcher.flush(event.index)
                run.finished.add(event.index)
                run.results[event.index] = event.result
                send(event.index, final_update(event.result))
                if fastest.add(event.index, event.result) and not hidden(run):
                    rt.lua(LUA_MODULE, "on_fastest", run.id, shown_index(run, event.index))
    finally:
        batcher.close()


# ---------------------------------------------------------------------------
# Blind mode
# ---------------------------------------------------------------------------


def hidden(run: AskRun) -> bool:
    """Blind and not revealed yet."""
    return run.blind is not None and not run.blind.revealed


def shown_index(run: AskRun, index: int) -> int:
    return index if run.blind is None else run.blind.shown(index)


def send_update(rt: Runtime, run: AskRun, index: int, update: dict[str, Any]) -> None:
    """Entry ``index``'s update to Lua, as blind mode lets it be seen."""
    if run.blind is not None:
        index, update = run.blind.present(index, update)
    rt.lua(LUA_MODULE, "on_update", run.id, index, update)


def reveal(rt: Runtime, run: AskRun) -> None:
    """Show the names: every entry's whole state again, the fastest mark."""
    if run.blind is None or run.blind.revealed:
        return
    run.blind.revealed = True
    for index, entry in enumerate(run.entries):
        result = run.results.get(index)
        if result is not None:
            send_update(rt, run, index, final_update(result))
        else:  # still running: its name now, its figures when it ends
            send_update(rt, run, index, {"label": entry.label, "key": entry.key})
    if run.fastest.index is not None:
        rt.lua(LUA_MODULE, "on_fastest", run.id, shown_index(run, run.fastest.index))
    rt.lua(LUA_MODULE, "on_reveal", run.id)


def labels(run: AskRun) -> list[str]:
    """The entries' labels (a fallback's result names both)."""
    return [run.results[i].label if i in run.results else e.label
            for i, e in enumerate(run.entries)]


# ---------------------------------------------------------------------------
# The arena: votes and the export
# ---------------------------------------------------------------------------


@method("ask.vote")
def ask_vote(rt: Runtime, payload: Payload) -> bool:
    """A vote, yank or put in the ask view: one outcome per ask (a vote wins).

    ``index`` is the shown slot. In blind mode a vote (or "all bad") reveals
    the names in the same message; a yank or put does not."""
    import secrets

    from hexai_nvim.arena.record import ASK_ACTIONS, ask_outcome
    from hexai_nvim.host.arena import outcome_store

    run = state(rt).current
    action = payload.get("action")
    if run is None or payload.get("id") != run.id or action not in ASK_ACTIONS:
        return False
    explicit = action in ("vote", "all_bad")
    if not explicit and run.preference is not None:
        return False  # the first yank/put, or an explicit vote, already says it
    index = payload.get("index")
    chosen = index if isinstance(index, int) and not isinstance(index, bool) else None
    if run.blind is not None:
        chosen = run.blind.real(chosen)
    results = [run.results[i] for i in sorted(run.results)]
    revealing = explicit and hidden(run)
    if revealing:
        reveal(rt, run)
    previous = run.vote
    if explicit:
        run.vote = "all bad" if action == "all_bad" else shown_label(run, chosen or 0)
    if not run.outcome_id:
        run.outcome_id = "ask-" + secrets.token_hex(6)
    outcome = ask_outcome(outcome_id=run.outcome_id, prompt=run.prompt, results=results,
                          action=str(action), chosen=chosen,
                          slots=None if run.blind is None else run.blind.slots(),
                          blind=run.blind is not None,
                          keep_text=rt.config.arena.store_text)
    recorded = outcome is not None and rt.config.arena.record and outcome_store(rt).append(outcome)
    if recorded:
        run.preference = str(action)
    if explicit:
        all_bad = action == "all_bad"
        if revealing and run.blind is not None:  # one short line: the names, ✓ the choice
            from hexai_nvim.arena.record import reveal_words

            words = reveal_words(labels(run), run.blind.perm, None if all_bad else chosen)
            what = f"all bad · {words}" if all_bad else words
        else:
            what = "every answer is bad" if all_bad else f"{run.vote} is the best"
        notes = [] if previous is None else ["replaces your earlier vote"]
        if not recorded:
            notes.append("not recorded: it needs two different answers")
        rt.notify(f"hexai: vote: {what}" + (f" ({'; '.join(notes)})" if notes else ""), INFO)
    return bool(recorded)


def shown_label(run: AskRun, index: int) -> str:
    """Entry ``index``'s label as the view shows it now."""
    label = labels(run)[index] if 0 <= index < len(run.entries) else "?"
    return label if run.blind is None else run.blind.label(index, label)


@method("ask.export")
def ask_export(rt: Runtime, payload: Payload) -> bool:
    """The last ask as Markdown, to ``payload['path']`` or a new buffer.

    In blind mode before the vote the export is blind too: the answers in
    their shown order as "Answer A"..., no names, stats or error texts."""
    from hexai_nvim.secrets import scrub
    from hexai_nvim.surfaces.export import ask_markdown

    run = state(rt).current
    if run is None or not run.results:
        rt.notify("hexai: nothing to export yet: ask something with :HexaiAsk first", WARN)
        return False
    order = sorted(run.results, key=lambda i: shown_index(run, i))
    results = [run.results[i] for i in order]
    context = run.context.filename if run.context is not None else ""
    if run.blind is None:
        text = ask_markdown(run.prompt, results, vote=run.vote, context_name=context)
    else:
        text = ask_markdown(run.prompt, results, vote=run.vote, context_name=context,
                            labels=[shown_label(run, i) for i in order],
                            blind=hidden(run))
    if run.running:
        text += "\n_(exported while some entries were still running)_\n"
    path = payload.get("path")
    if isinstance(path, str) and path.strip():
        target = os.path.expanduser(path.strip())
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(scrub(text))  # leaves the process: the one scrubber
        except OSError as exc:
            rt.notify(f"hexai: cannot write {target}: {exc.strerror or exc}", ERROR)
            return False
        rt.notify(f"hexai: comparison written to {target}", INFO)
        return True
    rt.lua("hexai.arena", "open_markdown", text.split("\n"))
    return True
