"""A comparison as Markdown: the question, each answer with its stats, the vote.

Used by ``:HexaiAskExport`` and ``hexai ask --markdown``; nothing here does I/O.
Answers are put in fences longer than any backtick run inside them, so an
answer that holds code blocks stays intact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hexai_nvim.surfaces.format import format_result

if TYPE_CHECKING:
    from hexai_nvim.engine import EntryResult


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _state(result: EntryResult) -> str:
    if result.error is None:
        return "done"
    if result.error.kind.value == "cancelled":
        return "cancelled"
    return "cut" if result.truncated else "failed"


def ask_markdown(
    prompt: str,
    results: Sequence[EntryResult],
    *,
    vote: str | None = None,
    context_name: str = "",
) -> str:
    """The Markdown of one ask. ``vote``: the label voted best, or "all bad"."""
    lines = ["# hexai comparison", "", "## Question", ""]
    if context_name:
        lines += [f"About `{context_name}`.", ""]
    fence = _fence(prompt)
    lines += [fence, prompt.rstrip("\n"), fence, ""]
    lines += ["| entry | state | stats |", "| --- | --- | --- |"]
    for r in results:
        stats = format_result(r).replace("|", "\\|")
        lines.append(f"| {r.entry.label} (`{r.entry.key}`) | {_state(r)} | {stats} |")
    lines.append("")
    for r in results:
        lines += [f"## {r.entry.label}", "", f"`{r.entry.key}` · {_state(r)} · {format_result(r)}",
                  ""]
        if r.error is not None and r.error.kind.value != "cancelled":
            lines += [f"> {r.error.label()}", ""]
        if r.text:
            fence = _fence(r.text)
            lines += [fence + "markdown", r.text.rstrip("\n"), fence, ""]
    if vote:
        lines += ["## Vote", "", f"Best: {vote}" if vote != "all bad" else "All bad.", ""]
    return "\n".join(lines)
