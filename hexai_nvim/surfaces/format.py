"""How stats read on screen: one line per entry, the same in Neovim and the terminal.

No heavy imports here: the host imports this module while Neovim waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hexai_nvim.engine import EntryStats


def format_ms(ms: float) -> str:
    """``850 ms`` below a second, ``1.24 s`` above."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def format_stats(stats: EntryStats) -> str:
    """One line for a header: first token, total, tokens in/out, tokens/s.

    Token counts estimated from the text length (the server reported none)
    are marked with ``~``.
    """
    parts: list[str] = []
    if stats.ttft_ms is not None:
        parts.append(f"ttft {format_ms(stats.ttft_ms)}")
    if stats.total_ms is not None:
        parts.append(f"total {format_ms(stats.total_ms)}")
    if stats.input_tokens is not None or stats.output_tokens is not None:
        mark = "~" if stats.tokens_estimated else ""

        def count(n: int | None) -> str:
            return "?" if n is None else f"{mark}{n}"

        parts.append(f"{count(stats.input_tokens)} in / {count(stats.output_tokens)} out tok")
    rate = stats.tokens_per_s
    if rate is not None:
        parts.append(f"{rate:.1f} tok/s")
    if stats.retries:
        parts.append(f"{stats.retries} retr{'y' if stats.retries == 1 else 'ies'}")
    return " · ".join(parts)
