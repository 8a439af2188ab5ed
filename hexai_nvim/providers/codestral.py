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

from typing import Any

from hexai_nvim.providers.base import Call
from hexai_nvim.providers.completions import CompletionsClient, fim_limits

__all__ = ["CodestralClient"]


class CodestralClient(CompletionsClient):
    """``/fim/completions`` for one Mistral provider."""

    what = "Mistral /fim/completions"

    def endpoint(self, call: Call) -> str:
        return f"{self.base_url}/fim/completions"

    def payload(self, call: Call) -> dict[str, Any]:
        request = call.request
        fim = request.fim
        assert fim is not None
        max_tokens, stop = fim_limits(call)
        body: dict[str, Any] = {
            "model": call.model,
            "prompt": fim.prefix,
            "suffix": fim.suffix,
            "stream": call.stream,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stop:
            body["stop"] = list(stop)
        return body
