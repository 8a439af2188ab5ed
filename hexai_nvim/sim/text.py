"""Deterministic, code-like reply text of the simulator.

:func:`reply_text` is public so that tests can compute the answer a simulated
model gives: it depends only on the base model name (options after ``+`` do
not change the words), the prompt and the token count, and is stable across
runs and Python versions (SHA-256, not ``hash()`` or ``random``). A shorter
reply is always a prefix of a longer one for the same model and prompt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from hexai_nvim.sim.options import MAX_TOKENS, parse_model

__all__ = ["THINKING_TEXT", "canned_tokens", "reply_text", "reply_tokens"]

#: Reasoning text a ``+think`` model emits (never part of the answer).
THINKING_TEXT = ("Let", " me", " think", " about", " this", ".")

_NAMES = (
    "value", "items", "count", "result", "buffer", "config", "total", "index",
    "node", "line", "entry", "offset", "parser", "window", "token", "cache",
)  # fmt: skip
_VERBS = (
    "parse", "merge", "render", "lookup", "split", "format", "update", "collect",
    "resolve", "encode", "flush", "measure", "load", "build",
)  # fmt: skip


class _Dice:
    """A counter-mode SHA-256 stream: stable everywhere, unlike ``random``."""

    def __init__(self, seed: bytes) -> None:
        self._seed = hashlib.sha256(seed).digest()
        self._counter = 0

    def below(self, n: int) -> int:
        self._counter += 1
        digest = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        return int.from_bytes(digest[:8], "big") % n

    def pick(self, words: tuple[str, ...]) -> str:
        return words[self.below(len(words))]


def _statements(base: str, prompt: str) -> Iterator[str]:
    """Tokens of an endless run of short Python-like statements."""
    dice = _Dice(base.encode() + b"\0" + prompt.encode())
    while True:
        shape = dice.below(4)
        a, b = dice.pick(_NAMES), dice.pick(_NAMES)
        verb = dice.pick(_VERBS)
        if shape == 0:  # total = merge(items, count)
            yield from (a, " =", f" {verb}", "(", b, ", ", dice.pick(_NAMES), ")", "\n")
        elif shape == 1:  # result = items.split()
            yield from (a, " =", f" {b}", f".{verb}", "()", "\n")
        elif shape == 2:  # if count > 3:\n    flush(buffer)
            yield from ("if", f" {a}", " >", f" {dice.below(10)}", ":", "\n")
            yield from ("    ", verb, "(", b, ")", "\n")
        else:  # return lookup(node)
            yield from ("return", f" {verb}", "(", a, ")", "\n")


def reply_tokens(model: str, prompt: str, *, tokens: int | None = None) -> list[str]:
    """The reply as a list of tokens (the unit the simulator streams).

    ``model`` may carry options; its ``tokens=`` option is used unless
    ``tokens`` is given. Raises ``ValueError`` for a malformed model name.
    """
    base, options = parse_model(model)
    count = options.tokens if tokens is None else max(0, min(tokens, MAX_TOKENS))
    out: list[str] = []
    if count == 0:
        return out
    for token in _statements(base, prompt):
        out.append(token)
        if len(out) >= count:
            break
    return out


def reply_text(model: str, prompt: str, *, tokens: int | None = None) -> str:
    """The text the simulator answers to ``prompt`` for ``model`` (see the module notes)."""
    return "".join(reply_tokens(model, prompt, tokens=tokens))


_PIECES = re.compile(r"\s+|[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")


def canned_tokens(text: str) -> list[str]:
    """A canned answer cut into tokens the way the simulator streams them:
    runs of whitespace, words, and single punctuation characters."""
    return _PIECES.findall(text)
