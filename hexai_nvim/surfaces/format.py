"""How stats read on screen: one line per entry, the same in Neovim and the terminal.

No heavy imports here: the host imports this module while Neovim waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hexai_nvim.engine.results import EntryResult, EntryStats


def count_of(number: int, noun: str) -> str:
    """``1 change``, ``2 changes``, ``0 changes`` (nouns with a plain ``s`` plural)."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def with_article(word: str) -> str:
    """``an ollama``, ``a llama.cpp``, ``an openai-compatible`` (by the first letter)."""
    return f"{'an' if word[:1].lower() in 'aeiou' and word else 'a'} {word}"


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


def stop_words(result: EntryResult) -> str:
    """How the answer ended, in words; "" for an answer the model finished.

    ``length``: "cut at 200 tokens (token limit)"; ``cut``: "cut short by the
    server at 418 tokens"; ``timeout``, ``cancelled``, ``error`` say so with
    the tokens received. Estimated counts carry ``~``.
    """
    stop = result.stop_reason.value
    stats = result.stats
    mark = "~" if stats.tokens_estimated else ""
    at = f" at {mark}{stats.output_tokens} tokens" if result.text and stats.output_tokens else ""
    if stop == "length":
        return f"cut{at} (token limit)" if at else "stopped at the token limit"
    if stop == "cut":
        return f"cut short by the server{at}" if at else "cut by the server before any text"
    if stop == "timeout":
        return f"timed out{at}"
    if stop == "cancelled":
        return f"cancelled{at}"
    if stop == "error":
        return f"failed{' after' + at[3:] if at else ''}"
    return ""


def fallback_words(result: EntryResult) -> str:
    """``fallback after server`` for a fallback's result (why its primary
    failed), "" otherwise."""
    if result.fallback_of is None:
        return ""
    kind = result.first_error.kind.value if result.first_error is not None else "an error"
    return f"fallback after {kind}"


def format_result(result: EntryResult) -> str:
    """The stats line of a finished entry, led by :func:`stop_words` when it did
    not simply finish and by :func:`fallback_words` when a fallback answered
    (ask headers, the completion menu, the terminal)."""
    parts = (fallback_words(result), stop_words(result), format_stats(result.stats))
    return " · ".join(part for part in parts if part)


#: Stop words that say no more than an ended entry's state ("error (auth)",
#: "cancelled"): a header next to that state leaves them out.
BARE_STOP_WORDS = frozenset({"failed", "timed out", "cancelled"})


def header_stats(result: EntryResult) -> str:
    """:func:`format_result` for a line that shows the entry's state already:
    one word for how it ended ("error (config)", not "error (config) ·
    failed"); stop words that add a token count stay ("failed after 12 tokens")."""
    stop = stop_words(result)
    if stop in BARE_STOP_WORDS:
        stop = ""
    parts = (fallback_words(result), stop, format_stats(result.stats))
    return " · ".join(part for part in parts if part)


def score_figures(result: EntryResult) -> dict[str, str | None]:
    """The scoreboard's figures: ``ttft``, ``total``, ``rate`` (None when unknown)
    and ``stop`` (:func:`stop_words`, None for an answer the model finished).

    A rate from estimated token counts is marked with ``~``.
    """
    stats = result.stats
    rate = stats.tokens_per_s
    mark = "~" if stats.tokens_estimated else ""
    return {
        "ttft": None if stats.ttft_ms is None else format_ms(stats.ttft_ms),
        "total": None if stats.total_ms is None else format_ms(stats.total_ms),
        "rate": None if rate is None else f"{mark}{rate:.1f} tok/s",
        "stop": stop_words(result) or None,
    }
