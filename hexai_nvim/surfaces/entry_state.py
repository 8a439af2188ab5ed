"""One entry's state as every surface shows it: the single vocabulary Lua draws from.

A surface keeps one :class:`EntryState` per entry of a request and sends
``to_lua()`` of it; Lua never derives a state, a stats line or an error label
itself.

What a caller may rely on:

- ``status`` is one of :data:`STATUSES`: ``pending`` (asked, no text yet),
  ``streaming`` (text is arriving; ``text`` holds it so far), ``ok``,
  ``empty`` (answered with nothing usable), ``error`` (``error_kind``,
  ``error_message``, ``error_status``), ``cancelled``, ``muted`` (not asked:
  it failed with ``auth``/``config`` before, see the completion host).
- ``stats`` is the line shown next to the label (``140 ms``, ``…``,
  ``… no answer after 2 s``), decided here or by the surface, never by Lua.
- ``stop_reason`` says how the answer ended (:data:`STOP_REASONS`, the
  engine's ``StopReason``); ``stop`` says it in words unless the model simply
  finished ("cut at 16 tokens (token limit)"), and ``stats`` carries it too.
- ``score`` (ask only): the scoreboard's figures (``ttft``, ``total``,
  ``rate``, ``stop``), formatted.
- Every surface builds its entry payload here: completion and its menus from
  :class:`EntryState`, the ask view and code actions with
  :func:`result_state` (a surface adds its own context next to it, e.g. a code
  action's ``title``, never a second word for the state).
- No heavy imports: the host imports this module while Neovim waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hexai_nvim.engine.results import EntryResult

STATUSES = ("pending", "streaming", "ok", "empty", "error", "cancelled", "muted")
STOP_REASONS = ("stop", "length", "cut", "timeout", "cancelled", "error")
#: Error kinds that do not heal by asking again: the config or the key must change.
STICKY_ERROR_KINDS = frozenset({"auth", "config"})
#: Longest error message put into an entry's line.
ERROR_MESSAGE_MAX = 120


@dataclass
class EntryState:
    """What Lua is told about one entry (mutable: the surface updates it as events arrive)."""

    index: int
    label: str
    key: str
    status: str = "pending"
    text: str = ""
    stats: str = ""
    ms: int | None = None
    ttft_ms: int | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False
    tokens_per_s: float | None = None
    truncated: bool = False
    error_kind: str | None = None
    error_message: str | None = None
    error_status: int | None = None
    #: How the answer ended (a StopReason value) and, unless the model simply
    #: finished, the same in words ("cut at 16 tokens (token limit)").
    stop_reason: str | None = None
    stop: str | None = None
    #: The scoreboard's figures (the ask view), formatted.
    score: dict[str, str | None] | None = None

    def finish(self, result: EntryResult, ms: int) -> None:
        """Fold an entry's final result in (``text`` is left to the surface on success)."""
        self.ms = ms
        stats = result.stats
        self.ttft_ms = None if stats.ttft_ms is None else int(stats.ttft_ms)
        self.output_tokens = stats.output_tokens
        self.tokens_estimated = stats.tokens_estimated
        tps = stats.tokens_per_s
        self.tokens_per_s = None if tps is None else round(tps, 1)
        self.truncated = result.truncated
        from hexai_nvim.surfaces.format import stop_words

        self.stop_reason = stop_reason_of(result)
        self.stop = stop_words(result) or None
        self.stats = f"{ms} ms" + (f" · {self.stop}" if self.stop else "")
        if getattr(result, "fallback_of", None) is not None:
            from hexai_nvim.surfaces.format import fallback_words

            # A fallback answered: the line names both and says why.
            self.label = result.label
            self.stats += f" · {fallback_words(result)}"
        error = result.error
        if error is None:
            self.status = "ok"
            return
        self.error_kind = error.kind.value
        self.error_message = short_error(error.message, error.status)
        self.error_status = error.status
        self.status = "cancelled" if error.kind.value == "cancelled" else "error"

    @property
    def sticky_error(self) -> bool:
        """Failed in a way asking again cannot fix (bad key, missing key, bad config)."""
        return self.status == "error" and self.error_kind in STICKY_ERROR_KINDS

    def to_lua(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "label": self.label,
            "key": self.key,
            "status": self.status,
            "text": self.text,
            "stats": self.stats,
            "truncated": self.truncated,
        }
        for name in ("ms", "ttft_ms", "output_tokens", "tokens_per_s", "error_kind",
                     "error_message", "error_status", "stop_reason", "stop", "score"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.tokens_estimated:
            data["tokens_estimated"] = True
        return data


def result_state(result: EntryResult, *, text: str = "", stats: str | None = None,
                 full_error: bool = False) -> EntryState:
    """The entry state of a finished ``result`` (ask view, code actions).

    ``text`` is what the surface shows (the ask view streamed it already and
    sends none); ``stats`` replaces the short completion line (``140 ms``);
    ``full_error`` keeps the whole provider message (shown in a block or a
    notification) instead of its first line.
    """
    primary = result.fallback_of or result.entry
    state = EntryState(index=result.index, label=primary.label, key=primary.key)
    total = result.stats.total_ms
    state.finish(result, 0 if total is None else int(total))
    state.text = text
    if stats is not None:
        state.stats = stats
    if full_error and result.error is not None:
        state.error_message = result.error.message
    return state


#: How a status reads on screen (the ask view's words; its Lua, which draws
#: them while an entry streams, keeps the same table).
STATUS_WORDS = {
    "pending": "waiting…",
    "streaming": "streaming…",
    "ok": "done",
    "empty": "empty",
    "error": "error",
    "cancelled": "cancelled",
    "muted": "muted",
}


def state_words(state: EntryState) -> str:
    """An entry's state in words, as the ask view's header says it: ``done``,
    ``error (auth)``, ``truncated (timeout)`` (an error after some text),
    ``cancelled`` (the export and ``hexai ask`` use the same words)."""
    if state.status == "error" and state.truncated:
        word = "truncated"
    else:
        word = STATUS_WORDS.get(state.status, state.status)
    kind = state.error_kind
    if kind and kind != word:
        word += f" ({kind})"
    return word


def stop_reason_of(result: EntryResult) -> str:
    """How ``result`` ended, in :data:`STOP_REASONS` (a reason the engine reports wins)."""
    reported = getattr(result, "stop_reason", None)
    reported = getattr(reported, "value", reported)  # an enum of the engine's
    if isinstance(reported, str) and reported in STOP_REASONS:
        return reported
    error = result.error
    if error is None:
        return "stop"
    kind = error.kind.value
    if kind in ("timeout", "cancelled"):
        return kind
    return "error"


def short_error(message: str, status: int | None) -> str:
    """The first line of ``message``, with the HTTP status, at most :data:`ERROR_MESSAGE_MAX`."""
    text = (message or "").strip()
    first = text.splitlines()[0] if text else ""
    if status is not None and str(status) not in first:
        first = f"HTTP {status}: {first}" if first else f"HTTP {status}"
    if len(first) > ERROR_MESSAGE_MAX:
        first = first[: ERROR_MESSAGE_MAX - 1] + "…"
    return first
