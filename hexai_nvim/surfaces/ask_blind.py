"""Blind mode of the ask surface (``[arena] blind``): "Answer A", "Answer B"... until the vote.

One :class:`BlindAsk` per question holds its shuffled order
(``perm[shown slot] = entry index``, a fresh uniformly random order per
question from the caller's RNG, which tests seed) and whether it has been
revealed. Used by ``:HexaiAsk`` (:mod:`hexai_nvim.host.ask`, revealed by
the vote) and ``hexai ask --blind`` (:mod:`hexai_nvim.cli.ask_cmd`, revealed
once every answer is in); nothing here does I/O.

Before the reveal, :meth:`BlindAsk.present` turns an entry's update (its
entry-state payload, :mod:`hexai_nvim.surfaces.entry_state`) into what may
be shown:

- the index becomes the shown slot, the label ``Answer <letter>``, the
  ``provider:model`` key empty;
- timings, token counts, rates and the scoreboard's figures are dropped;
  how an answer ended stays, without numbers ("cut (token limit)"), so a
  cut answer is never shown as whole;
- an error keeps its kind and HTTP status, but not its text (providers name
  the model in their messages: "The model 'x' does not exist"): the text is
  sent again at the reveal;
- streamed text passes unchanged (the answers are what is judged).

After the reveal (a vote, or "all bad") the same updates pass whole, with
the index still the shown slot (the view keeps its order) and the label
``<letter>: <label>``. :func:`hexai_nvim.arena.record.reveal_words` is the one
short message.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hexai_nvim.arena.record import blind_order, letter

#: What an error's message reads before the reveal.
HIDDEN_ERROR = "its message is hidden until the names are shown (it may name the model)"

#: How an answer ended, without the token counts of ``stop_words``.
BLIND_STOP_WORDS = {
    "length": "cut (token limit)",
    "cut": "cut short by the server",
    "timeout": "timed out",
}

#: Update fields that tell how fast or how long an entry was.
_HIDDEN_FIELDS = ("ms", "ttft_ms", "output_tokens", "tokens_per_s", "tokens_estimated")


def blind_name(shown: int) -> str:
    """The label of shown slot ``shown`` before the reveal: ``Answer A``."""
    return f"Answer {letter(shown)}"


@dataclass
class BlindAsk:
    """The blind order of one question and whether it was revealed."""

    #: ``perm[shown slot] = entry index``.
    perm: list[int]
    revealed: bool = False
    _shown: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._shown = {real: shown for shown, real in enumerate(self.perm)}

    @classmethod
    def shuffled(cls, n: int, rng: random.Random) -> BlindAsk:
        return cls(blind_order(n, rng))

    def shown(self, real: int) -> int:
        """The slot entry ``real`` is shown in."""
        return self._shown.get(real, real)

    def real(self, shown: Any) -> int | None:
        """The entry shown in slot ``shown`` (None for anything else)."""
        if not isinstance(shown, int) or isinstance(shown, bool):
            return None
        return self.perm[shown] if 0 <= shown < len(self.perm) else None

    def slots(self) -> dict[int, int]:
        """Entry index -> shown slot (what an outcome records)."""
        return dict(self._shown)

    def label(self, real: int, label: str) -> str:
        """The label of entry ``real``: ``Answer B`` before the reveal, ``B: label`` after."""
        shown = self.shown(real)
        return f"{letter(shown)}: {label}" if self.revealed else blind_name(shown)

    def order(self, items: Sequence[Any]) -> list[Any]:
        """``items`` (in entry order) in shown order."""
        return [items[real] for real in self.perm]

    def present(self, real: int, update: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Entry ``real``'s update as the view may get it: (shown slot, update)."""
        out = dict(update)
        shown = self.shown(real)
        if "index" in out:
            out["index"] = shown
        if "label" in out:
            out["label"] = self.label(real, str(out["label"]))
        if self.revealed:
            return shown, out
        if "key" in out:
            out["key"] = ""
        for name in _HIDDEN_FIELDS:
            out.pop(name, None)
        words = BLIND_STOP_WORDS.get(str(out.get("stop_reason")))
        if "stop" in out or "stats" in out:
            out.pop("stop", None)
            if words:
                out["stop"] = words
        if "stats" in out:
            out["stats"] = words or ""
        if "score" in out:
            out["score"] = {"stop": words} if words else {}
        if out.get("error_kind") and out.get("error_kind") != "cancelled":
            out["error_message"] = HIDDEN_ERROR
        return shown, out


