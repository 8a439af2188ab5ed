"""The behaviour grammar of the simulator: model names and the ``X-Hexai-Sim`` header.

A model name is ``base`` followed by options, each introduced by ``+``::

    local+ttft=100+tps=200        base "local", 100 ms to first token, 200 tokens/s
    bad+status=401                every request answers 401 (the format's error body)
    x+fault=truncate              the stream stops before its end marker
    x+fault=endless               text for ever, never an end marker (until the cap)

The header ``X-Hexai-Sim: opt=val;opt=val`` uses the same options and wins over
the model name. A boolean option may be written bare (``+think`` is
``+think=1``). An unknown option or a bad value is a client error: the
simulator answers 400 in the format's error shape, naming the problem. See
``doc/simulator.md`` for the full table.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_TOKENS",
    "FAULTS",
    "HEADER",
    "USAGE_MODES",
    "SimOptionError",
    "SimOptions",
    "parse_header",
    "parse_model",
]

HEADER = "X-Hexai-Sim"
DEFAULT_TOKENS = 12
#: Longest reply the simulator produces, whatever ``tokens`` asks.
MAX_TOKENS = 100_000
FAULTS: tuple[str, ...] = (
    "malformed",
    "truncate",
    "stall",
    "drip",
    "disconnect",
    "json",
    "error",
    "endless",
)
USAGE_MODES: tuple[str, ...] = ("standard", "groq", "finish", "timings", "nostream", "none")


#: Options that may be written bare (``+think``).
_FLAGS: tuple[str, ...] = ("think", "crlf", "comments", "echo_key", "nofim", "single_slot",
                           "llama_server", "mistral")


class SimOptionError(ValueError):
    """A behaviour option the simulator does not understand."""


@dataclass(frozen=True)
class SimOptions:
    """How one request is answered. Defaults: a prompt, complete, 12-token answer."""

    #: Milliseconds before the first token (or before a whole/error answer).
    ttft: float = 0.0
    #: Tokens per second after the first; 0 sends them all at once.
    tps: float = 0.0
    #: Reply length in tokens (also capped by the request's max_tokens).
    tokens: int = DEFAULT_TOKENS
    #: Answer with this HTTP status and the format's real error body.
    status: int | None = None
    #: Seconds for a ``Retry-After`` header on an error answer.
    retry_after: float | None = None
    #: One of :data:`FAULTS`.
    fault: str | None = None
    #: Where OpenAI-style usage goes: one of :data:`USAGE_MODES`.
    usage: str = "standard"
    #: Fail only the first N requests of this model (with ``status``, default 503).
    fail_first: int = 0
    #: Emit reasoning/thinking text the way the format does (not answer text).
    think: bool = False
    #: SSE lines end with CRLF instead of LF.
    crlf: bool = False
    #: SSE comment lines (``: OPENROUTER PROCESSING``) before and between events.
    comments: bool = False
    #: Write the body in pieces of at most N bytes, each flushed (0: whole frames).
    chunk: int = 0
    #: Error messages echo the API key received (as careless servers do).
    echo_key: bool = False
    #: The model has no fill-in-the-middle support: FIM endpoints refuse it the
    #: way the real server does (Ollama 400 "does not support insert",
    #: llama.cpp ``/infill`` 501, Mistral 400); ``/v1/completions`` ignores the
    #: suffix, as llama-cpp-python does.
    nofim: bool = False
    #: Seconds after which a stall or drip gives up and closes (default: the state's cap).
    cap: float | None = None
    #: One request at a time, like llama-cpp-python: requests with this option
    #: share one slot, and a running stream is ended early (``data: [DONE]``
    #: without a ``finish_reason``) as soon as another one waits for the slot.
    single_slot: bool = False
    #: The server's context in tokens (0: none). A prompt plus ``max_tokens``
    #: larger than it is answered the way each real server does (see
    #: ``doc/simulator.md``).
    context: int = 0
    #: Answer a too-large context the way llama.cpp's own ``llama-server`` does
    #: (400 ``exceed_context_size_error`` with ``n_ctx``, streamed or not)
    #: rather than llama-cpp-python (400 whole, an empty 200 stream).
    llama_server: bool = False
    #: Chat completions as Mistral's API answers them: a field it does not know
    #: (``stream_options``, ``max_completion_tokens`` ...) is a 422
    #: ``extra_forbidden``; usage comes on the last chunk without being asked.
    mistral: bool = False

    @property
    def effective_tps(self) -> float:
        """``tps``, or one token per second for a drip without one."""
        if self.fault == "drip" and self.tps <= 0:
            return 1.0
        return self.tps


def _number(name: str, raw: str, *, minimum: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SimOptionError(f"sim option {name}: {raw!r} is not a number") from None
    if not math.isfinite(value) or value < minimum:
        raise SimOptionError(f"sim option {name}: {raw!r} must be >= {minimum:g}")
    return value


def _integer(name: str, raw: str, *, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SimOptionError(f"sim option {name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise SimOptionError(f"sim option {name}: {raw!r} must be >= {minimum}")
    return value


def _flag(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SimOptionError(f"sim option {name}: {raw!r} is not a boolean (1 or 0)")


def _apply(options: SimOptions, name: str, raw: str) -> SimOptions:
    value: object
    if name in ("ttft", "tps"):
        value = _number(name, raw)
    elif name == "tokens":
        value = min(_integer(name, raw), MAX_TOKENS)
    elif name == "status":
        value = _integer(name, raw, minimum=400)
        if value > 599:
            raise SimOptionError(f"sim option status: {raw!r} is not an HTTP status")
    elif name == "retry_after":
        value = _number(name, raw)
    elif name == "fault":
        if raw not in FAULTS:
            raise SimOptionError(f"sim option fault: {raw!r} is not one of {', '.join(FAULTS)}")
        value = raw
    elif name == "usage":
        if raw not in USAGE_MODES:
            raise SimOptionError(
                f"sim option usage: {raw!r} is not one of {', '.join(USAGE_MODES)}"
            )
        value = raw
    elif name == "fail_first":
        value = _integer(name, raw)
    elif name in _FLAGS:
        value = _flag(name, raw)
    elif name in ("chunk", "context"):
        value = _integer(name, raw)
    elif name == "cap":
        value = _number(name, raw)
    else:
        known = ", ".join(f.name for f in dataclasses.fields(SimOptions))
        raise SimOptionError(f"unknown sim option {name!r} (known: {known})")
    changes: dict[str, Any] = {name: value}
    return dataclasses.replace(options, **changes)


def _apply_all(options: SimOptions, items: list[str]) -> SimOptions:
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep and name not in _FLAGS:
            raise SimOptionError(f"sim option {name!r} needs a value ({name}=...)")
        options = _apply(options, name, raw.strip())
    return options


def parse_model(model: str) -> tuple[str, SimOptions]:
    """Split ``base+opt=val+...`` into the base name and its options.

    Raises :class:`SimOptionError` for an unknown option or a bad value.
    """
    base, *items = model.split("+")
    return base, _apply_all(SimOptions(), items)


def parse_header(value: str, options: SimOptions | None = None) -> SimOptions:
    """Apply ``opt=val;opt=val`` (an ``X-Hexai-Sim`` header) over ``options``."""
    return _apply_all(options or SimOptions(), value.split(";"))
