"""A comparison as Markdown: the question, each answer with its stats, the vote.

Used by ``:HexaiAskExport`` and ``hexai ask --markdown``; nothing here does I/O.
Answers are put in fences longer than any backtick run inside them, so an
answer that holds code blocks stays intact.

Blind mode (``[arena] blind``) before the vote: ``labels`` name the answers
("Answer A", in their shown order) and ``blind`` leaves out what would tell
who is who: the ``provider:model`` keys, timings, token counts and the
errors' texts (their kinds stay). After the vote the caller passes the
revealed labels ("A: qwen") and ``blind=False``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hexai_nvim.surfaces.ask_blind import HIDDEN_ERROR
from hexai_nvim.surfaces.entry_state import result_state, state_words
from hexai_nvim.surfaces.format import format_result

if TYPE_CHECKING:
    from hexai_nvim.engine.results import EntryResult


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _state(result: EntryResult) -> str:
    """The entry-state words of the ask view: ``done``, ``error (auth)``,
    ``truncated (timeout)``, ``cancelled``."""
    return state_words(result_state(result))


def ask_markdown(
    prompt: str,
    results: Sequence[EntryResult],
    *,
    vote: str | None = None,
    context_name: str = "",
    labels: Sequence[str] | None = None,
    blind: bool = False,
) -> str:
    """The Markdown of one ask. ``vote``: the label voted best, or "all bad";
    ``labels``: what to call each result (default: its entry's label)."""
    names = list(labels) if labels is not None else [r.entry.label for r in results]
    lines = ["# hexai comparison", "", "## Question", ""]
    if context_name:
        lines += [f"About `{context_name}`.", ""]
    fence = _fence(prompt)
    lines += [fence, prompt.rstrip("\n"), fence, ""]
    if blind:
        lines += ["_Blind: the names, timings and token counts are shown after your vote._", ""]
        lines += ["| answer | state |", "| --- | --- |"]
        lines += [f"| {name} | {_state(r)} |" for name, r in zip(names, results, strict=True)]
    else:
        lines += ["| entry | state | stats |", "| --- | --- | --- |"]
        for name, r in zip(names, results, strict=True):
            stats = format_result(r).replace("|", "\\|")
            lines.append(f"| {name} (`{r.entry.key}`) | {_state(r)} | {stats} |")
    lines.append("")
    for name, r in zip(names, results, strict=True):
        head = _state(r) if blind else f"`{r.entry.key}` · {_state(r)} · {format_result(r)}"
        lines += [f"## {name}", "", head, ""]
        if r.error is not None and r.error.kind.value != "cancelled":
            error = r.error
            if blind:
                status = f" (HTTP {error.status})" if error.status is not None else ""
                lines += [f"> {error.kind.value}{status}: {HIDDEN_ERROR}", ""]
            else:
                lines += [f"> {error.label()}", ""]
        if r.text:
            fence = _fence(r.text)
            lines += [fence + "markdown", r.text.rstrip("\n"), fence, ""]
    if vote:
        lines += ["## Vote", "", f"Best: {vote}" if vote != "all bad" else "All bad.", ""]
    return "\n".join(lines)
