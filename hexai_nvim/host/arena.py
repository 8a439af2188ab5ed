"""Host handlers of the arena: the ``:HexaiStats`` view, ``:HexaiAskExport``.

RPC methods (Lua -> host, notifications):

- ``arena.show`` ``{days?}``: read the outcome store in a worker thread (the
  editor never waits on the file) and send the leaderboard's lines to
  ``require('hexai.arena').show(lines, title)``;
- ``arena.outcome`` ``{seq, slot, action, chosen?, slots = {{index, slot}...}}``:
  what the person did with the suggestions of trigger ``seq`` in ``slot``
  (``ghost``, or a menu: ``menu`` the built-in popup, ``cmp``, ``blink``;
  indexes as Lua got them: shuffled in blind mode, mapped back here).
  Recorded when two or more distinct suggestions were seen; in blind mode a
  choice is followed by one message naming the models. One outcome per
  trigger: when ghost text and a menu both showed the same moment (the same
  text around the cursor up to a word typed between the two requests, a few
  seconds apart) they are *twins* with one outcome id and one blind order;
  the first report is written and a later choice of the twin replaces a
  "dismiss"/"moved on" (the store keeps the last line of an id), never the
  other way round.

The ask view's votes and ``:HexaiAskExport`` are handled by the ask host
(:mod:`hexai_nvim.host.ask`, ``ask.vote`` and ``ask.export``), which records
through :func:`outcome_store`.

The completion host calls :func:`remember` when a trigger starts and
:func:`present` on every snapshot (blind mode); that is all it knows of the arena.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hexai_nvim.host.rpc import Payload, method, per_runtime
from hexai_nvim.host.runtime import INFO, Runtime

if TYPE_CHECKING:
    from hexai_nvim.arena.store import Outcome, OutcomeStore
    from hexai_nvim.engine.results import EntryResult
    from hexai_nvim.surfaces.completion import CursorContext
    from hexai_nvim.surfaces.entry_state import EntryState

log = logging.getLogger("hexai_nvim.host.arena")

LUA_MODULE = "hexai.arena"
#: Triggers remembered for their outcome report (the latest few).
REMEMBERED_TRIGGERS = 16
#: A ghost trigger and a menu trigger of the same text this close are one trigger.
TWIN_WINDOW_S = 10.0
#: What the store calls each slot (``via``).
VIA = {"ghost": "ghost", "menu": "popup", "cmp": "cmp", "blink": "blink"}


@dataclass
class TriggerRecord:
    """A completion trigger as the arena needs it later (states and results fill in)."""

    seq: int
    slot: str
    states: list[EntryState]
    ctx: CursorContext
    results: dict[int, EntryResult] = field(default_factory=dict)
    #: Blind mode: perm[sent index] = entry index (None: not blind).
    perm: list[int] | None = None
    reported: bool = False
    #: The id its outcome is written under (shared with a twin).
    outcome_id: str = field(default_factory=lambda: secrets.token_hex(6))
    #: The same moment shown on the other surface (ghost text <-> a menu).
    twin: TriggerRecord | None = None
    #: What was written for it: None (nothing yet), else whether it chose one.
    chose: bool | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass
class ArenaState:
    triggers: OrderedDict[tuple[str, int], TriggerRecord] = field(default_factory=OrderedDict)
    #: Shuffles blind triggers; tests seed it.
    rng: random.Random = field(default_factory=random.Random)
    store: OutcomeStore | None = None


arena_state = per_runtime(ArenaState)


def _store(rt: Runtime) -> OutcomeStore:
    from hexai_nvim.arena.store import OutcomeStore, default_outcome_path

    st = arena_state(rt)
    keep = rt.config.arena.store_text
    if st.store is None or st.store.store_text != keep:
        st.store = OutcomeStore(default_outcome_path(), store_text=keep)
    return st.store


def outcome_store(rt: Runtime) -> OutcomeStore:
    """The outcome store of this host (the ask host records its votes in it)."""
    return _store(rt)


def remember(rt: Runtime, seq: int, slot: str, states: list[EntryState],
             ctx: CursorContext) -> dict[int, EntryResult]:
    """Keep a trigger for its outcome; returns the dict its results go into."""
    from hexai_nvim.arena.record import blind_order

    st = arena_state(rt)
    record = TriggerRecord(seq, slot, states, ctx)
    twin = _twin_of(st, record)
    if twin is not None:
        record.twin, twin.twin = twin, record
        record.outcome_id = twin.outcome_id
    if rt.config.arena.blind:
        if twin is not None and twin.perm is not None and len(twin.perm) == len(states):
            record.perm = list(twin.perm)  # the same letters on both surfaces
        else:
            record.perm = blind_order(len(states), st.rng)
    st.triggers[(slot, seq)] = record
    while len(st.triggers) > REMEMBERED_TRIGGERS:
        st.triggers.popitem(last=False)
    return record.results


def _twin_of(st: ArenaState, record: TriggerRecord) -> TriggerRecord | None:
    """The latest trigger of the other kind (ghost vs menu) for the same text, if recent."""
    ghost = record.slot == "ghost"
    for other in reversed(st.triggers.values()):
        if record.started - other.started > TWIN_WINDOW_S:
            break
        if (other.twin is None and (other.slot == "ghost") != ghost
                and _same_moment(other.ctx, record.ctx)):
            return other
    return None


def _same_moment(a: CursorContext, b: CursorContext) -> bool:
    """The same text around the cursor, up to a word typed between the two
    requests (a menu asks at a word's first key, the ghost text after a pause)."""
    if a.filetype != b.filetype or a.after != b.after:
        return False
    short, long = sorted((a.before, b.before), key=len)
    return long.startswith(short) and _WORD.fullmatch(long[len(short):]) is not None


_WORD = re.compile(r"\w*")


def present(rt: Runtime, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as Lua should get it (its blind form for a blind trigger)."""
    record = arena_state(rt).triggers.get((str(snapshot.get("slot")), int(snapshot["seq"])))
    if record is None or record.perm is None:
        return snapshot
    from hexai_nvim.arena.record import present_blind

    return present_blind(snapshot, record.perm, arena_state(rt).rng)


def _reveal(outcome: Outcome, perm: list[int], chosen: int | None) -> str:
    from hexai_nvim.arena.record import reveal_words

    return "hexai: " + reveal_words([c.label for c in outcome.candidates], perm, chosen)


@method("arena.outcome")
def arena_outcome(rt: Runtime, payload: Payload) -> bool:
    """Record what the person did with a completion trigger's suggestions."""
    from hexai_nvim.arena.record import completion_outcome, prompt_fingerprint

    config = rt.config.arena
    seq = payload.get("seq")
    if not config.record or not isinstance(seq, int):
        return False
    surface = str(payload.get("slot") or "ghost")
    record = arena_state(rt).triggers.get((surface, seq))
    if record is None or record.reported:
        return False
    record.reported = True
    perm = record.perm
    twin = record.twin

    def real(index: Any) -> int | None:
        if not isinstance(index, int) or isinstance(index, bool):
            return None
        if perm is None:
            return index
        return perm[index] if 0 <= index < len(perm) else None

    slots: dict[int, int] = {}
    for pair in payload.get("slots") or ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            index, slot = real(pair[0]), pair[1]
            if index is not None and isinstance(slot, int) and index not in slots:
                slots[index] = slot
    chosen = real(payload.get("chosen"))
    ctx = record.ctx
    outcome = completion_outcome(
        states=record.states,
        results=record.results,
        slots=slots,
        action=str(payload.get("action") or ""),
        chosen=chosen,
        blind=perm is not None,
        filetype=ctx.filetype,
        prompt=prompt_fingerprint(ctx.before, ctx.after),
        prompt_text=ctx.before + "<|cursor|>" + ctx.after,
        keep_text=config.store_text,
        via=VIA.get(surface, surface),
        outcome_id=record.outcome_id,
    )
    if outcome is None:
        return False
    chose = bool(outcome.chosen)
    if twin is not None and twin.chose is not None and (twin.chose or not chose):
        return False  # the twin already said it (a choice is never replaced)
    record.chose = chose
    _store(rt).append(outcome)
    if perm is not None and outcome.chosen:
        rt.notify(_reveal(outcome, perm, chosen), INFO)
    return True


def _days(payload: Payload) -> float | None:
    raw = payload.get("days")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = float(raw)
        except ValueError:
            return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    return None


@method("arena.show")
def arena_show(rt: Runtime, payload: Payload) -> None:
    """Open (or refresh) the ``:HexaiStats`` view with the leaderboard."""
    days = _days(payload)
    config = rt.config
    width = payload.get("width") if isinstance(payload, dict) else None
    fit = width if isinstance(width, int) and not isinstance(width, bool) and width > 0 else None

    async def go() -> None:
        from hexai_nvim.arena.report import arena_board, arena_text

        board = await asyncio.to_thread(arena_board, config, days=days)
        rt.lua(LUA_MODULE, "show", arena_text(board, days, fit).split("\n"))

    rt.spawn(go(), what="arena leaderboard")
