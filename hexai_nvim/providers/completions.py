"""OpenAI-style text completions with a suffix: the ``completions`` FIM mode.

``POST {base_url}/completions`` with ``prompt`` (the text before the cursor)
and ``suffix`` (the text after it), as DeepSeek's beta API, vLLM,
llama-cpp-python, LM Studio and Ollama's ``/v1`` take it. A server whose model
has no FIM tokens ignores the suffix and continues the prompt (llama-cpp-python
does), which still gives code, not prose. Answers are the OpenAI shapes with
the text in ``choices[0].text`` (SSE chunks until ``data: [DONE]``, or one JSON
object), read by :mod:`hexai_nvim.providers.openai`'s decoders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hexai_nvim.providers.base import Call, ProviderEvent
from hexai_nvim.providers.http import HttpPool, JsonHttpProvider, StreamDecoder
from hexai_nvim.providers.sse import SSEEvent

if TYPE_CHECKING:
    from hexai_nvim.config.model import ProviderSpec

__all__ = ["CompletionsClient", "fim_limits"]


def fim_limits(call: Call) -> tuple[int | None, tuple[str, ...]]:
    """``max_tokens`` and stop strings of a FIM call (its own, else the request's)."""
    fim = call.request.fim
    assert fim is not None
    max_tokens = fim.max_tokens if fim.max_tokens is not None else call.request.max_tokens
    return max_tokens, fim.stop or call.request.stop


class CompletionsClient(JsonHttpProvider):
    """``/completions`` with ``prompt`` + ``suffix`` for one OpenAI-style provider."""

    #: Name used in messages.
    what = "/completions"

    def __init__(self, spec: ProviderSpec, http: HttpPool, headers: dict[str, str]) -> None:
        super().__init__(spec.headers, spec.base_url, http)
        self.spec = spec
        #: Auth and provider headers of the chat client (Bearer, OpenRouter's).
        self.auth = headers

    #: Ask for usage in the stream's last chunk (a field Mistral's FIM endpoint refuses).
    asks_stream_usage = True

    def endpoint(self, call: Call) -> str:
        return f"{self.base_url}/completions"

    def headers(self, call: Call) -> dict[str, str]:
        return dict(self.auth)

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
        if call.stream and self.asks_stream_usage:
            body["stream_options"] = {"include_usage": True}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stop:
            body["stop"] = list(stop)
        return body

    def decoder(self, call: Call) -> StreamDecoder[SSEEvent]:
        from hexai_nvim.providers.openai import OpenAIStreamDecoder

        return OpenAIStreamDecoder(call.api_key)

    def whole(self, data: Any, call: Call) -> list[ProviderEvent]:
        from hexai_nvim.providers.openai import whole_answer

        return whole_answer(data, call.api_key)
