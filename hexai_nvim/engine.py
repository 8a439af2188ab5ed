"""Fan-out engine: one concurrent request per entry, streamed, timed, labelled.

INTERFACE CONTRACT (implementation pending): the public names below are what
the surfaces, the host and the CLI use. Keep their shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from hexai_nvim.config.model import Config, Entry
from hexai_nvim.providers.base import ErrorKind, Request


@dataclass(frozen=True)
class ErrorInfo:
    kind: ErrorKind
    message: str
    status: int | None = None


@dataclass(frozen=True)
class EntryStats:
    queued_ms: float  # time spent waiting for a concurrency slot
    ttft_ms: float | None
    total_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    tokens_estimated: bool
    bytes_sent: int
    bytes_received: int
    status: str  # "ok" | "error" | "truncated" | "cancelled"
    error_kind: str | None = None
    retries: int = 0

    @property
    def tokens_per_s(self) -> float | None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, object]:
        raise NotImplementedError


@dataclass(frozen=True)
class EntryResult:
    index: int
    entry: Entry
    text: str
    truncated: bool
    error: ErrorInfo | None
    stats: EntryStats

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class StartEvent:
    """The entry left the queue and its request is under way."""

    index: int
    entry: Entry


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


Event = StartEvent | ChunkEvent | DoneEvent | ErrorEvent

RequestFor = Request | Callable[[Entry], Request]


class FanOut:
    """A running fan-out. Tasks start when it is created; iterate to follow them."""

    entries: tuple[Entry, ...]

    def __aiter__(self) -> AsyncIterator[Event]:
        raise NotImplementedError

    def cancel(self, index: int | None = None) -> None:
        """Cancel one entry (by index) or all; their connections close at once."""
        raise NotImplementedError

    async def wait(self) -> list[EntryResult]:
        """Wait for every entry; results in entry order. Never raises for an entry."""
        raise NotImplementedError


class Engine:
    """Owns the HTTP sessions, concurrency limits, key cache and stats sink."""

    def __init__(self, config: Config) -> None:
        raise NotImplementedError

    def update_config(self, config: Config) -> None:
        raise NotImplementedError

    def fan_out(self, entries: Sequence[Entry], request: RequestFor) -> FanOut:
        """Start every entry now (must be called with a running loop)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
