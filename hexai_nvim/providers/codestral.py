"""Mistral Codestral fill-in-the-middle: the ``mistral`` FIM mode.

``POST {base_url}/fim/completions`` (``https://api.mistral.ai/v1`` or
``https://codestral.mistral.ai/v1``) with ``model``, ``prompt``, ``suffix``,
``max_tokens``, ``temperature``, ``stop`` and ``stream``. Mistral refuses
fields it does not know (HTTP 422), so no ``stream_options`` is sent. Answers
have the chat completion shapes (``choices[0].message.content``, or SSE
``delta.content`` chunks until ``data: [DONE]``, usage on the last chunk),
read by :mod:`hexai_nvim.providers.openai`'s decoders.
"""

from __future__ import annotations

from hexai_nvim.providers.base import Call
from hexai_nvim.providers.completions import CompletionsClient

__all__ = ["CodestralClient"]


class CodestralClient(CompletionsClient):
    """``/fim/completions`` for one Mistral provider."""

    what = "Mistral /fim/completions"
    asks_stream_usage = False

    def endpoint(self, call: Call) -> str:
        return f"{self.base_url}/fim/completions"
