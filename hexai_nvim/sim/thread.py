"""Run the simulator in a background thread (for tests and the demo).

``SimThread`` owns a private event loop in a daemon thread, listening on
127.0.0.1 with an ephemeral port::

    with SimThread() as sim:
        base_url = f"{sim.url}/v1"      # openai-style and anthropic
        ollama_url = sim.url            # ollama
        ...
        sim.state.requests              # what was asked

Start and stop are bounded in time: ``start()`` raises if the server is not up
within ``start_timeout``; ``stop()`` returns within about two seconds even with
streams open (stalls end when the app shuts down, and handlers still running
after ``shutdown_timeout`` are cancelled).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

from aiohttp import web

from hexai_nvim.sim.server import create_app
from hexai_nvim.sim.state import SimState

__all__ = ["SimThread"]


class SimThread:
    """The simulator serving from a background thread (a context manager)."""

    def __init__(
        self,
        state: SimState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 10.0,
    ) -> None:
        self.state = state if state is not None else SimState()
        self.host = host
        self._requested_port = port
        self._start_timeout = start_timeout
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not running")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SimThread:
        if self._thread is not None:
            raise RuntimeError("the simulator was already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._main, args=(sock,), name=f"hexai-sim-{self._port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise RuntimeError("the simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the simulator failed to start: {self._error}") from self._error
        return self

    def _main(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # reported to start()
            self._error = exc
            sock.close()
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        runner = web.AppRunner(
            create_app(self.state),
            handler_cancellation=True,
            shutdown_timeout=0.5,
            access_log=None,
        )
        await runner.setup()
        self._runner = runner
        await web.SockSite(runner, sock).start()

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving (bounded by ``timeout`` seconds plus a moment)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
        try:
            future.result(timeout)
        except Exception:  # a slow or failed cleanup must not block the caller
            future.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=1.0)

    def __enter__(self) -> SimThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
