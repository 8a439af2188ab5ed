"""What the engine does when a provider fails: retry, skip, fall back (hexai 0.42.4).

Three rules, one owner each, all called by the engine (:mod:`hexai_nvim.engine.run`
and :mod:`hexai_nvim.engine.fanout`):

- **Retry** (:func:`retry_delay`): a request that failed before any text with
  HTTP 429, 500, 502, 503 or 504, or whose connection failed, is tried again
  after an exponential back-off (0.25 s, 0.5 s, 1 s ..., or the server's
  ``Retry-After``), at most ``[engine] retries`` times; the engine never
  waits past the entry's deadline.
- **Circuit breaker** (:class:`CircuitBreaker`, one per engine, keyed by
  provider name): ``breaker_failures`` failed entries within
  ``breaker_window_ms`` open it; while open every entry of that provider fails
  at once with kind ``skipped`` and nothing is sent. After
  ``breaker_cooldown_ms`` one entry is let through (half open): an answer
  closes the breaker, a failure opens it for another cooldown. Only failures
  that say something about the provider count (:func:`counts_against`): not
  a cancel, a missing key or a config problem.
- **Fallback** (:func:`may_fall_back`): an entry with hexai's
  ``fallback_provider``/``fallback_model`` that failed without showing any
  text is run once more as its fallback, in the same slot and under the same
  deadline. The result then names both (:func:`fallback_label`).

What a caller may rely on: nothing here does I/O or sleeps; time comes from
the clock given to :class:`CircuitBreaker` (monotonic seconds).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hexai_nvim.providers.base import ErrorKind

#: HTTP statuses worth a retry (before any text was streamed).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Error kinds worth a retry when there is no status (the connection failed).
RETRY_KINDS = frozenset({ErrorKind.UNREACHABLE, ErrorKind.RATE_LIMITED})
#: First back-off; each further retry waits twice as long.
BASE_DELAY_S = 0.25
#: Longest back-off we choose ourselves (a server's Retry-After may ask more).
MAX_DELAY_S = 8.0

#: Failures that say a provider is in trouble (they count for its breaker).
BREAKER_KINDS = frozenset(
    {
        ErrorKind.SERVER,
        ErrorKind.UNREACHABLE,
        ErrorKind.RATE_LIMITED,
        ErrorKind.TIMEOUT,
        ErrorKind.BAD_RESPONSE,
    }
)


def is_retryable(kind: ErrorKind, status: int | None, streamed: bool) -> bool:
    """Whether a failed attempt is tried again (never once text was shown)."""
    if streamed:
        return False
    if status is not None:
        return status in RETRY_STATUSES
    return kind in RETRY_KINDS


def retry_delay(retry: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first)."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return float(min(MAX_DELAY_S, BASE_DELAY_S * 2.0 ** max(0, retry - 1)))


def counts_against(kind: ErrorKind, started: bool) -> bool:
    """Whether a failed entry counts for its provider's breaker.

    A timeout counts only when the request had left the queue (a full queue
    is not the provider's fault).
    """
    if kind is ErrorKind.TIMEOUT:
        return started
    return kind in BREAKER_KINDS


def may_fall_back(kind: ErrorKind, streamed: bool, time_left_s: float | None) -> bool:
    """Whether a failed entry runs its fallback: not after a cancel, never after
    text was shown (it would be replaced under the reader's eyes), and only
    while the entry's deadline leaves time (None: no deadline)."""
    if kind is ErrorKind.CANCELLED or streamed:
        return False
    return time_left_s is None or time_left_s > 0


def fallback_label(primary_label: str, fallback_label_: str) -> str:
    """``openai:gpt-4.1 → ollama:qwen (fallback)``: how a fallback's result is named."""
    return f"{primary_label} → {fallback_label_} (fallback)"


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value * 1000:.0f} ms"


@dataclass
class _Circuit:
    failures: deque[float] = field(default_factory=deque)
    #: Monotonic time until which the provider is skipped (None: closed).
    open_until: float | None = None
    #: The cooldown is over and one trial entry is under way.
    trial: bool = False


class CircuitBreaker:
    """Per-provider breaker. ``failures`` 0 turns it off."""

    def __init__(
        self,
        failures: int,
        window_s: float,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def configure(self, failures: int, window_s: float, cooldown_s: float) -> None:
        """New limits (a config reload); what is known about providers stays."""
        self.failures, self.window_s, self.cooldown_s = failures, window_s, cooldown_s

    def skip_reason(self, provider: str) -> str | None:
        """Why an entry of ``provider`` must not send now, or None to go ahead.

        A None after the cooldown makes the caller the trial entry: it must
        :meth:`record` its outcome.
        """
        circuit = self._circuits.get(provider)
        if self.failures <= 0 or circuit is None or circuit.open_until is None:
            return None
        now = self._clock()
        if now < circuit.open_until:
            left = circuit.open_until - now
            return (
                f"{provider} failed {self.failures} times in {_seconds(self.window_s)}; "
                f"next try in {_seconds(left)}"
            )
        if circuit.trial:
            return f"{provider} failed repeatedly; one trial request is under way"
        circuit.trial = True
        return None

    def record(self, provider: str, kind: ErrorKind | None, started: bool = True) -> None:
        """The outcome of one entry of ``provider`` (``kind`` None: it answered)."""
        if self.failures <= 0:
            return
        circuit = self._circuits.setdefault(provider, _Circuit())
        now = self._clock()
        if kind is None:
            circuit.failures.clear()
            circuit.open_until = None
            circuit.trial = False
            return
        if not counts_against(kind, started):
            circuit.trial = False  # the trial told nothing: the next entry tries
            return
        circuit.failures.append(now)
        while circuit.failures and circuit.failures[0] < now - self.window_s:
            circuit.failures.popleft()
        if circuit.trial or len(circuit.failures) >= self.failures:
            circuit.open_until = now + self.cooldown_s
            circuit.trial = False

    def is_open(self, provider: str) -> bool:
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.open_until is None:
            return False
        return self._clock() < circuit.open_until
