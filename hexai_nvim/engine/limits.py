"""How much runs at once: concurrency slots, and the requests in flight per server.

Owns :class:`Slots` (the queues of a provider's ``max_concurrency`` and of
``[engine] max_concurrency``) and :class:`Inflight` (requests under way per
server, ``scheme://host:port``: :func:`server_of`), which the second ask of a cut
answer waits on.

What a caller may rely on: both hold asyncio primitives of one event loop;
``forget_loop()`` drops them when the engine is used under another loop. A limit
of None or 0 or less is no limit.
"""

from __future__ import annotations

import asyncio
import urllib.parse

from hexai_nvim.config.model import ProviderSpec


def server_of(spec: ProviderSpec) -> str:
    """``scheme://host:port`` of a provider: entries that share it share a server."""
    parts = urllib.parse.urlsplit(spec.base_url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a bad port fails the request itself; any key will do here
        return spec.base_url
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class _Unlimited:
    """A stand-in for a semaphore when there is no limit."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNLIMITED = _Unlimited()


class Slots:
    """One semaphore per (name, limit), made on first use."""

    def __init__(self) -> None:
        self._limits: dict[tuple[str, int], asyncio.Semaphore] = {}

    def slot(self, name: str, limit: int | None) -> asyncio.Semaphore | _Unlimited:
        """The slot to hold while a request of ``name`` runs (``async with``)."""
        if limit is None or limit <= 0:
            return _UNLIMITED
        key = (name, limit)
        sem = self._limits.get(key)
        if sem is None:
            sem = self._limits[key] = asyncio.Semaphore(limit)
        return sem

    def forget_loop(self) -> None:
        self._limits.clear()


class Inflight:
    """Requests in flight per server, and an event set when a server's count drops
    to zero."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}
        self._idle: dict[str, asyncio.Event] = {}

    def enter(self, server: str) -> None:
        self._count[server] = self._count.get(server, 0) + 1

    def leave(self, server: str) -> None:
        count = self._count.get(server, 1) - 1
        if count > 0:
            self._count[server] = count
            return
        self._count.pop(server, None)
        idle = self._idle.pop(server, None)
        if idle is not None:
            idle.set()

    async def wait_idle(self, server: str, deadline: float | None) -> bool:
        """Wait until nothing is in flight on ``server``; False when that does not
        happen before ``deadline`` (loop time; None: no deadline)."""
        loop = asyncio.get_running_loop()
        while self._count.get(server, 0) > 0:
            idle = self._idle.setdefault(server, asyncio.Event())
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            try:
                await asyncio.wait_for(idle.wait(), left)
            except (asyncio.TimeoutError, TimeoutError):
                return False
        return deadline is None or loop.time() < deadline

    def forget_loop(self) -> None:
        self._idle.clear()
        self._count.clear()
