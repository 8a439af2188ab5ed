"""State shared by every surface inside the Neovim host.

One :class:`Runtime` per host process. It owns the last good configuration,
the engine (created on first use, so aiohttp is imported only when a request
is made), the bridge back to Lua, and the host's logging.

Rules every surface follows (see NEOVIM-NOTES):
- handlers run in pynvim greenlets; network work goes to :meth:`Runtime.spawn`;
- coroutines never make blocking API calls: they talk to Lua through
  :meth:`Runtime.lua`, which sends asynchronous ``exec_lua`` notifications;
- a failure reaches the person once, through ``vim.notify``, never as a
  traceback.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hexai_nvim.config import ConfigError, default_config, format_reload_diff, load_config
from hexai_nvim.config.model import Config
from hexai_nvim.secrets import ScrubbingFormatter, scrub_data

if TYPE_CHECKING:
    from hexai_nvim.engine.core import Engine
    from hexai_nvim.engine.results import EntryResult
    from hexai_nvim.engine.sink import ResultSink

log = logging.getLogger("hexai_nvim.host")

# vim.log.levels
DEBUG, INFO, WARN, ERROR = 1, 2, 3, 4


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    #: On success hexai's diff summary; on failure the problems, one per line.
    message: str


class Runtime:
    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim
        self.config: Config = default_config()
        #: Problems of the last failed load, if the running config is older.
        self.config_error: ConfigError | None = None
        self.config_path: str | None = None
        self.cwd: str | None = None
        self.editor: Mapping[str, Any] = {}
        self.set_up = False
        self._engine: Engine | None = None
        self._notified: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._bytecode_planned = False

    # -- configuration --------------------------------------------------------

    def setup(self, payload: Mapping[str, Any]) -> None:
        """First call from Lua: where to log, which config, editor overrides."""
        log_file = payload.get("log_file")
        if isinstance(log_file, str) and log_file:
            _log_to(log_file, payload.get("log_level", "INFO"))
        self.config_path = payload.get("config_path") or None
        self.cwd = payload.get("cwd") or None
        editor = payload.get("config")
        self.editor = editor if isinstance(editor, Mapping) else {}
        self.set_up = True
        try:
            self._apply(self._load())
        except ConfigError as exc:
            self.config_error = exc
            log.warning("config invalid, using defaults: %s", exc)
            self.notify(_problems_text("hexai: the configuration has problems", exc), ERROR)
        self.push_settings()
        self.warm_up()
        if not self._bytecode_planned:
            self._bytecode_planned = True
            self.spawn(_write_bytecode_later(), what="bytecode")

    def _load(self) -> Config:
        return load_config(self.config_path, cwd=self.cwd, editor=self.editor)

    def _apply(self, config: Config) -> None:
        self.config = config
        self.config_error = None
        if self._engine is not None:
            self._engine.update_config(config)
        for warning in config.warnings:
            self.notify(f"hexai: {warning}", WARN, once=f"warn:{warning}")

    def reload(self) -> ReloadOutcome:
        """Re-read the configuration; on failure keep the last good one running."""
        old = self.config
        try:
            new = self._load()
        except ConfigError as exc:
            self.config_error = exc
            log.warning("reload failed, keeping the last good config: %s", exc)
            return ReloadOutcome(False, _problems_text("hexai: config not reloaded", exc))
        self._apply(new)
        self.push_settings()
        return ReloadOutcome(True, format_reload_diff(old, new))

    def push_settings(self) -> None:
        """Send the options the Lua side needs (debounce, triggers, layouts)."""
        from hexai_nvim.config.ui import completion_options
        from hexai_nvim.surfaces.completion import context_limits

        c = self.config
        settings = {
            "debounce_ms": c.completion.debounce_ms,
            "throttle_ms": c.completion.throttle_ms,
            "manual_invoke_min_prefix": c.completion.manual_invoke_min_prefix,
            "trigger_characters": list(c.completion.trigger_characters),
            "wait_all": c.completion.wait_all,
            "context": context_limits(c.general),
            "ui": dict(c.ui),
            # hexai.completion's options from [ui] (Lua adds defaults and setup()).
            "ui_completion": completion_options(c.ui),
            "entries": {
                # The editor's surfaces: ``ask`` is what :HexaiAsk runs (hexai's chat).
                "completion": [e.label for e in c.entries("completion")],
                "ask": [e.label for e in c.entries("chat")],
                "code_action": [e.label for e in c.entries("code_action")],
            },
        }
        self.lua("hexai", "on_settings", settings)

    # -- engine ----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from hexai_nvim.engine.core import Engine
            from hexai_nvim.stats import default_store

            self._engine = Engine(self.config, stats=LaterSink(default_store(self.config)))
        return self._engine

    def warm_up(self) -> asyncio.Task[Any] | None:
        """Load the engine, aiohttp and the completion entries' clients in the
        background, so the first suggestion does not pay for them (None when
        there is no completion entry)."""
        entries = self.config.entries("completion")
        if not entries:
            return None

        async def warm() -> None:
            try:
                # The imports run in a thread: the loop keeps answering Neovim.
                await asyncio.to_thread(_preload)
                await self.engine.warm_up(entries)
            except Exception:  # optional: the first request reports what is broken
                log.warning("warm-up failed", exc_info=True)

        return self.spawn(warm(), what="warm-up")

    # -- talking to Lua --------------------------------------------------------

    def lua(self, module: str, function: str, *args: Any) -> None:
        """Call ``require(module)[function](...)`` without waiting (safe in coroutines)."""
        code = f"return require({module!r})[{function!r}](...)"
        try:
            # Every text sent to the editor passes the one scrubber.
            self.nvim.exec_lua(code, *scrub_data(args), async_=True)
        except Exception:  # the channel is gone: Neovim is exiting
            log.debug("exec_lua %s.%s failed", module, function, exc_info=True)

    def notify(self, message: str, level: int = INFO, *, once: str | None = None) -> None:
        """``vim.notify`` a message; with ``once``, only the first time for that key."""
        if once is not None:
            if once in self._notified:
                return
            self._notified.add(once)
        self.lua("hexai", "notify", message, level)

    # -- tasks -----------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], *, what: str) -> asyncio.Task[Any]:
        """Run ``coro`` on the host loop; an unexpected exception is logged and shown once."""
        task: asyncio.Task[Any] = self.nvim.loop.create_task(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, Any], what: str) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed", what)
            self.notify(f"hexai: {what} failed: {type(exc).__name__}: {exc}", ERROR, once=what)
            return None


class LaterSink:
    """The engine's stats sink in the host: a finished entry is written two
    loop turns later, on the loop, so the stats file's lock, open and write
    (~0.5 ms an entry) come after the entry's snapshot went to the editor, not
    before it (the engine records a result just before it queues the entry's
    final event; the snapshot is sent on the next turn), and before the next
    keystroke. Results of one turn are written together; what is still queued
    when the host exits is written then (``atexit``)."""

    def __init__(self, sink: ResultSink) -> None:
        self._sink = sink
        self._queue: list[EntryResult] = []
        self._planned = False
        atexit.register(self.flush)

    def record(self, result: EntryResult) -> None:
        self._queue.append(result)
        if self._planned:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test, the exit): write now
            self.flush()
            return
        self._planned = True
        loop.call_soon(loop.call_soon, self.flush)

    def flush(self) -> None:
        """Write what is queued (each entry's failure logged, the rest still written)."""
        self._planned = False
        queued, self._queue = self._queue, []
        for result in queued:
            try:
                self._sink.record(result)
            except Exception:  # stats must never break the host
                log.warning("could not write stats", exc_info=True)

    def housekeeping(self) -> Callable[[], object] | None:
        return self._sink.housekeeping()

    def configure(self, config: Config) -> None:
        self._sink.configure(config)


#: What the first completion would import (see :meth:`Runtime.warm_up`).
_PRELOAD = (
    "aiohttp", "hexai_nvim.engine.core", "hexai_nvim.providers", "hexai_nvim.surfaces.completion",
)


def _preload() -> None:
    for name in _PRELOAD:
        with contextlib.suppress(Exception):  # the request reports what is broken
            importlib.import_module(name)


#: Seconds after the first setup before the host writes its own bytecode:
#: after the first suggestion, off its way.
BYTECODE_AFTER_S = 2.0


async def _write_bytecode_later() -> None:
    await asyncio.sleep(BYTECODE_AFTER_S)
    await asyncio.to_thread(write_bytecode)


def write_bytecode(package: str | None = None) -> bool:
    """Compile the modules of ``hexai_nvim`` whose ``__pycache__`` file is
    missing or older than the source; True when all were written or current.

    The host imports ~100 of them at every start; from source (no bytecode:
    ``PYTHONDONTWRITEBYTECODE``, a plugin manager that never ran Python in
    the plugin's folder) that costs about twice as long as from bytecode.
    Quiet: the host's stdout is the RPC channel. A folder that cannot be
    written (read-only install) is left alone.
    """
    import compileall

    folder = package or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return bool(compileall.compile_dir(folder, quiet=2, workers=1))
    except Exception:  # optional: the host works from source too
        log.debug("writing bytecode failed", exc_info=True)
        return False


def _problems_text(headline: str, exc: ConfigError) -> str:
    return headline + ":\n" + "\n".join(f"  {p}" for p in exc.problems)


_log_handler: logging.Handler | None = None


def _log_to(path: str, level: Any) -> None:
    """Send the ``hexai_nvim`` loggers to ``path`` (stdpath('log')/hexai.log)."""
    global _log_handler
    logger = logging.getLogger("hexai_nvim")
    if _log_handler is not None:
        logger.removeHandler(_log_handler)
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    try:
        logger.setLevel(level if isinstance(level, int) else str(level).upper())
    except (TypeError, ValueError):  # a typo in setup{ log_level = ... }
        logger.setLevel(logging.INFO)
    _log_handler = handler
