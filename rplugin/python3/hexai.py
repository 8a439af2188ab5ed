"""Remote-plugin shim: all logic lives in :mod:`hexai_nvim.host`.

Works when ``hexai_nvim`` is pip-installed into the host Python and when the
plugin is used straight from a checkout (lazy.nvim, vim-plug): then the
checkout's root is put on ``sys.path``.
"""

import os
import sys

try:
    import hexai_nvim  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from hexai_nvim.host import HexaiPlugin

__all__ = ["HexaiPlugin"]
