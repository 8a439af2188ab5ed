"""Provider clients, one module per wire format, and the factory that picks one.

The registry (:mod:`hexai_nvim.providers.registry`) lists the client classes;
each declares the kinds it serves and what they can do:

- ``openai``: kinds ``openai``, ``openai-compatible``, ``openrouter``,
  ``llamacpp``, ``mistral`` (chat completions; FIM through ``completions``,
  ``infill`` and ``codestral``)
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

    Raises ``ValueError`` for a kind no registered class serves.
    """
    from hexai_nvim.providers.registry import provider_class

    cls = provider_class(spec.kind)
    return cls(spec, http)  # type: ignore[call-arg]
