"""The remote plugin the shim registers when ``hexai_nvim.host`` cannot be imported.

Same two entry points as :class:`hexai_nvim.host.HexaiPlugin`, so
``:UpdateRemotePlugins`` registers the same functions whatever state the host
Python is in (a silent empty registration is what made installs look done).
Every call answers with what is missing and the exact fix, instead of
``E117: Unknown function`` or a host that will not load:

- ``HexaiRequest`` returns ``{ok = false, error = ..., unavailable = true}``;
- ``HexaiNotify`` hands the same text to ``require('hexai.rpc').on_unavailable``;

and ``hexai.rpc`` shows it once with the exact fix (``hexai.build.explain``).

Imports only pynvim and the standard library.
"""

from __future__ import annotations

import sys
from typing import Any

import pynvim


def message(error: BaseException) -> str:
    """What is wrong (the Lua side adds the fix: it knows the plugin manager)."""
    return (f"hexai.nvim cannot load in the Python host {sys.executable} "
            f"(Python {sys.version.split()[0]}): {type(error).__name__}: {error}")


def plugin_for(error: BaseException) -> type:
    """A pynvim plugin class whose handlers report ``error`` and the fix."""
    text = message(error)

    @pynvim.plugin
    class HexaiUnavailable:
        def __init__(self, nvim: Any) -> None:
            self.nvim = nvim
            self.told = False

        @pynvim.function("HexaiNotify", sync=False, allow_nested=True)
        def notify(self, args: list[Any]) -> None:
            if not self.told:
                self.told = True
                self.nvim.exec_lua("require('hexai.rpc').on_unavailable(...)", text,
                                   async_=True)

        @pynvim.function("HexaiRequest", sync=True)
        def request(self, args: list[Any]) -> dict[str, Any]:
            return {"ok": False, "error": text, "unavailable": True}

    return HexaiUnavailable
