"""Provider clients, one module per wire format, and the factory that picks one.

- ``openai`` (kinds ``openai``, ``openai-compatible``, ``openrouter``)
- ``anthropic``
- ``ollama``

Importing this package does not import aiohttp; the first request does.
"""

from __future__ import annotations

from hexai_nvim.config.model import ProviderSpec
from hexai_nvim.providers.base import Provider
from hexai_nvim.providers.http import HttpPool

__all__ = ["HttpPool", "make_provider"]


def make_provider(spec: ProviderSpec, http: HttpPool) -> Provider:
    """The client for ``spec.kind``, sending through ``http``.

    Raises ``ValueError`` for a kind no module serves.
    """
    if spec.kind in ("openai", "openai-compatible", "openrouter"):
        from hexai_nvim.providers.openai import OpenAIProvider

        return OpenAIProvider(spec, http)
    if spec.kind == "anthropic":
        from hexai_nvim.providers.anthropic import AnthropicProvider

        return AnthropicProvider(spec, http)
    if spec.kind == "ollama":
        from hexai_nvim.providers.ollama import OllamaProvider

        return OllamaProvider(spec, http)
    raise ValueError(f"unknown provider kind {spec.kind!r}")
