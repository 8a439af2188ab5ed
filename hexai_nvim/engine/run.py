"""One entry's request, from the queue to its result (the fan-out's hot path).

Owns :class:`Run`, the mutable state of one entry while it runs, and what one
attempt of it does (:func:`execute`): the checks before anything is sent (an
unavailable entry, an open circuit breaker, the key policy), the provider and
global concurrency slots, the calls (retries after :mod:`hexai_nvim.resilience`,
the second ask of an answer the server cut, the smaller context after a
``context_length`` answer), the stream with the answer cap, and the
:class:`~hexai_nvim.engine.results.EntryResult` it ends with
(:func:`build_result`: token counts from the server, else counted chunks, else
estimates).

What a caller may rely on: :func:`execute` returns the entry's error (None when it
answered) and raises only ``CancelledError`` or a provider's bug; deadlines,
cancellation and the fallback belong to :class:`~hexai_nvim.engine.fanout.FanOut`,
which calls it. Package-internal: nothing outside the engine uses this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hexai_nvim import resilience
from hexai_nvim.config.model import Entry
from hexai_nvim.engine.events import ChunkEvent, RestartEvent, StartEvent
from hexai_nvim.engine.limits import server_of
from hexai_nvim.engine.results import EntryResult, EntryStats, ErrorInfo, stop_for_error
from hexai_nvim.engine.tokens import estimate_input, estimate_tokens
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
)

if TYPE_CHECKING:
    from hexai_nvim.engine.core import Engine
    from hexai_nvim.engine.fanout import FanOut

log = logging.getLogger("hexai_nvim.engine")


@dataclass(eq=False)
class Run:
    """Mutable state of one entry while it runs."""

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

    @property
    def deadline(self) -> float | None:
        """Loop time of the entry's total deadline (None: it has none)."""
        timeout_ms = self.entry.timeout_ms
        if not timeout_ms or timeout_ms <= 0:
            return None
        return self.queued_mono + timeout_ms / 1000.0


async def execute(engine: Engine, fan: FanOut, run: Run) -> ErrorInfo | None:
    """Run one entry to its end; return its error (None when it answered)."""
    entry = run.entry
    spec = entry.provider
    if entry.unavailable:
        # hexai loads such an entry and fails it when used; nothing is sent.
        return ErrorInfo(ErrorKind.CONFIG, entry.unavailable)
    skip = engine._breaker.skip_reason(spec.name)
    if skip is not None:
        return ErrorInfo(ErrorKind.SKIPPED, skip)
    try:
        provider = engine._provider(spec)
    except Exception as exc:
        return ErrorInfo(ErrorKind.CONFIG, engine._scrub(f"provider {spec.name!r}: {exc}"))
    key, refused = await engine._keys.key_for(spec, provider)
    if refused is not None:
        return refused
    settings = engine._config.engine
    if entry.surface == "completion" and not isinstance(fan._request, Request):
        # Learn the server's context once, so the request built next fits it.
        await engine._contexts.probe(entry, provider, key, settings.connect_timeout_ms / 1000.0)
    try:
        run.request = fan._request if isinstance(fan._request, Request) else fan._request(entry)
    except Exception as exc:
        return ErrorInfo(
            ErrorKind.CONFIG,
            engine._scrub(f"could not build the request: {type(exc).__name__}: {exc}"),
        )
    # Provider slot first, then the global one: holding a global slot while
    # waiting for a busy provider would starve the other providers.
    async with (
        engine._slots.slot("provider:" + spec.name, spec.max_concurrency),
        engine._slots.slot("global", settings.max_concurrency),
    ):
        loop = asyncio.get_running_loop()
        run.started_mono = loop.time()
        run.started_wall = time.time()
        if settings.first_token_timeout_ms > 0:
            run.first_token_handle = fan._arm(
                run, settings.first_token_timeout_ms / 1000.0, "first_token"
            )
        fan._push(StartEvent(run.index, entry))
        return await _attempts(engine, fan, run, provider, key, run.request)


async def _attempts(
    engine: Engine, fan: FanOut, run: Run, provider: Provider, key: str | None, request: Request
) -> ErrorInfo | None:
    settings = engine._config.engine
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
        server = server_of(entry.provider)
        try:
            engine._inflight.enter(server)
            try:
                await _stream(engine, fan, run, provider, call)
            finally:
                engine._inflight.leave(server)
            finish = run.finish
            if finish is None or finish.stop is not StopReason.CUT:
                return None
            cut = ErrorInfo(ErrorKind.BAD_RESPONSE, _cut_message(run, finish))
            if run.cut_retried or not await engine._inflight.wait_idle(server, run.deadline):
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
            error = ErrorInfo(exc.kind, engine._scrub(exc.message, key), exc.status)
            status = exc.status if exc.status is not None else call.transfer.status
            if exc.kind is ErrorKind.CONTEXT_LENGTH:
                smaller = _shrink_context(engine, fan, run, request, exc)
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
            deadline = run.deadline
            if deadline is not None and loop.time() + delay >= deadline:
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


def _shrink_context(engine: Engine, fan: FanOut, run: Run, request: Request,
                    exc: ProviderError) -> Request | None:
    """The entry's request rebuilt for a smaller context after a
    ``context_length`` answer; None when it cannot be (asked again already,
    text already shown, a fixed request)."""
    engine._contexts.learn(run.entry, request, exc)
    if run.context_retried or run.parts or isinstance(fan._request, Request):
        return None
    run.context_retried = True
    try:
        return fan._request(run.entry)
    except Exception:
        return None


async def _stream(engine: Engine, fan: FanOut, run: Run, provider: Provider, call: Call) -> None:
    events = provider.stream(call)
    cap = engine._config.engine.answer_cap(run.entry)
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


def build_result(run: Run, error: ErrorInfo | None) -> EntryResult:
    """The result of ``run`` as it stands now, ending with ``error``."""
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
            input_tokens, in_source = estimate_input(run.request), "estimate"
        output_tokens, out_source = run.usage_out, "server"
        if output_tokens is None and run.entry.stream and run.chunks > 1:
            output_tokens, out_source = run.chunks, "chunks"
        elif output_tokens is None:
            output_tokens, out_source = estimate_tokens(len(text)), "estimate"
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


def _cut_message(run: Run, finish: Finish) -> str:
    """Why a cut answer is not done, in words a person understands."""
    what = finish.missing or "its end signal"
    if not run.parts:
        return f"the server ended the answer before any text, without {what} (cut)"
    return f"the server ended the answer after {run.chunks} pieces, without {what} (cut)"


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
