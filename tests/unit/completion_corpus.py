"""The chat-answer corpus of ``tests/data/completion_corpus.toml``, and its score.

Each case is a buffer (text before and after the cursor), a reply as chat
models give it, and the insertion the cleaner must leave. Used by
``test_completion_corpus.py`` (every case must pass) and by
``bench/cleaner_corpus.py`` (prints the pass rate).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hexai_nvim.config.model import General
from hexai_nvim.surfaces.completion import BufferView, CursorContext, build_context

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef]

CORPUS = Path(__file__).resolve().parents[1] / "data" / "completion_corpus.toml"


@dataclass(frozen=True)
class Case:
    id: str
    lang: str
    before: str
    after: str
    reply: str
    want: str

    def context(self) -> CursorContext:
        text = self.before + self.after
        row = self.before.count("\n")
        line_start = self.before.rfind("\n") + 1
        col = len(self.before[line_start:].encode())
        view = BufferView(tuple(text.split("\n")), 0, row, col, f"x.{self.lang}", self.lang,
                          "# %s")
        return build_context(view, General(context_mode="always-full"))


def load_cases(path: Path = CORPUS) -> list[Case]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Case(**case) for case in data["case"]]


def score(clean: Callable[[str, CursorContext], str],
          cases: list[Case] | None = None) -> tuple[int, list[tuple[Case, str]]]:
    """Cases passed, and the failures with what ``clean`` gave."""
    cases = load_cases() if cases is None else cases
    failed = []
    for case in cases:
        got = clean(case.reply, case.context())
        if got != case.want:
            failed.append((case, got))
    return len(cases) - len(failed), failed
