"""Fan-out engine: one concurrent request per entry, streamed, timed, labelled.

Every surface (completion, ``:HexaiAsk``, code actions) and ``hexai ask`` go
through :meth:`Engine.fan_out`; nothing else talks HTTP.

What a caller may rely on:

- ``fan_out()`` starts every entry at once (it needs a running loop) and
  returns a :class:`FanOut`. Iterate it for events as they happen
  (:class:`StartEvent`, :class:`ChunkEvent` (and :class:`RestartEvent` when a
  cut answer is asked again), then exactly one
  :class:`DoneEvent` or :class:`ErrorEvent` per entry), or ``await wait()`` for
  the results in entry order. Neither raises for an entry's failure: a failure
  is an :class:`ErrorInfo` inside the :class:`EntryResult`.
- ``index`` in events and results is the position in the ``entries`` handed to
  ``fan_out()`` (not ``Entry.index``, which is the position in the config).
- Limits: a provider's ``max_concurrency`` and the global
  ``[engine] max_concurrency`` queue excess requests; the wait is
  ``EntryStats.queued_ms``.
- Deadlines, all per entry:
  - connect: ``[engine] connect_timeout_ms``, enforced by the provider
    (``Call.connect_timeout_s``);
  - first token: ``[engine] first_token_timeout_ms`` (0 = none), counted from
    the moment the request leaves the queue;
  - total: ``Entry.timeout_ms``, counted from ``fan_out()`` so that queue time
    is included and a caller's wait is bounded.
  On a deadline the text streamed so far is kept, ``truncated`` is true when
  there was any, and the error kind is ``timeout``. A truncated answer is a
  failure (``EntryResult.ok`` is false; ``hexai ask`` exits 1) whose text is
  still shown.
- Cancelling (``FanOut.cancel()`` for all, ``cancel(i)`` for one) cancels the
  entry's task, which closes its HTTP connection at once; the result has error
  kind ``cancelled`` and keeps any text. Leaving an ``async for`` over a
  fan-out early, cancelling a task blocked in ``wait()``, or leaving
  ``async with fan_out`` cancels what is still running.
- Every result says how it ended (``EntryResult.stop_reason``, a
  :class:`StopReason`). A stream the server ended without its end signal is
  ``cut``: a failure (``bad_response``) that keeps its text. A cut entry is
  asked once more when no other request of this engine is in flight on the
  same server (``scheme://host:port``) before its total deadline: a
  single-slot server such as llama-cpp-python ends a running stream when
  another request arrives. The retry is announced by a :class:`RestartEvent`
  (drop the text shown so far) and counted in ``EntryStats.retries``.
- 429, 500, 502, 503, 504 and failed connections are retried only while no
  text has been streamed, after the server's ``Retry-After`` or an
  exponential back-off (:mod:`hexai_nvim.resilience`), at most
  ``[engine] retries`` times and only when the retry can start before the
  total deadline.
- A provider whose entries keep failing is skipped for a while (its circuit
  breaker, :class:`~hexai_nvim.resilience.CircuitBreaker`): such an entry
  fails at once with kind ``skipped`` and sends nothing.
- An entry with a fallback (``Entry.fallback``) that failed without showing
  text runs once more as its fallback, in the same slot and under the same
  total deadline; a :class:`FallbackEvent` announces it, and the result's
  ``entry`` is the fallback with ``fallback_of`` the primary and
  ``first_error`` why the primary failed.
- API keys are resolved once per provider and cached until
  :meth:`Engine.update_config`. A provider that needs a key and has none fails
  with kind ``config`` (naming the environment variables) without sending
  anything. Keys never appear in results, stats, logs or exceptions: every
  error message is scrubbed of known key values.
- Stats: each finished entry goes to the engine's :class:`ResultSink`
  (by default the JSONL store of :mod:`hexai_nvim.stats`); the sink's
  housekeeping (the store's prune) runs now and then in a worker thread. The
  engine knows the sink only through that protocol.

Logging goes to the ``hexai_nvim.engine`` logger only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import time
import traceback
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, Protocol

from hexai_nvim import resilience, secrets
from hexai_nvim.config.model import Config, Entry, ProviderSpec
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Finish,
    Provider,
    ProviderError,
    Request,
    StopReason,
    TextDelta,
    Transfer,
    UsageReport,
    lists_models,
)

log = logging.getLogger("hexai_nvim.engine")

#: Rough size of a token for estimates when the server reports no usage.
CHARS_PER_TOKEN = 4
#: Longest wait for a server to state its context size (once per server and model).
CONTEXT_PROBE_TIMEOUT_S = 2.0
#: Statuses worth retrying (before any text was streamed).
RETRY_STATUSES = resilience.RETRY_STATUSES


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class EntryStats:
    """Measurements of one entry. Times in milliseconds.

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
    #: Wall-clock time (epoch seconds) the entry was queued by ``fan_out()``.
    queued_at: float = 0.0
    #: Wall-clock time (epoch seconds) its request started, None if it never did.
    started_at: float | None = None
    #: Number of non-empty text pieces received.
    chunks: int = 0
    #: HTTP status of the last response, if any.
    http_status: int | None = None
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


