"""The outcome store: what the person chose among the suggestions shown, kept locally.

One JSON line per *outcome* (a completion trigger that showed two or more
distinct suggestions, or a vote in an ask view) in
``$XDG_STATE_HOME/hexai/arena-outcomes.jsonl`` (else
``~/.local/state/hexai/arena-outcomes.jsonl``). It is separate from the
request stats (:mod:`hexai_nvim.stats`, in the cache folder, pruned to an
hour): outcomes are the user's history and are **never pruned** by hexai.

Format, version 1 (``"v": 1`` in every line; readers skip lines of other
versions and lines that do not parse). Version rule: an *optional* field may
be added within a version (readers ignore fields they do not know, and a
line without it reads as its documented default); a field removed, renamed
or given another meaning makes a new version::

    {"v": 1, "ts": 1764579600.0, "id": "9f2c41d07a3b", "surface": "completion",
     "via": "cmp", "action": "accept", "chosen": [0, 2], "blind": false,
     "filetype": "python", "prompt_hash": "c0ffee...", "prompt_chars": 812,
     "candidates": [
       {"key": "ollama:qwen2.5-coder", "label": "qwen", "slot": 0, "visible": true,
        "status": "ok", "stop": null, "hash": "5d41402abc4b2a76", "chars": 14,
        "lines": 1, "total_ms": 140.2, "ttft_ms": 80.0, "input_tokens": 210,
        "output_tokens": 6, "tokens_estimated": false},
       ...]}

- ``via`` (completion only; optional, added within version 1): where the
  suggestions were shown and chosen: ``ghost`` (ghost text), ``popup`` (the
  built-in menu), ``cmp`` (nvim-cmp), ``blink`` (blink.cmp). A line without
  it was written before menus were recorded: ghost text.
- ``action``: ``accept`` (the whole suggestion), ``partial`` (a word or a line
  of it, or all of a cut answer), ``typed`` (typed by hand exactly as
  suggested), ``dismiss``, ``moved_on`` (the suggestions went away unused),
  and for the ask view ``vote``, ``yank``, ``insert``, ``all_bad``.
- ``chosen``: indexes into ``candidates`` of what was chosen, with the entries
  whose text was identical to it (a tie); empty when nothing was chosen.
- ``slot``: where the candidate was shown (0 = the selected/first place; in
  a menu its position among hexai's items, other sources' items not counted).
- ``hash``: the first 16 hex digits of the SHA-256 of the candidate's text;
  ``chars``/``lines`` its size. The text itself (``"text"``) and the prompt
  (``"prompt"``) are stored only with ``[arena] store_text = true``.

What a caller may rely on: :meth:`OutcomeStore.append` never raises for an
I/O problem (it logs once); appends hold an advisory lock; :meth:`read`
never raises and returns the outcomes in file order. A line with the ``id``
of an earlier one replaces it (an ask's explicit vote after a yank of one of
its answers, or the menu's accept of a trigger whose ghost text was already
recorded as moved on: one outcome per trigger), so the file stays append-only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hexai_nvim.jsonl import LineFile

log = logging.getLogger("hexai_nvim.arena")

FORMAT_VERSION = 1
FILE_NAME = "arena-outcomes.jsonl"

#: Actions that choose one candidate (a vote for it, ties included).
CHOICES = frozenset({"accept", "partial", "typed", "vote", "yank", "insert"})
#: Actions that choose nothing (they count as "shown, not accepted").
NO_CHOICE = frozenset({"dismiss", "moved_on", "all_bad"})
ACTIONS = CHOICES | NO_CHOICE


def default_outcome_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/hexai/arena-outcomes.jsonl``, else under ``~/.local/state``."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "hexai" / FILE_NAME


def text_hash(text: str) -> str:
    """What is stored instead of a text: 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    """One entry's suggestion as it was shown in one outcome."""

    key: str  # provider:model
    label: str
    slot: int
    visible: bool
    status: str  # ok | empty | truncated | error | cancelled
    hash: str | None
    chars: int = 0
    lines: int = 0
    total_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False
    #: Why the answer ended, when the engine says (a cut answer is not whole).
    stop: str | None = None
    text: str | None = None  # only with [arena] store_text

    @classmethod
    def of_text(cls, key: str, label: str, slot: int, text: str, **kw: Any) -> Candidate:
        """A candidate for ``text`` (hash and sizes; the text only when ``keep_text``)."""
        keep = bool(kw.pop("keep_text", False))
        return cls(
            key=key,
            label=label,
            slot=slot,
            hash=text_hash(text) if text else None,
            chars=len(text),
            lines=text.count("\n") + 1 if text else 0,
            text=text if keep and text else None,
            **kw,
        )

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if data["text"] is None:
            del data["text"]
        return data


