"""What the engine hands out: an entry's result, its stats and its error, as values.

Owns :class:`ErrorInfo`, :class:`Measurement` (the measured fields, declared
once for the engine and the stats store), :class:`EntryStats`,
:class:`EntryResult` and :class:`ModelListing`, and the two rules that make
them: how an error becomes a stop reason (:func:`stop_for_error`) and how an
exception a provider let through becomes an error (:func:`error_from_exception`).

What a caller may rely on: every value is a frozen dataclass; nothing here does
I/O, and nothing here imports the rest of the engine, so the stats store and the
surfaces can name these types without loading the fan-out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass

from hexai_nvim import resilience
from hexai_nvim.config.model import Entry
from hexai_nvim.providers.base import ErrorKind, ProviderError, StopReason


@dataclass(frozen=True)
class ErrorInfo:
    """Why an entry failed. ``message`` is safe to show (no key material)."""

    kind: ErrorKind
    message: str
    status: int | None = None

    def label(self) -> str:
        """``kind: message`` (with the HTTP status when there is one)."""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.kind.value}{status}: {self.message}"


#: Below this, pieces arrived in one burst and no decode rate can be measured.
MIN_DECODE_WINDOW_MS = 20.0


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """What was measured of one request of one entry. Times in milliseconds.

    The fields :class:`EntryStats` (the engine's, in memory) and
    :class:`hexai_nvim.stats.StatsRecord` (the stats store's line) share,
    declared once here; the store copies them by name.
    """

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
    #: HTTP status of the last response, if any.
    http_status: int | None = None


@dataclass(frozen=True, kw_only=True)
class EntryStats(Measurement):
    """Measurements of one entry (the :class:`Measurement` fields and more).

    ``ttft_ms`` and ``total_ms`` count from the moment the request left the
    queue (``started_at``); ``queued_ms`` is the wait before that. Tokens come
    from the server's usage report (``"server"`` in ``input_source`` /
    ``output_source``). Without one, a streamed answer's output is the number
    of text pieces streamed (``"chunks"``: llama.cpp and Ollama send one token
    per piece, so this is exact there and close elsewhere), and anything else
    is estimated at about four characters per token (``"estimate"``).
    ``tokens_estimated`` is true when either count is not the server's. Counts
    are None when the request never started or failed without any answer.
    """

    #: Wall-clock time (epoch seconds) the entry was queued by ``fan_out()``.
    queued_at: float = 0.0
    #: Wall-clock time (epoch seconds) its request started, None if it never did.
    started_at: float | None = None
    #: Number of non-empty text pieces received.
    chunks: int = 0
    #: Where the counts came from: "server", "chunks" or "estimate" (None: no count).
    input_source: str | None = None
    output_source: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of generation.

        When the answer came in several pieces over a measurable time, this
        is the decode rate: the tokens after the first over the time from the
        first piece to the last (``total_ms - ttft_ms``), which is how
        llama.cpp reports its own eval rate. Otherwise (a whole answer at once:
        pieces that arrive in one burst would give absurd rates) all tokens
        over ``total_ms``. None when there is nothing to divide.
        """
        if not self.output_tokens or self.total_ms is None:
            return None
        decode = self.total_ms - self.ttft_ms if self.ttft_ms is not None else 0.0
        if self.chunks > 1 and self.output_tokens > 1 and decode >= MIN_DECODE_WINDOW_MS:
            return (self.output_tokens - 1) / (decode / 1000.0)
        if self.total_ms <= 0:
            return None
        return self.output_tokens / (self.total_ms / 1000.0)

    def to_dict(self) -> dict[str, object]:
        """Every field plus ``tokens_per_s``; JSON-serialisable."""
        data: dict[str, object] = asdict(self)
        rate = self.tokens_per_s
        data["tokens_per_s"] = None if rate is None else round(rate, 2)
        for name in ("queued_ms", "ttft_ms", "total_ms"):
            value = data[name]
            if isinstance(value, float):
                data[name] = round(value, 3)
        return data


def stop_for_error(error: ErrorInfo | None) -> StopReason:
    """The stop reason of an entry that ended with ``error`` (None: it answered)."""
    if error is None:
        return StopReason.STOP
    if error.kind is ErrorKind.TIMEOUT:
        return StopReason.TIMEOUT
    if error.kind is ErrorKind.CANCELLED:
        return StopReason.CANCELLED
    return StopReason.ERROR


@dataclass(frozen=True)
class EntryResult:
    """The outcome of one entry. ``text`` is kept even when it failed.

    ``stop_reason`` says how it ended (:class:`StopReason`): ``stop`` or
    ``length`` for an answer (``ok``), ``cut`` when the server ended the
    stream without its end signal (an error, with the text so far),
    ``timeout``, ``cancelled`` or ``error`` otherwise. ``finish_reason`` is
    the server's own word (``stop``, ``end_turn``, ``length`` ...), if it
    sent one.
    """

    index: int
    entry: Entry
    text: str
    truncated: bool
    error: ErrorInfo | None
    stats: EntryStats
    stop_reason: StopReason = None  # type: ignore[assignment]  # from error when not given
    finish_reason: str | None = None
    #: The entry this result stands in for when ``entry`` is its fallback.
    fallback_of: Entry | None = None
    #: Why ``fallback_of`` failed (set with it).
    first_error: ErrorInfo | None = None

    def __post_init__(self) -> None:
        if self.stop_reason is None:
            object.__setattr__(self, "stop_reason", stop_for_error(self.error))

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        """The name to show: the entry's label, or ``primary → fallback (fallback)``."""
        if self.fallback_of is None:
            return self.entry.label
        return resilience.fallback_label(self.fallback_of.label, self.entry.label)


@dataclass(frozen=True)
class ModelListing:
    """What :meth:`~hexai_nvim.engine.core.Engine.list_models` found. ``names`` is
    None when it failed (``error``) or the API has no model list (``supported`` false)."""

    names: tuple[str, ...] | None
    error: ErrorInfo | None
    #: HTTP status of the answer, None when no answer came.
    http_status: int | None
    elapsed_ms: float
    supported: bool = True


def error_from_exception(exc: BaseException, scrub: Callable[[str], str]) -> ErrorInfo:
    """Map an exception a provider let through to an error value."""
    if isinstance(exc, ProviderError):
        return ErrorInfo(exc.kind, scrub(exc.message), exc.status)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return ErrorInfo(ErrorKind.TIMEOUT, "timed out")
    if isinstance(exc, ConnectionRefusedError):
        return ErrorInfo(ErrorKind.UNREACHABLE, scrub(str(exc) or "connection refused"))
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        aiohttp = None  # type: ignore[assignment]
    if aiohttp is not None:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return ErrorInfo(ErrorKind.UNREACHABLE, scrub(str(exc)))
        if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
            return ErrorInfo(ErrorKind.BAD_RESPONSE, scrub(str(exc) or type(exc).__name__))
    return ErrorInfo(ErrorKind.BAD_RESPONSE, scrub(f"internal error: {type(exc).__name__}: {exc}"))
