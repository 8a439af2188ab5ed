"""What the simulator has seen: recorded requests and live counters.

A :class:`SimState` is written by the server's event loop and may be read from
any thread (the end-to-end tests run the server in a :class:`SimThread`). All
mutation happens under one lock; readers get copies. :meth:`SimState.wait_for`
blocks a *different* thread until a condition holds; inside the server's own
loop use :meth:`SimState.async_wait_for` instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hexai_nvim.sim.options import SimOptions

__all__ = ["MASKED_HEADERS", "RecordedRequest", "SimState", "key_digest"]

#: Header names (lower case) whose values are never recorded.
MASKED_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


def key_digest(key: str) -> str:
    """A short SHA-256 digest of an API key: lets a test check which key was sent."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class RecordedRequest:
    """One request as the simulator saw it (headers with secrets masked)."""

    path: str
    model: str
    body: Any
    headers: Mapping[str, str]
    #: ``time.monotonic()`` when the request arrived.
    started_at: float
    #: The simulator sent all it meant to (including a fault's partial answer).
    finished: bool = False
    #: The client closed the connection before the simulator was done.
    disconnected: bool = False
    #: The base model name (``model`` without its ``+`` options).
    base_model: str = ""
    options: SimOptions = field(default_factory=SimOptions)
    stream: bool = False
    #: HTTP status sent (``None`` until the headers go out).
    status: int | None = None
    finished_at: float | None = None
    #: The client's TCP port: equal ports mean a reused keep-alive connection.
    client_port: int | None = None
    #: :func:`key_digest` of the key sent (Bearer or ``x-api-key``), if any.
    key_digest: str | None = None
    #: 1 for the first request of this model string, 2 for the next ...
    ordinal: int = 0
    #: The state's generation when recorded (``reset`` starts a new one).
    generation: int = field(default=0, repr=False, compare=False)


def mask_headers(headers: Iterable[tuple[str, str]]) -> tuple[dict[str, str], str | None]:
    """Headers with secret values masked, and the digest of the key found."""
    masked: dict[str, str] = {}
    digest: str | None = None
    for name, value in headers:
        if name.lower() in MASKED_HEADERS:
            scheme, sep, secret = value.partition(" ")
            if sep and scheme.lower() == "bearer":
                masked[name] = "Bearer ***"
                secret = secret.strip()
            else:
                masked[name] = "***"
                secret = value.strip()
            if secret and name.lower() in ("authorization", "x-api-key", "api-key"):
                digest = key_digest(secret)
        else:
            masked[name] = value
    return masked, digest


class SimState:
    """Recorded requests and counters of one simulator (see the module notes).

    ``models`` are listed by ``/api/tags`` and ``/v1/models`` besides every model
    seen. ``cap_s`` bounds every deliberate wait (stall, drip, ttft).
    ``replies`` may give canned answer texts (see :meth:`reply_for`).
    """

    def __init__(
        self, models: Iterable[str] = (), *, cap_s: float = 60.0,
        replies: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.cap_s = cap_s
        #: Canned answers: ``replies(base_model, prompt)`` gives the text to
        #: answer, or None for the usual generated text (``make demo`` uses it
        #: so its answers read like real ones). Called on the server's loop.
        self.replies = replies
        self._cond = threading.Condition(threading.RLock())
        self._requests: list[RecordedRequest] = []
        self._models: list[str] = list(dict.fromkeys(models))
        self._ordinals: dict[str, int] = {}
        self._active = 0
        self._disconnects = 0
        self._generation = 0
        #: The last prompt of each base model (the prompt cache of ``usage=timings``).
        self._last_prompts: dict[str, str] = {}

    def reply_for(self, base_model: str, prompt: str) -> str | None:
        """The canned answer to ``prompt``, if ``replies`` has one."""
        if self.replies is None:
            return None
        return self.replies(base_model, prompt)

    # -- reading (any thread) ---------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Copies of every recorded request, oldest first."""
        with self._cond:
            return [replace(r) for r in self._requests]

    @property
    def active(self) -> int:
        """Requests in flight."""
        with self._cond:
            return self._active

    @property
    def disconnects(self) -> int:
        """Requests whose client left before the simulator was done."""
        with self._cond:
            return self._disconnects

    @property
    def models(self) -> list[str]:
        """Configured models, then every model name seen, without repeats."""
        with self._cond:
            return list(self._models)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        """Requests for ``model`` exactly, or for base ``model`` when it has no ``+``."""
        exact = "+" in model
        return [
            r for r in self.requests if r.model == model or (not exact and r.base_model == model)
        ]

    def wait_for(self, predicate: Callable[[SimState], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(self)`` is true (True) or ``timeout`` passes (False).

        Call it from a thread other than the server's loop.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    async def async_wait_for(
        self, predicate: Callable[[SimState], bool], timeout: float = 5.0
    ) -> bool:
        """Like :meth:`wait_for`, but polls without blocking the running loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def reset(self) -> None:
        """Forget recorded requests and counts (not the configured models).

        Requests still in flight stay counted in ``active``; when they end they
        no longer change ``disconnects``.
        """
        with self._cond:
            self._generation += 1
            self._requests.clear()
            self._ordinals.clear()
            self._disconnects = 0
            self._last_prompts.clear()
            self._cond.notify_all()

    # -- writing (the server) ---------------------------------------------

    def begin(self, record: RecordedRequest) -> RecordedRequest:
        """Record a new request; sets its ordinal and counts it as active."""
        with self._cond:
            ordinal = self._ordinals.get(record.model, 0) + 1
            self._ordinals[record.model] = ordinal
            record.ordinal = ordinal
            record.generation = self._generation
            if record.model and record.model not in self._models:
                self._models.append(record.model)
            self._requests.append(record)
            self._active += 1
            self._cond.notify_all()
            return record

    def prompt_cache(self, base_model: str, prompt: str, input_chars: int) -> int:
        """Tokens of this prompt a llama.cpp prompt cache holds from the previous
        request of ``base_model`` (the common start of the two prompts)."""
        with self._cond:
            previous = self._last_prompts.get(base_model)
            self._last_prompts[base_model] = prompt
        if previous is None:
            return 0
        if previous == prompt:
            return (input_chars + 3) // 4
        common = 0
        for a, b in zip(previous, prompt, strict=False):
            if a != b:
                break
            common += 1
        return common // 4

    def update(self, record: RecordedRequest, **changes: Any) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(record, name, value)
            self._cond.notify_all()

    def end(self, record: RecordedRequest, *, disconnected: bool) -> None:
        """The handler of ``record`` is done (the client left if ``disconnected``)."""
        with self._cond:
            record.finished_at = time.monotonic()
            if disconnected:
                if not record.disconnected:
                    record.disconnected = True
                    if record.generation == self._generation:
                        self._disconnects += 1
            else:
                record.finished = True
            self._active -= 1
            self._cond.notify_all()
