"""What a fan-out tells its consumer while it runs: one small value per happening.

Owns the event types of :class:`~hexai_nvim.engine.fanout.FanOut` iteration. What a
caller may rely on: per entry, a :class:`StartEvent` when its request leaves the
queue, :class:`ChunkEvent` for each piece of text, a :class:`RestartEvent` when a
cut answer is asked again (drop the text shown), a :class:`FallbackEvent` when the
slot now runs its fallback, and exactly one :class:`DoneEvent` or
:class:`ErrorEvent` at the end. ``index`` is the position in the entries handed to
``fan_out()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hexai_nvim import resilience
from hexai_nvim.config.model import Entry
from hexai_nvim.engine.results import EntryResult, ErrorInfo


@dataclass(frozen=True)
class StartEvent:
    """The entry left the queue and its request is under way."""

    index: int
    entry: Entry


@dataclass(frozen=True)
class RestartEvent:
    """The server cut the entry's answer and it is being asked again: drop the
    text shown so far (the new answer's chunks follow)."""

    index: int
    entry: Entry
    reason: str


@dataclass(frozen=True)
class FallbackEvent:
    """The entry failed without text and now runs as its fallback: the slot's
    label becomes :attr:`label`; its chunks and final event follow."""

    index: int
    entry: Entry
    fallback: Entry
    error: ErrorInfo

    @property
    def label(self) -> str:
        return resilience.fallback_label(self.entry.label, self.fallback.label)


@dataclass(frozen=True)
class ChunkEvent:
    index: int
    entry: Entry
    text: str


@dataclass(frozen=True)
class DoneEvent:
    index: int
    entry: Entry
    result: EntryResult


@dataclass(frozen=True)
class ErrorEvent:
    index: int
    entry: Entry
    result: EntryResult


Event = StartEvent | ChunkEvent | RestartEvent | FallbackEvent | DoneEvent | ErrorEvent
