"""The provider simulator: real wire formats, deterministic text, chosen faults.

Public API::

    create_app(state=None) -> aiohttp.web.Application
    SimState, RecordedRequest, key_digest
    SimThread (hexai_nvim.sim.thread)           # background-thread server
    reply_text(model, prompt, *, tokens=None)    # the answer a model gives
    parse_model(model) -> (base, SimOptions)

``hexai sim --port N`` runs it from the terminal. The behaviour grammar is
documented in ``doc/simulator.md``. Importing this package imports aiohttp
only when ``create_app``/``SimThread`` are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hexai_nvim.sim.options import SimOptionError, SimOptions, parse_header, parse_model
from hexai_nvim.sim.state import RecordedRequest, SimState, key_digest
from hexai_nvim.sim.text import reply_text, reply_tokens

if TYPE_CHECKING:
    from aiohttp import web

    from hexai_nvim.sim.thread import SimThread

__all__ = [
    "RecordedRequest",
    "SimOptionError",
    "SimOptions",
    "SimState",
    "SimThread",
    "create_app",
    "key_digest",
    "parse_header",
    "parse_model",
    "reply_text",
    "reply_tokens",
]


def create_app(state: SimState | None = None) -> web.Application:
    """The simulator as an aiohttp application (see :mod:`hexai_nvim.sim.server`)."""
    from hexai_nvim.sim.server import create_app as _create_app

    return _create_app(state)


def __getattr__(name: str) -> Any:
    if name == "SimThread":
        from hexai_nvim.sim.thread import SimThread

        return SimThread
    raise AttributeError(name)
