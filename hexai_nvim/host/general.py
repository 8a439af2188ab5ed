"""Host handlers shared by every surface."""

from __future__ import annotations

import os
from typing import Any

from hexai_nvim import __version__
from hexai_nvim.host.rpc import Payload, method
from hexai_nvim.host.runtime import Runtime


@method("ping")
def ping(rt: Runtime, payload: Payload) -> dict[str, Any]:
    """Cheap liveness answer: proves the host is registered and answering."""
    return {"version": __version__, "pid": os.getpid(), "set_up": rt.set_up}
