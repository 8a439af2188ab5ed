"""The pynvim remote plugin: two RPC entry points routed to surface handlers.

Lua calls ``HexaiNotify(method, payload)`` (a notification: Neovim never
waits) for everything that may touch the network, and ``HexaiRequest(method,
payload)`` (a request) only for quick answers. Handlers are registered by the
surface modules imported below (see :mod:`hexai_nvim.host.rpc`).

A request handler never raises: a raising sync handler would wedge every later
notification of this host (NEOVIM-NOTES), so errors come back as values.
"""

from __future__ import annotations

import logging
from typing import Any

import pynvim

# Surface modules register their RPC methods on import.
from hexai_nvim.host import arena, ask, check, code_action, completion, general  # noqa: F401
from hexai_nvim.host.rpc import HANDLERS, Payload
from hexai_nvim.host.runtime import ERROR, Runtime
from hexai_nvim.secrets import scrub, scrub_data

log = logging.getLogger("hexai_nvim.host")

__all__ = ["HexaiPlugin"]


@pynvim.plugin
class HexaiPlugin:
    def __init__(self, nvim: Any) -> None:
        self.runtime = Runtime(nvim)

    @pynvim.function("HexaiNotify", sync=False, allow_nested=True)
    def notify(self, args: list[Any]) -> None:
        try:
            self._dispatch(args)
        except Exception as exc:
            log.exception("HexaiNotify %r failed", args[:1])
            self.runtime.notify(f"hexai: {type(exc).__name__}: {exc}", ERROR, once=repr(exc))

    @pynvim.function("HexaiRequest", sync=True)
    def request(self, args: list[Any]) -> dict[str, Any]:
        # Answers pass the one scrubber, like everything sent to the editor.
        try:
            return {"ok": True, "value": scrub_data(self._dispatch(args))}
        except Exception as exc:
            log.exception("HexaiRequest %r failed", args[:1])
            return {"ok": False, "error": scrub(f"{type(exc).__name__}: {exc}")}

    def _dispatch(self, args: list[Any]) -> Any:
        name = args[0] if args else None
        payload: Payload = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        if name == "setup":
            self.runtime.setup(payload)
            return None
        if not self.runtime.set_up:
            # Lua always sends "setup" first; this only happens after a host restart.
            self.runtime.setup({})
        handler = HANDLERS.get(str(name))
        if handler is None:
            raise ValueError(f"unknown method {name!r}")
        return handler(self.runtime, payload)