@dataclass(frozen=True)
class ModelListing:
    """What :meth:`Engine.list_models` found. ``names`` is None when it failed
    (``error``) or the API has no model list (``supported`` false)."""

    names: tuple[str, ...] | None
    error: ErrorInfo | None
    #: HTTP status of the answer, None when no answer came.
    http_status: int | None
    elapsed_ms: float
    supported: bool = True

RequestFor = Request | Callable[[Entry], Request]

#: Builds the client of one provider; the default uses ``make_provider`` with
#: the engine's shared HTTP pool. Tests inject fakes here.
ProviderFactory = Callable[[ProviderSpec], Provider]


class _KeyInfoLike(Protocol):
    @property
    def value(self) -> str | None: ...


#: Finds a provider's API key; the default is
#: :func:`hexai_nvim.config.keys.resolve_api_key`.
KeyResolver = Callable[[ProviderSpec, Mapping[str, str]], _KeyInfoLike]


class ResultSink(Protocol):
    """Where the engine writes each finished entry (the stats store implements it).

    ``record`` is called on the event loop for every result and must return
    quickly; the engine logs and ignores what it raises. ``housekeeping``
    returns slow work (a prune) to run in a worker thread, or None.
    ``configure`` takes a new config (``Engine.update_config``).
    """

    def record(self, result: EntryResult) -> None: ...

    def housekeeping(self) -> Callable[[], object] | None: ...

    def configure(self, config: Config) -> None: ...


# ---------------------------------------------------------------------------
# Per-entry bookkeeping
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Run:
    """Mutable state of one entry while it runs (private)."""

    index: int
    entry: Entry
    queued_mono: float
    queued_wall: float
    task: asyncio.Task[None] | None = None
    request: Request | None = None
    started_mono: float | None = None
    started_wall: float | None = None
    first_token_mono: float | None = None
    parts: list[str] = field(default_factory=list)
    #: UTF-8 size of ``parts`` (checked against the entry's answer cap).
    answer_bytes: int = 0
    chunks: int = 0
    usage_in: int | None = None
    usage_out: int | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    http_status: int | None = None
    retries: int = 0
    #: Why the task was cancelled by us: "cancelled", "total", "first_token".
    halt: str | None = None
    #: The provider's last Finish (None: it sent none).
    finish: Finish | None = None
    #: Whether the entry was asked again after the server cut its answer, or
    #: with a smaller context after a "context length exceeded" answer.
    cut_retried: bool = False
    #: The primary entry, once ``entry`` is its fallback.
    fallback_of: Entry | None = None
    first_error: ErrorInfo | None = None
    context_retried: bool = False
    finished: bool = False
    handles: list[asyncio.TimerHandle] = field(default_factory=list)
    first_token_handle: asyncio.TimerHandle | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


#: Tokens a chat template adds around each message (ChatML: ``<|im_start|>role\n``
#: ... ``<|im_end|>\n``), for the input estimate when the server reports none.
TEMPLATE_TOKENS_PER_MESSAGE = 4


def _estimate_input(request: Request) -> int:
    messages = len(request.messages) if request.fim is None else 0
    return _estimate_tokens(_request_chars(request)) + TEMPLATE_TOKENS_PER_MESSAGE * messages


def _request_chars(request: Request) -> int:
    chars = sum(len(m.content) for m in request.messages)
    if request.fim is not None:
        chars += len(request.fim.prefix) + len(request.fim.suffix)
    return chars


# ---------------------------------------------------------------------------
# FanOut
# ---------------------------------------------------------------------------


