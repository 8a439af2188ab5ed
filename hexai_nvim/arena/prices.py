"""What a request costs: per-million-token prices per ``provider:model``.

``[arena.prices]`` in the config sets or overrides prices, keyed by
``"provider:model"`` (or a model name, for every provider)::

    [arena.prices]
    "openai:gpt-4.1-mini" = { input = 0.40, output = 1.60 }
    "my-vllm:qwen2.5-coder-32b" = { input = 0, output = 0 }

A key matches a model when it equals it or is a prefix of it ending at a
``-`` (``claude-sonnet-4`` prices ``claude-sonnet-4-20250514``); the longest
match wins; the config's table wins over the shipped one. Local providers
(``ollama``, and any whose base URL is on this machine, which the caller
says) cost nothing. An unknown price is ``None``, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Where the shipped prices come from, and when they were read. They go stale:
#: override them in ``[arena.prices]``.
DEFAULT_PRICES_SOURCE = (
    "list prices (USD per million tokens, standard tier) of openai.com/api/pricing "
    "and anthropic.com/pricing"
)
DEFAULT_PRICES_DATE = "2025-06"

#: model name (prefix) -> (input, output) USD per million tokens.
DEFAULT_PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

#: Provider names whose requests run on the user's machine.
LOCAL_PROVIDERS = frozenset({"ollama", "llamacpp", "llama.cpp", "lmstudio"})


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float
    source: str  # "config", "default (2025-06)" or "local"

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return ((input_tokens or 0) * self.input + (output_tokens or 0) * self.output) / 1e6


def _match(table: Mapping[str, tuple[float, float]], name: str) -> tuple[float, float] | None:
    best: str | None = None
    for key in table:
        if (name == key or name.startswith(key + "-")) and (best is None or len(key) > len(best)):
            best = key
    return None if best is None else table[best]


def price_of(
    key: str,
    configured: Mapping[str, tuple[float, float]] | None = None,
    *,
    local: bool = False,
) -> Price | None:
    """The price of ``provider:model`` (None when unknown)."""
    provider, _, model = key.partition(":")
    configured = configured or {}
    for name in (key, model):
        found = _match(configured, name)
        if found is not None:
            return Price(found[0], found[1], "config")
    if local or provider in LOCAL_PROVIDERS:
        return Price(0.0, 0.0, "local")
    found = _match(DEFAULT_PRICES, model.rsplit("/", 1)[-1])  # openrouter: "openai/gpt-4.1"
    if found is not None and provider in ("openai", "anthropic", "openrouter"):
        return Price(found[0], found[1], f"default ({DEFAULT_PRICES_DATE})")
    return None
