"""A running fan-out: one task per entry, their events, deadlines and cancellation.

Owns :class:`FanOut`: it starts every entry's task at once, queues the events
for its one consumer, arms the total and first-token deadlines, cancels on
request (one entry or all, closing their connections at once), runs an entry's
fallback when the primary failed without text, and keeps each entry's final
result. What one entry's request does is :mod:`hexai_nvim.engine.run`; the
promises a caller may rely on are those of :mod:`hexai_nvim.engine.core`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from hexai_nvim import resilience
from hexai_nvim.config.model import Entry
from hexai_nvim.engine.events import DoneEvent, ErrorEvent, Event, FallbackEvent
from hexai_nvim.engine.results import EntryResult, ErrorInfo, error_from_exception
from hexai_nvim.engine.run import Run, build_result, execute
from hexai_nvim.providers.base import ErrorKind, Request

if TYPE_CHECKING:
    from hexai_nvim.engine.core import Engine

log = logging.getLogger("hexai_nvim.engine")

#: One request for every entry, or a function building each entry's request.
RequestFor = Request | Callable[[Entry], Request]


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
            Run(index=i, entry=e, queued_mono=now_mono, queued_wall=now_wall)
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

    def _stop(self, run: Run, reason: str) -> None:
        """Cancel ``run``'s task, remembering why (first reason wins)."""
        if run.finished or run.task is None or run.task.done():
            return
        if run.halt is None:
            run.halt = reason
        run.task.cancel()

    def _push(self, event: Event) -> None:
        self._events.put_nowait(event)

    def _arm(self, run: Run, delay_s: float, reason: str) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        handle = loop.call_at(loop.time() + delay_s, self._stop, run, reason)
        run.handles.append(handle)
        return handle

    async def _run_entry(self, run: Run) -> None:
        entry = run.entry
        deadline = run.deadline
        if deadline is not None:
            handle = asyncio.get_running_loop().call_at(deadline, self._stop, run, "total")
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

    def _time_left(self, run: Run) -> float | None:
        deadline = run.deadline
        return None if deadline is None else deadline - asyncio.get_running_loop().time()

    def _start_fallback(self, run: Run, fallback: Entry, error: ErrorInfo) -> None:
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

    async def _attempt(self, run: Run) -> tuple[ErrorInfo | None, bool]:
        """Run ``run.entry`` once (with its retries); its error and whether a
        cancel that is not ours (loop shutdown, an outer cancel) came in."""
        engine = self._engine
        entry = run.entry
        foreign_cancel = False
        try:
            error = await execute(engine, self, run)
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
            error = error_from_exception(exc, engine._scrub)
        if error is None or error.kind is not ErrorKind.SKIPPED:
            started = run.started_mono is not None
            engine._breaker.record(entry.provider.name, None if error is None else error.kind,
                                   started)
        return error, foreign_cancel

    def _finish(self, run: Run, error: ErrorInfo | None) -> None:
        """Record ``run``'s result, write its stats, send its final event."""
        for handle in run.handles:
            handle.cancel()
        run.handles.clear()
        engine = self._engine
        result = build_result(run, error)
        run.finished = True
        self._results[run.index] = result
        engine._recorder.record(result)
        if result.error is None:
            self._push(DoneEvent(run.index, run.entry, result))
        else:
            log.info("entry %s: %s", run.entry.key, result.error.label())
            self._push(ErrorEvent(run.index, run.entry, result))

    def _task_done(self, run: Run, _task: object) -> None:
        if self._results[run.index] is None:
            if run.halt is None:
                run.halt = "cancelled"
            self._finish(run, self._stop_error(run))

    def _stop_error(self, run: Run) -> ErrorInfo:
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
