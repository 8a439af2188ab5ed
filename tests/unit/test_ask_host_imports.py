"""Importing the host stays cheap: Neovim waits while the host imports the plugin.

The engine, the providers (and aiohttp with them) and the surfaces' prompt
builders load inside the handlers, on first use. Time is measured with
``python -X importtime -c "import hexai_nvim.host"``; this pins what is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

# hexai_nvim.surfaces.format (stats text, no imports of its own) may load.
HEAVY = (
    "aiohttp",
    "hexai_nvim.engine",
    "hexai_nvim.providers",
    "hexai_nvim.surfaces.ask",
    "hexai_nvim.surfaces.check",
    "hexai_nvim.surfaces.code_action",
    "hexai_nvim.surfaces.completion",
)


def test_importing_the_host_loads_no_engine_provider_or_surface() -> None:
    code = (
        "import json, sys\n"
        "import hexai_nvim.host\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    loaded = json.loads(out)
    assert "hexai_nvim.host.ask" in loaded and "hexai_nvim.host.check" in loaded
    heavy = [m for m in loaded if m.startswith(HEAVY)]
    assert heavy == [], f"imported when the host starts: {heavy}"


def test_handlers_are_registered_without_the_heavy_modules() -> None:
    import hexai_nvim.host  # noqa: F401
    from hexai_nvim.host.rpc import HANDLERS

    expected = {"ping", "complete", "cancel", "ask.start", "ask.retry", "ask.cancel",
                "code_action.list", "code_action.run", "code_action.cancel", "check.run",
                "check.info", "config.reload"}
    assert expected <= set(HANDLERS)