class FanOut:
    """A running fan-out. Tasks start when it is created; iterate to follow them.

    One consumer iterates the events (they are queued until read); any number
    of callers may ``await wait()``. Use ``async with`` to be sure nothing
    outlives the block.
    """

    entries: tuple[Entry, ...]

    def __init__(self, engine: Engine, entries: Sequence[Entry], request: RequestFor) -> None:
        loop = asyncio.get_running_loop()
        self.entries = tuple(entries)
        self._engine = engine
        self._request = request
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._results: list[EntryResult | None] = [None] * len(self.entries)
        now_mono, now_wall = loop.time(), time.time()
        self._runs = [
            _Run(index=i, entry=e, queued_mono=now_mono, queued_wall=now_wall)
            for i, e in enumerate(self.entries)
        ]
        for run in self._runs:
            run.task = loop.create_task(self._run_entry(run))
            # A task cancelled before its first step never runs its body: this
            # callback gives such an entry its result and final event anyway.
            run.task.add_done_callback(functools.partial(self._task_done, run))
        self._tasks: tuple[asyncio.Task[None], ...] = tuple(
            r.task for r in self._runs if r.task is not None
        )

    # -- public ---------------------------------------------------------------

    async def __aiter__(self) -> AsyncIterator[Event]:
        """Events as they happen, until every entry has its final event.

        Leaving the loop early (break, exception, cancellation) cancels the
        entries still running once the iterator is closed.
        """
        finals = 0
        complete = False
        try:
            while finals < len(self._runs):
                event = await self._events.get()
                if isinstance(event, (DoneEvent, ErrorEvent)):
                    finals += 1
                yield event
            complete = True
        finally:
            if not complete:
                self.cancel()

    def cancel(self, index: int | None = None) -> None:
        """Cancel one entry (by index) or all; their connections close at once.

        Entries already finished are left alone. Raises ``IndexError`` for an
        index outside ``entries``.
        """
        runs = self._runs if index is None else [self._runs[index]]
        for run in runs:
            self._stop(run, "cancelled")

    async def wait(self) -> list[EntryResult]:
        """Wait for every entry; results in entry order. Never raises for an entry.

        If the waiting task is cancelled, the entries still running are
        cancelled too and ``CancelledError`` propagates.
        """
        if self._tasks:
            try:
                await asyncio.wait(self._tasks)
            except asyncio.CancelledError:
                self.cancel()
                raise
        return [r for r in self._results if r is not None]

    @property
    def done(self) -> bool:
        """True once every entry has its result."""
        return all(r is not None for r in self._results)

    def results(self) -> list[EntryResult | None]:
        """Results so far, in entry order (None for entries still running)."""
        return list(self._results)

    async def aclose(self) -> None:
        """Cancel what is still running and wait until every task has ended."""
        self.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def __aenter__(self) -> FanOut:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------

    def _stop(self, run: _Run, reason: str) -> None:
        """Cancel ``run``'s task, remembering why (first reason wins)."""
        if run.finished or run.task is None or run.task.done():
            return
        if run.halt is None:
            run.halt = reason
        run.task.cancel()

    def _push(self, event: Event) -> None:
        self._events.put_nowait(event)

    def _arm(self, run: _Run, delay_s: float, reason: str) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        handle = loop.call_at(loop.time() + delay_s, self._stop, run, reason)
        run.handles.append(handle)
        return handle

    async def _run_entry(self, run: _Run) -> None:
        entry = run.entry
        if entry.timeout_ms and entry.timeout_ms > 0:
            loop = asyncio.get_running_loop()
            handle = loop.call_at(
                run.queued_mono + entry.timeout_ms / 1000.0, self._stop, run, "total"
            )
            run.handles.append(handle)
        error, foreign_cancel = await self._attempt(run)
        fallback = entry.fallback
        if (
            error is not None
            and fallback is not None
            and not foreign_cancel
            and run.halt in (None, "first_token")
            and resilience.may_fall_back(error.kind, bool(run.parts), self._time_left(run))
        ):
            self._start_fallback(run, fallback, error)
            error, foreign_cancel = await self._attempt(run)
        self._finish(run, error)
        if foreign_cancel:
            raise asyncio.CancelledError

    def _time_left(self, run: _Run) -> float | None:
        timeout_ms = run.entry.timeout_ms
        if not timeout_ms or timeout_ms <= 0:
            return None
        return run.queued_mono + timeout_ms / 1000.0 - asyncio.get_running_loop().time()

    def _start_fallback(self, run: _Run, fallback: Entry, error: ErrorInfo) -> None:
        """Turn ``run`` into its fallback: same slot, same deadline, fresh request."""
        log.info("entry %s: %s; falling back to %s", run.entry.key, error.label(), fallback.key)
        self._push(FallbackEvent(run.index, run.entry, fallback, error))
        if run.first_token_handle is not None:
            run.first_token_handle.cancel()
            run.first_token_handle = None
        run.fallback_of, run.first_error = run.entry, error
        run.entry = fallback
        run.halt = None
        run.request = None
        run.started_mono = run.started_wall = run.first_token_mono = None
        run.parts.clear()
        run.answer_bytes = run.chunks = 0
        run.usage_in = run.usage_out = None
        run.finish = None
        run.cut_retried = False

    async def _attempt(self, run: _Run) -> tuple[ErrorInfo | None, bool]:
        """Run ``run.entry`` once (with its retries); its error and whether a
        cancel that is not ours (loop shutdown, an outer cancel) came in."""
        engine = self._engine
        entry = run.entry
        foreign_cancel = False
        try:
            error = await engine._execute(self, run)
        except asyncio.CancelledError:
            if run.halt is None:
                # Not ours (loop shutdown, an outer cancel): record, then let it through.
                foreign_cancel = True
                run.halt = "cancelled"
            else:
                # We asked for this cancel and handle it here: undo its count
                # (Python 3.11+) so the task is not left "cancelling".
                uncancel = getattr(asyncio.current_task(), "uncancel", None)
                if uncancel is not None:
                    uncancel()
            error = self._stop_error(run)
        except Exception as exc:  # a bug in a provider must not reach the caller
            # Where it happened, but no traceback: frames can quote messages
            # or values that hold key material.
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            log.error(
                "entry %s failed unexpectedly%s: %s",
                entry.key,
                where,
                engine._scrub(f"{type(exc).__name__}: {exc}"),
            )
            error = _error_from_exception(exc, engine._scrub)
        if error is None or error.kind is not ErrorKind.SKIPPED:
            started = run.started_mono is not None
            engine._breaker.record(entry.provider.name, None if error is None else error.kind,
                                   started)
        return error, foreign_cancel

    def _finish(self, run: _Run, error: ErrorInfo | None) -> None:
        """Record ``run``'s result, write its stats, send its final event."""
        for handle in run.handles:
            handle.cancel()
        run.handles.clear()
        engine = self._engine
        result = engine._result(run, error)
        run.finished = True
        self._results[run.index] = result
        engine._record(result)
        if result.error is None:
            self._push(DoneEvent(run.index, run.entry, result))
        else:
            log.info("entry %s: %s", run.entry.key, result.error.label())
            self._push(ErrorEvent(run.index, run.entry, result))

    def _task_done(self, run: _Run, _task: object) -> None:
        if self._results[run.index] is None:
            if run.halt is None:
                run.halt = "cancelled"
            self._finish(run, self._stop_error(run))

    def _stop_error(self, run: _Run) -> ErrorInfo:
        entry = run.entry
        reason = run.halt
        if reason == "total":
            if run.started_mono is None:
                msg = f"no free slot within the {entry.timeout_ms} ms deadline"
            elif run.first_token_mono is None:
                msg = f"no answer within the {entry.timeout_ms} ms deadline"
            else:
                msg = f"answer cut at the {entry.timeout_ms} ms deadline"
            return ErrorInfo(ErrorKind.TIMEOUT, msg)
        if reason == "first_token":
            ms = self._engine._config.engine.first_token_timeout_ms
            return ErrorInfo(ErrorKind.TIMEOUT, f"no first token within {ms} ms")
        return ErrorInfo(ErrorKind.CANCELLED, "stopped on request")


