"""Where finished entries go: the sink protocol the engine writes to, and its writer.

Owns :class:`ResultSink` (what a stats or outcome store implements to receive
results; :class:`hexai_nvim.stats.StatsStore` is the default one) and
:class:`Recorder`, the engine's one path to its sink.

What a caller may rely on: the engine knows a store only through
:class:`ResultSink`; a sink that raises never breaks a request (the writer logs
and goes on); the sink's housekeeping runs in a worker thread, never on the event
loop, and :meth:`Recorder.drain` waits for it when the engine closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hexai_nvim.config.model import Config
    from hexai_nvim.engine.results import EntryResult

log = logging.getLogger("hexai_nvim.engine")


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


class Recorder:
    """Hands each result to ``sink`` (None: records nothing) and runs its chores."""

    def __init__(self, sink: ResultSink | None) -> None:
        self.sink = sink
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False

    def configure(self, config: Config) -> None:
        if self.sink is not None:
            self.sink.configure(config)

    def record(self, result: EntryResult) -> None:
        """Write ``result`` (on the event loop); start the sink's housekeeping if due."""
        sink = self.sink
        if sink is None:
            return
        try:
            sink.record(result)
            chore = sink.housekeeping()
        except Exception:  # stats must never break a request
            log.warning("could not write stats", exc_info=True)
            return
        if chore is not None and not self._closing:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(chore))
            self._background.add(task)
            task.add_done_callback(self._background_done)

    def closing(self) -> None:
        """Start no more housekeeping (results are still written)."""
        self._closing = True

    async def drain(self) -> None:
        """Wait for the housekeeping still running."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        """Forget a finished background task, reporting its failure (if any)."""
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("stats prune failed: %s", task.exception())
