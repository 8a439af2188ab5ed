"""Remote-plugin shim: all logic lives in :mod:`hexai_nvim.host`.

The checkout this file is in wins over any installed copy (the manifest names
this file, and its Lua side is this checkout's); its private dependencies
(``deps/``, see :mod:`hexai_nvim.deps`) go on ``sys.path`` after it. When
the host still cannot import the plugin, a stand-in with the same functions
says what is missing and how to fix it (:mod:`hexai_nvim.unavailable`).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from hexai_nvim import deps  # noqa: E402  (standard library only)

deps.add_to_path(ROOT)
try:
    from hexai_nvim.host import HexaiPlugin
except ImportError as exc:  # a missing dependency: register a plugin that says so
    from hexai_nvim.unavailable import plugin_for

    HexaiPlugin = plugin_for(exc)

__all__ = ["HexaiPlugin"]