def _server_of(spec: ProviderSpec) -> str:
    """``scheme://host:port`` of a provider: entries that share it share a server."""
    parts = urllib.parse.urlsplit(spec.base_url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a bad port fails the request itself; any key will do here
        return spec.base_url
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _cut_message(run: _Run, finish: Finish) -> str:
    """Why a cut answer is not done, in words a person understands."""
    what = finish.missing or "its end signal"
    if not run.parts:
        return f"the server ended the answer before any text, without {what} (cut)"
    return f"the server ended the answer after {run.chunks} pieces, without {what} (cut)"


def _error_from_exception(exc: BaseException, scrub: Callable[[str], str]) -> ErrorInfo:
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


# ---------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------


class _Unlimited:
    """A stand-in for a semaphore when there is no limit."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNLIMITED = _Unlimited()


class Engine:
    """Owns the HTTP pool, concurrency limits, key cache and stats sink.

    ``Engine(config)`` does no I/O and needs no running loop; the HTTP session
    is created on the first request. Keyword arguments exist for tests and
    tools:

    - ``env``: where API keys are looked up (default ``os.environ``);
    - ``stats``: the :class:`ResultSink` finished entries go to; ``None``
      (default) opens the default stats store, ``False`` records nothing;
    - ``provider_factory``: builds a provider client from its spec;
    - ``key_resolver``: finds a provider's API key.
    """

    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str] | None = None,
        stats: ResultSink | bool | None = None,
        provider_factory: ProviderFactory | None = None,
        key_resolver: KeyResolver | None = None,
    ) -> None:
        self._config = config
        secrets.remember_config(config)
        self._env = env
        self._provider_factory = provider_factory
        self._key_resolver = key_resolver
        self._providers: dict[str, tuple[ProviderSpec, Provider]] = {}
        self._keys: dict[str, str | None] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._limits: dict[tuple[str, int], asyncio.Semaphore] = {}
        #: Requests in flight per server (scheme://host:port), and an event set
        #: when a server's count drops to zero (for the retry of a cut answer).
        self._inflight: dict[str, int] = {}
        self._idle: dict[str, asyncio.Event] = {}
        #: Context sizes (tokens) per (server, model), stated or learned; and the
        #: pairs already probed (a probe is made once, whatever it found).
        self._contexts: dict[tuple[str, str], int] = {}
        self._probed: set[tuple[str, str]] = set()
        self._http: Any = None  # hexai_nvim.providers.HttpPool, created lazily
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fanouts: set[FanOut] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        settings = config.engine
        self._breaker = resilience.CircuitBreaker(
            settings.breaker_failures,
            settings.breaker_window_ms / 1000.0,
            settings.breaker_cooldown_ms / 1000.0,
        )
        self._stats: ResultSink | None
        if stats is None or stats is True:
            from hexai_nvim.stats import default_store  # the default sink only

            self._stats = default_store(config)
        elif stats is False:
            self._stats = None
        else:
            self._stats = stats

    # -- public ---------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config

    @property
    def stats_store(self) -> ResultSink | None:
        return self._stats

    def update_config(self, config: Config) -> None:
        """Use ``config`` for the next fan-outs; running ones finish as they were.

        Clears the key cache (``api_key_cmd`` commands run again) and drops
        provider clients whose spec changed.
        """
        self._config = config
        secrets.remember_config(config)
        self._keys.clear()
        self._breaker.configure(
            config.engine.breaker_failures,
            config.engine.breaker_window_ms / 1000.0,
            config.engine.breaker_cooldown_ms / 1000.0,
        )
        if self._key_resolver is None:
            # The default resolver caches api_key_cmd output for the process;
            # a reload is the moment a user expects a rotated key to be read.
            from hexai_nvim.config.keys import clear_key_cache

            clear_key_cache()
        for name, (spec, _provider) in list(self._providers.items()):
            if config.providers.get(name) != spec:
                del self._providers[name]
        if self._stats is not None:
            self._stats.configure(config)

    def fan_out(self, entries: Sequence[Entry], request: RequestFor) -> FanOut:
        """Start every entry now (must be called with a running loop).

        ``request`` is one :class:`Request` for all entries or a function
        building each entry's request (called inside the entry's task; if it
        raises, that entry fails with kind ``config``).
        """
        if self._closed:
            raise RuntimeError("the engine is closed")
        self._bind_loop()
        fan = FanOut(self, entries, request)
        self._fanouts.add(fan)
        forget = functools.partial(self._forget, fan)
        for task in fan._tasks:
            task.add_done_callback(forget)
        return fan

    async def list_models(self, spec: ProviderSpec) -> ModelListing:
        """The models ``spec``'s server lists, asked with the same key policy
        and scrubbing as every request. Never raises for the provider's failure
        (it is ``ModelListing.error``); ``supported`` is false when the API has
        no model list.
        """
        if self._closed:
            raise RuntimeError("the engine is closed")
        self._bind_loop()
        started = time.monotonic()

        def done(names: Sequence[str] | None, error: ErrorInfo | None, status: int | None,
                 supported: bool = True) -> ModelListing:
            elapsed = (time.monotonic() - started) * 1000.0
            return ModelListing(None if names is None else tuple(names), error, status,
                                elapsed, supported)

        try:
            provider = self._provider(spec)
        except Exception as exc:
            return done(None, ErrorInfo(
                ErrorKind.CONFIG, self._scrub(f"provider {spec.name!r}: {exc}")), None)
        if not lists_models(provider):
            return done(None, None, None, supported=False)
        key, refused = await self._key_for(spec, provider)
        if refused is not None:
            return done(None, refused, None)
        call = Call(
            model="",
            request=Request(messages=()),
            api_key=key,
            connect_timeout_s=self._config.engine.connect_timeout_ms / 1000.0,
            transfer=Transfer(),
        )
        try:
            names = await provider.list_models(call)
        except ProviderError as exc:
            status = exc.status if exc.status is not None else call.transfer.status
            return done(None, ErrorInfo(exc.kind, self._scrub(exc.message, key), status), status)
        except NotImplementedError:
            return done(None, None, None, supported=False)
        except Exception as exc:  # a bug in a provider must not reach the caller
            return done(None, _error_from_exception(exc, self._scrub), call.transfer.status)
        return done(names, None, call.transfer.status)

    async def warm_up(self, entries: Sequence[Entry] = ()) -> None:
        """Load the provider clients of ``entries`` and open the HTTP session.

        Optional: it moves one-off import and set-up costs out of the first
        request (and out of its stats). Failures are left for the request to
        report.
        """
        for entry in entries:
            try:
                self._provider(entry.provider)
            except Exception:
                continue
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.session()

    async def close(self) -> None:
        """Cancel running fan-outs, wait for them, finish stats, close HTTP."""
        self._closed = True
        fans = list(self._fanouts)
        for fan in fans:
            fan.cancel()
        for fan in fans:
            await fan.aclose()
        self._fanouts.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()
        self._providers.clear()

    # -- pieces used by FanOut -------------------------------------------------

    def _forget(self, fan: FanOut, _task: object = None) -> None:
        if fan.done:
            self._fanouts.discard(fan)

    def scrub(self, text: str) -> str:
        """``text`` without any secret this engine knows of (for callers' own messages)."""
        return self._scrub(text)

    def _scrub(self, text: str, *extra: str | None) -> str:
        """``text`` without any secret the process knows (:mod:`hexai_nvim.secrets`:
        the keys resolved here, every configured header value and URL
        password), nor the secrets in ``extra``."""
        return secrets.scrub(text, *extra)

    def _provider(self, spec: ProviderSpec) -> Provider:
        cached = self._providers.get(spec.name)
        if cached is not None and cached[0] == spec:
            return cached[1]
        if self._provider_factory is not None:
            provider = self._provider_factory(spec)
        else:
            from hexai_nvim.providers import HttpPool, make_provider

            if self._http is None:
                self._http = HttpPool()
            provider = make_provider(spec, self._http)
        self._providers[spec.name] = (spec, provider)
        return provider

    async def _api_key(self, spec: ProviderSpec) -> tuple[str | None, str | None]:
        """The provider's key (cached) and, when the lookup failed, why."""
        if spec.name in self._keys:
            return self._keys[spec.name], None
        lock = self._key_locks.setdefault(spec.name, asyncio.Lock())
        async with lock:
            if spec.name in self._keys:
                return self._keys[spec.name], None
            resolve = self._key_resolver or _default_key_resolver()
            env = self._env if self._env is not None else os.environ
            try:
                if spec.api_key_cmd:
                    # The command may take a while: keep the loop free.
                    info = await asyncio.to_thread(resolve, spec, env)
                else:
                    info = resolve(spec, env)
            except Exception as exc:
                # Not cached: the next request tries again (the command may be fixed).
                return None, self._scrub(str(exc)) or type(exc).__name__
            value = info.value or None
            secrets.remember(value)
            source = str(getattr(info, "source", "") or "")
            if value is not None or not source.startswith("cmd failed"):
                # A failed command is not cached here: the resolver decides
                # when it runs again.
                self._keys[spec.name] = value
            if value is None and source.startswith("cmd failed"):
                return None, f"api_key_cmd {source[4:]}"
            return value, None

    async def _key_for(
        self, spec: ProviderSpec, provider: Provider
    ) -> tuple[str | None, ErrorInfo | None]:
        """The key policy of every request: the key to send (None: send none),
        or the ``config`` error that stops the request before anything is sent."""
        key: str | None
        key_problem: str | None
        if spec.key_withheld:
            key, key_problem = None, spec.key_withheld
        else:
            key, key_problem = await self._api_key(spec)
        if key is None and provider.requires_key:
            message = (
                f"no API key for provider {spec.name!r}: {key_problem}"
                if key_problem
                else _missing_key_message(spec)
            )
            return None, ErrorInfo(ErrorKind.CONFIG, message)
        if key_problem:
            log.warning("provider %s: %s; sending without a key", spec.name, key_problem)
        return key, None

    def _bind_loop(self) -> None:
        """Forget loop-bound primitives made for another event loop.

        asyncio locks and semaphores belong to the loop that first waited on
        them; an engine reused under a new loop (tests, ``asyncio.run`` twice)
        gets fresh ones. Keys and provider clients stay cached.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._limits.clear()
            self._key_locks.clear()
            self._idle.clear()
            self._inflight.clear()

    def _slot(self, name: str, limit: int | None) -> asyncio.Semaphore | _Unlimited:
        if limit is None or limit <= 0:
            return _UNLIMITED
        key = (name, limit)
        sem = self._limits.get(key)
        if sem is None:
            sem = self._limits[key] = asyncio.Semaphore(limit)
        return sem

    async def _execute(self, fan: FanOut, run: _Run) -> ErrorInfo | None:
        """Run one entry to its end; return its error (None when it answered)."""
        entry = run.entry
        spec = entry.provider
        if entry.unavailable:
            # hexai loads such an entry and fails it when used; nothing is sent.
            return ErrorInfo(ErrorKind.CONFIG, entry.unavailable)
        skip = self._breaker.skip_reason(spec.name)
        if skip is not None:
            return ErrorInfo(ErrorKind.SKIPPED, skip)
        try:
            provider = self._provider(spec)
        except Exception as exc:
            return ErrorInfo(ErrorKind.CONFIG, self._scrub(f"provider {spec.name!r}: {exc}"))
        key, refused = await self._key_for(spec, provider)
        if refused is not None:
            return refused
        if entry.surface == "completion" and not isinstance(fan._request, Request):
            # Learn the server's context once, so the request built next fits it.
            await self._probe_context(entry, provider, key)
        try:
            run.request = fan._request if isinstance(fan._request, Request) else fan._request(entry)
        except Exception as exc:
            return ErrorInfo(
                ErrorKind.CONFIG,
                self._scrub(f"could not build the request: {type(exc).__name__}: {exc}"),
            )
        # Provider slot first, then the global one: holding a global slot while
        # waiting for a busy provider would starve the other providers.
        settings = self._config.engine
        async with (
            self._slot("provider:" + spec.name, spec.max_concurrency),
            self._slot("global", settings.max_concurrency),
        ):
            loop = asyncio.get_running_loop()
            run.started_mono = loop.time()
            run.started_wall = time.time()
            if settings.first_token_timeout_ms > 0:
                run.first_token_handle = fan._arm(
                    run, settings.first_token_timeout_ms / 1000.0, "first_token"
                )
            fan._push(StartEvent(run.index, entry))
            return await self._attempts(fan, run, provider, key, run.request)

    async def _attempts(
        self, fan: FanOut, run: _Run, provider: Provider, key: str | None, request: Request
    ) -> ErrorInfo | None:
        settings = self._config.engine
        loop = asyncio.get_running_loop()
        entry = run.entry
        while True:
            call = Call(
                model=entry.model,
                request=request,
                stream=entry.stream,
                api_key=key,
                connect_timeout_s=settings.connect_timeout_ms / 1000.0,
                transfer=Transfer(),
            )
            server = _server_of(entry.provider)
            try:
                self._inflight[server] = self._inflight.get(server, 0) + 1
                try:
                    await self._stream(fan, run, provider, call)
                finally:
                    self._leave(server)
                finish = run.finish
                if finish is None or finish.stop is not StopReason.CUT:
                    return None
                cut = ErrorInfo(ErrorKind.BAD_RESPONSE, _cut_message(run, finish))
                if run.cut_retried or not await self._wait_idle(server, run):
                    return cut
                # A single-slot server (llama-cpp-python) drops a running stream
                # for a newer request: ask once more now that it is free.
                run.cut_retried = True
                run.retries += 1
                log.info("entry %s: %s; asking again", entry.key, cut.message)
                fan._push(RestartEvent(run.index, entry, cut.message))
                run.parts.clear()
                run.chunks = 0
                run.first_token_mono = None
                run.finish = None
                run.usage_in = run.usage_out = None
                continue
            except ProviderError as exc:
                error = ErrorInfo(exc.kind, self._scrub(exc.message, key), exc.status)
                status = exc.status if exc.status is not None else call.transfer.status
                if exc.kind is ErrorKind.CONTEXT_LENGTH:
                    smaller = self._shrink_context(fan, run, request, exc)
                    if smaller is None:
                        return error
                    request = run.request = smaller
                    run.retries += 1
                    log.info("entry %s: %s; asking again with a smaller context",
                             entry.key, error.label())
                    continue
                retryable = resilience.is_retryable(exc.kind, status, bool(run.parts))
                if not retryable or run.retries >= settings.retries:
                    return error
                delay = resilience.retry_delay(run.retries + 1, exc.retry_after)
                if entry.timeout_ms and entry.timeout_ms > 0:
                    deadline = run.queued_mono + entry.timeout_ms / 1000.0
                    if loop.time() + delay >= deadline:
                        return error
                run.retries += 1
                log.info(
                    "entry %s: %s, retry %d in %.2f s",
                    entry.key,
                    error.label(),
                    run.retries,
                    delay,
                )
                await asyncio.sleep(delay)
            finally:
                run.bytes_sent += call.transfer.bytes_sent
                run.bytes_received += call.transfer.bytes_received
                if call.transfer.status is not None:
                    run.http_status = call.transfer.status

    def context_tokens(self, entry: Entry) -> int | None:
        """The context (tokens) of ``entry``'s server as stated or learned, if known.

        Stated: llama.cpp ``/props``/``/slots`` or Ollama ``/api/show``, asked
        once per server and model (for completion entries). Learned: a
        ``context_length`` answer names it, or (when it does not) it is taken
        to be half of the prompt that did not fit. Kept until the engine ends,
        so a too-large context fails once, not on every keystroke.
        """
        return self._contexts.get((_server_of(entry.provider), entry.model))

    async def _probe_context(self, entry: Entry, provider: Provider, key: str | None) -> None:
        where = (_server_of(entry.provider), entry.model)
        if where in self._contexts or where in self._probed:
            return
        self._probed.add(where)
        call = Call(model=entry.model, request=Request(messages=()), api_key=key,
                    connect_timeout_s=self._config.engine.connect_timeout_ms / 1000.0)
        try:
            found = await asyncio.wait_for(provider.context_size(call), CONTEXT_PROBE_TIMEOUT_S)
        except (ProviderError, asyncio.TimeoutError, TimeoutError, NotImplementedError):
            return
        except Exception as exc:  # a bug in a provider must not fail the request
            log.warning("context probe of %s failed: %s", entry.key, type(exc).__name__)
            return
        if found:
            log.info("%s: the server's context is %d tokens", entry.key, found)
            self._contexts[where] = found

    def _shrink_context(self, fan: FanOut, run: _Run, request: Request,
                        exc: ProviderError) -> Request | None:
        """The entry's request rebuilt for a smaller context after a
        ``context_length`` answer; None when it cannot be (asked again already,
        text already shown, a fixed request)."""
        where = (_server_of(run.entry.provider), run.entry.model)
        prompt = _estimate_input(request)
        limit = exc.context_limit or max(256, prompt // 2)
        known = self._contexts.get(where)
        self._contexts[where] = min(limit, known) if known else limit
        if run.context_retried or run.parts or isinstance(fan._request, Request):
            return None
        run.context_retried = True
        try:
            return fan._request(run.entry)
        except Exception:
            return None

    def _leave(self, server: str) -> None:
        count = self._inflight.get(server, 1) - 1
        if count > 0:
            self._inflight[server] = count
            return
        self._inflight.pop(server, None)
        idle = self._idle.pop(server, None)
        if idle is not None:
            idle.set()

    async def _wait_idle(self, server: str, run: _Run) -> bool:
        """Wait until no request of this engine is in flight on ``server``; False
        when that does not happen before the entry's total deadline."""
        loop = asyncio.get_running_loop()
        timeout_ms = run.entry.timeout_ms
        deadline = run.queued_mono + timeout_ms / 1000.0 if timeout_ms and timeout_ms > 0 else None
        while self._inflight.get(server, 0) > 0:
            idle = self._idle.setdefault(server, asyncio.Event())
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            try:
                await asyncio.wait_for(idle.wait(), left)
            except (asyncio.TimeoutError, TimeoutError):
                return False
        return deadline is None or loop.time() < deadline

    async def _stream(self, fan: FanOut, run: _Run, provider: Provider, call: Call) -> None:
        events = provider.stream(call)
        cap = self._config.engine.answer_cap(run.entry)
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    if not event.text:
                        continue
                    size = len(event.text.encode("utf-8", "replace"))
                    if run.answer_bytes + size > cap:
                        # Keep the answer up to the cap, then stop reading: an
                        # endless stream must not fill the memory.
                        kept = _cut_utf8(event.text, cap - run.answer_bytes)
                        if kept:
                            run.parts.append(kept)
                            run.chunks += 1
                            fan._push(ChunkEvent(run.index, run.entry, kept))
                        run.answer_bytes = cap
                        raise ProviderError(ErrorKind.BAD_RESPONSE, _cap_message(run.entry, cap))
                    run.answer_bytes += size
                    if run.first_token_mono is None:
                        run.first_token_mono = asyncio.get_running_loop().time()
                        if run.first_token_handle is not None:
                            run.first_token_handle.cancel()
                    run.parts.append(event.text)
                    run.chunks += 1
                    fan._push(ChunkEvent(run.index, run.entry, event.text))
                elif isinstance(event, UsageReport):
                    if event.input_tokens is not None:
                        run.usage_in = event.input_tokens
                    if event.output_tokens is not None:
                        run.usage_out = event.output_tokens
                elif isinstance(event, Finish):
                    run.finish = event
        finally:
            # Close the provider's generator now (not at garbage collection), so
            # its HTTP connection goes back or is closed at once.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def _result(self, run: _Run, error: ErrorInfo | None) -> EntryResult:
        loop = asyncio.get_running_loop()
        now = loop.time()
        text = run.text
        started = run.started_mono
        queued_ms = ((started if started is not None else now) - run.queued_mono) * 1000.0
        ttft_ms = (
            (run.first_token_mono - started) * 1000.0
            if started is not None and run.first_token_mono is not None
            else None
        )
        total_ms = (now - started) * 1000.0 if started is not None else None
        input_tokens: int | None = None
        output_tokens: int | None = None
        in_source: str | None = None
        out_source: str | None = None
        answered = bool(text) or run.usage_in is not None or run.usage_out is not None
        if started is not None and run.request is not None and (error is None or answered):
            input_tokens, in_source = run.usage_in, "server"
            if input_tokens is None:
                input_tokens, in_source = _estimate_input(run.request), "estimate"
            output_tokens, out_source = run.usage_out, "server"
            if output_tokens is None and run.entry.stream and run.chunks > 1:
                output_tokens, out_source = run.chunks, "chunks"
            elif output_tokens is None:
                output_tokens, out_source = _estimate_tokens(len(text)), "estimate"
        estimated = "estimate" in (in_source, out_source) or "chunks" in (in_source, out_source)
        truncated = error is not None and bool(text)
        finish = run.finish
        stop = stop_for_error(error)
        if finish is not None and (error is None or finish.stop is StopReason.CUT):
            stop = finish.stop
        if error is None:
            status = "ok"
        elif error.kind is ErrorKind.CANCELLED:
            status = "cancelled"
        elif truncated:
            status = "truncated"
        else:
            status = "error"
        stats = EntryStats(
            queued_ms=queued_ms,
            ttft_ms=ttft_ms,
            total_ms=total_ms,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens_estimated=estimated,
            bytes_sent=run.bytes_sent,
            bytes_received=run.bytes_received,
            status=status,
            error_kind=None if error is None else error.kind.value,
            retries=run.retries,
            queued_at=run.queued_wall,
            started_at=run.started_wall,
            chunks=run.chunks,
            http_status=run.http_status,
            input_source=in_source,
            output_source=out_source,
        )
        return EntryResult(
            run.index, run.entry, text, truncated, error, stats,
            stop_reason=stop, finish_reason=None if finish is None else finish.reason,
            fallback_of=run.fallback_of, first_error=run.first_error,
        )

    def _record(self, result: EntryResult) -> None:
        sink = self._stats
        if sink is None:
            return
        try:
            sink.record(result)
            chore = sink.housekeeping()
        except Exception:  # stats must never break a request
            log.warning("could not write stats", exc_info=True)
            return
        if chore is not None and not self._closed:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(chore))
            self._background.add(task)
            task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        """Forget a finished background task, reporting its failure (if any)."""
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("stats prune failed: %s", task.exception())