_CANDIDATE_FIELDS = frozenset(f.name for f in fields(Candidate))


def _candidate(data: dict[str, Any]) -> Candidate:
    # Fast path for our own lines; fields a later writer added are dropped.
    if data.keys() <= _CANDIDATE_FIELDS:
        return Candidate(**data)
    return Candidate(**{k: v for k, v in data.items() if k in _CANDIDATE_FIELDS})


@dataclass(frozen=True)
class Outcome:
    """What the person did with one set of suggestions."""

    ts: float
    id: str
    surface: str  # completion | ask
    action: str
    chosen: tuple[int, ...]
    candidates: tuple[Candidate, ...]
    blind: bool = False
    filetype: str = ""
    prompt_hash: str | None = None
    prompt_chars: int = 0
    prompt: str | None = None  # only with [arena] store_text
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Completion: ghost | popup | cmp | blink ("": not said, i.e. ghost text).
    via: str = ""

    @property
    def shown(self) -> tuple[Candidate, ...]:
        """Candidates the person saw (visible, with a suggestion)."""
        return tuple(c for c in self.candidates if c.visible and c.hash is not None)

    def distinct(self) -> int:
        """How many different suggestions were shown."""
        return len({c.hash for c in self.shown})

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "ts": self.ts,
            "id": self.id,
            "surface": self.surface,
            **({"via": self.via} if self.via else {}),
            "action": self.action,
            "chosen": list(self.chosen),
            "blind": self.blind,
            "filetype": self.filetype,
            "prompt_hash": self.prompt_hash,
            "prompt_chars": self.prompt_chars,
            "candidates": [c.to_dict() for c in self.candidates],
        }
        if self.prompt is not None:
            data["prompt"] = self.prompt
        if self.extra:
            data["extra"] = dict(self.extra)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Outcome | None:
        """Parse one line; None when it is not a version-1 outcome."""
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            return None
        try:
            raw = data["candidates"]
            candidates = tuple(map(_candidate, raw))
            chosen = tuple(int(i) for i in data.get("chosen", ()))
            outcome = cls(
                ts=float(data["ts"]),
                id=str(data.get("id", "")),
                surface=str(data["surface"]),
                action=str(data["action"]),
                chosen=chosen,
                candidates=candidates,
                blind=bool(data.get("blind", False)),
                filetype=str(data.get("filetype", "")),
                prompt_hash=data.get("prompt_hash"),
                prompt_chars=int(data.get("prompt_chars", 0)),
                prompt=data.get("prompt"),
                extra=data.get("extra") or {},
                via=str(data.get("via") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        if outcome.action not in ACTIONS or any(
            not 0 <= i < len(candidates) for i in chosen
        ):
            return None
        return outcome


def with_ties(candidates: Sequence[Candidate], chosen: int | None) -> tuple[int, ...]:
    """``chosen`` and every visible candidate whose text is identical to it."""
    if chosen is None or not 0 <= chosen < len(candidates):
        return ()
    mark = candidates[chosen].hash
    if mark is None:
        return (chosen,)
    return tuple(
        i
        for i, c in enumerate(candidates)
        if i == chosen or (c.visible and c.hash == mark)
    )


def drop_text(outcome: Outcome) -> Outcome:
    """``outcome`` without any text (what is stored unless the user opts in)."""
    return replace(
        outcome,
        prompt=None,
        candidates=tuple(replace(c, text=None) for c in outcome.candidates),
    )


class OutcomeStore:
    """The outcome file of one user. Cheap to create; opens the file per call."""

    def __init__(self, path: str | os.PathLike[str], *, store_text: bool = False) -> None:
        self._file = LineFile(path, "arena outcomes", log)
        self.path = self._file.path
        #: Keep suggestion and prompt text (``[arena] store_text``); else hashes only.
        self.store_text = store_text

    def append(self, outcome: Outcome) -> bool:
        """Append one outcome (one write, locked); False when it could not be written."""
        if not self.store_text:
            outcome = drop_text(outcome)
        return self._file.append(outcome.to_json() + "\n")

    def read(self, *, since: float | None = None) -> list[Outcome]:
        """Every readable outcome (at or after ``since``, epoch seconds), in file order."""
        latest: dict[str, Outcome] = {}
        for line in self._file.lines():
            if not line.strip():
                continue
            outcome = Outcome.from_json(line)
            if outcome is not None and (since is None or outcome.ts >= since):
                # Written again under the same id (an ask's vote after a yank): the last wins.
                latest.pop(outcome.id, None)
                latest[outcome.id] = outcome
        return list(latest.values())
