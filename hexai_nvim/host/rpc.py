"""The table of RPC methods the Lua side may call.

Each surface's host module registers its methods with :func:`method`; the
plugin class routes ``HexaiNotify(name, payload)`` / ``HexaiRequest(name,
payload)`` here. A handler runs in a pynvim greenlet (blocking API calls are
allowed there); network work must be started with :meth:`Runtime.spawn`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from hexai_nvim.host.runtime import Runtime

T = TypeVar("T")

Payload = dict[str, Any]
Handler = Callable[["Runtime", Payload], Any]

HANDLERS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of RPC method ``name``."""

    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise ValueError(f"RPC method {name!r} registered twice")
        HANDLERS[name] = fn
        return fn

    return register


def per_runtime(factory: Callable[[], T]) -> Callable[[Runtime], T]:
    """A getter of a surface's state for one :class:`Runtime`: made by
    ``factory`` on first use, dropped with the runtime."""
    states: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()

    def get(rt: Runtime) -> T:
        found = states.get(rt)
        if found is None:
            found = states[rt] = factory()
        return found

    return get