def _cut_utf8(text: str, limit: int) -> str:
    """The longest start of ``text`` whose UTF-8 form fits in ``limit`` bytes."""
    return text.encode("utf-8", "replace")[: max(0, limit)].decode("utf-8", "ignore")


def _cap_message(entry: Entry, cap: int) -> str:
    size = f"{cap // 1024} KiB" if cap % 1024 == 0 else f"{cap} bytes"
    key = "max_answer_bytes_completion" if entry.surface == "completion" else "max_answer_bytes"
    return (
        f"answer larger than {size}: cut there (truncated); raise [engine] {key} "
        "or the entry's max_answer_bytes to keep more"
    )


def _default_key_resolver() -> KeyResolver:
    from hexai_nvim.config.keys import resolve_api_key

    return resolve_api_key


def _missing_key_message(spec: ProviderSpec) -> str:
    names = list(spec.api_key_env)
    if names:
        where = " or ".join(names)
        hint = f"set {where}"
    else:
        hint = "set api_key_env"
    if spec.api_key_cmd:
        hint += " (api_key_cmd printed nothing)"
    else:
        hint += f" or api_key_cmd in [providers.{spec.name}]"
    if spec.kind == "ollama":
        hint += '; for a local Ollama set [ollama] base_url = "http://localhost:11434"'
    return f"no API key for provider {spec.name!r}: {hint}"
