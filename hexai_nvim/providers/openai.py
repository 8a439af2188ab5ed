"""OpenAI chat completions: kinds ``openai``, ``openai-compatible``, ``openrouter``,
``llamacpp`` and ``mistral``.

``POST {base_url}/chat/completions`` with a Bearer key (none sent when there is
no key: llama.cpp, LM Studio, vLLM and Ollama's OpenAI endpoint do not need
one). The answer's length limit goes in ``max_completion_tokens`` to OpenAI
itself and in ``max_tokens`` everywhere else. Streaming asks for
``stream_options.include_usage`` (not of Mistral, which refuses the field and
sends usage on its last chunk unasked) and reads SSE ``data:`` chunks until
``data: [DONE]``.

Accepted variations seen in real traffic: SSE comments and ``event:`` lines,
CRLF line ends, a final usage chunk whose ``choices`` is empty, usage inside
``x_groq.usage`` (Groq) or on the finish chunk, llama.cpp ``timings``
(input ``prompt_n + cache_n``, output ``predicted_n``; ``usage`` wins where
both are sent), ``content: null``, and reasoning text in
``reasoning``/``reasoning_content`` (never part of the answer). An ``error``
object inside the stream (OpenRouter) becomes a :class:`ProviderError`. The
end signal of an answer is its ``finish_reason``: a stream that ends without
one is ``cut`` (:class:`~hexai_nvim.providers.base.StopReason`), even when it
ends with ``data: [DONE]`` (llama-cpp-python ends a running stream that way
when another request arrives).

A completion request that carries a FIM prompt goes to the FIM endpoint of
the provider's ``fim`` mode instead (``completions``, ``infill``, ``mistral``:
one client module each), with the fallback to chat of
:mod:`hexai_nvim.providers.fim`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Finish,
    KindInfo,
    ProviderError,
    ProviderEvent,
    TextDelta,
    model_names,
)
from hexai_nvim.providers.http import (
    HttpPool,
    JsonHttpProvider,
    StreamDecoder,
    UsageTracker,
    decode_json,
    error_from_payload,
)
from hexai_nvim.providers.sse import SSEEvent, SSEParser

if TYPE_CHECKING:
    from hexai_nvim.config.model import ProviderSpec
    from hexai_nvim.providers.completions import CompletionsClient

__all__ = ["OPENROUTER_REFERER", "OPENROUTER_TITLE", "OpenAIProvider"]

#: Sent to OpenRouter, which shows them in its app rankings (override with
#: ``headers`` in the provider's config).
OPENROUTER_REFERER = "https://github.com/snonux/hexai"
OPENROUTER_TITLE = "hexai.nvim"


class OpenAIProvider(JsonHttpProvider):
    """Client of the OpenAI chat completions wire format."""

    kinds = (
        KindInfo(
            "openai", "OpenAI", base_url="https://api.openai.com/v1",
            fim_modes=("completions",),
        ),
        KindInfo(
            "openai-compatible",
            "any OpenAI-compatible server (vLLM, LM Studio, llama-cpp-python, DeepSeek, "
            "Ollama's /v1)",
            needs_key=False, fim_auto="completions",
            fim_modes=("completions", "infill", "mistral"),
        ),
        KindInfo(
            "openrouter", "OpenRouter", base_url="https://openrouter.ai/api/v1",
            fim_modes=("completions",),
        ),
        KindInfo(
            "llamacpp", "llama.cpp's llama-server", needs_key=False,
            base_url="http://127.0.0.1:8080/v1", fim_auto="infill",
            fim_modes=("infill", "completions"),
        ),
        KindInfo(
            "mistral", "Mistral (Codestral fill-in-the-middle)",
            base_url="https://api.mistral.ai/v1", fim_auto="mistral", fim_modes=("mistral",),
        ),
    )

    def __init__(self, spec: ProviderSpec, http: HttpPool) -> None:
        super().__init__(spec.headers, spec.base_url, http)
        self.spec = spec
        self.requires_key = self.kind_info(spec.kind).needs_key
        from hexai_nvim.providers.registry import fim_mode

        self.fim_mode = fim_mode(spec)
        # OpenAI's own service refuses the deprecated ``max_tokens`` for its
        # reasoning models (o-series, gpt-5) and takes ``max_completion_tokens``
        # for every model; the other servers of this wire format know
        # ``max_tokens`` (some only that one).
        host = (urllib.parse.urlsplit(self.base_url).hostname or "").lower()
        official = host == "api.openai.com" or host.endswith(".openai.azure.com")
        self.max_tokens_field = "max_completion_tokens" if official else "max_tokens"
        # Mistral's API refuses every field it does not know (422
        # ``extra_forbidden`` for ``stream_options``) and sends the usage on
        # the last chunk anyway.
        mistral = spec.kind == "mistral" or host == "mistral.ai" or host.endswith(".mistral.ai")
        self.asks_stream_usage = not mistral

    def endpoint(self, call: Call) -> str:
        return f"{self.base_url}/chat/completions"

    def fim_client(self, call: Call) -> CompletionsClient:
        """The client of this provider's FIM mode."""
        from hexai_nvim.providers.codestral import CodestralClient
        from hexai_nvim.providers.completions import CompletionsClient
        from hexai_nvim.providers.infill import InfillClient

        clients = {"infill": InfillClient, "mistral": CodestralClient}
        cls = clients.get(self.fim_mode, CompletionsClient)
        return cls(self.spec, self.http, self.headers(call))

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        from hexai_nvim.providers.fim import stream_fim_or_chat

        client = self.fim_client(call) if call.request.fim is not None else None
        async for event in stream_fim_or_chat(
            kind=self.spec.kind,
            base_url=self.base_url,
            provider=self.spec.name,
            mode=self.fim_mode if client is not None else "off",
            what=client.what if client is not None else "",
            call=call,
            fim=client.stream if client is not None else super().stream,
            chat=super().stream,
        ):
            yield event

    def headers(self, call: Call) -> dict[str, str]:
        headers: dict[str, str] = {}
        if call.api_key:
            headers["Authorization"] = f"Bearer {call.api_key}"
        if call.stream:
            headers["Accept"] = "text/event-stream"
        if self.spec.kind == "openrouter":
            headers["HTTP-Referer"] = OPENROUTER_REFERER
            headers["X-Title"] = OPENROUTER_TITLE
        return headers

    def payload(self, call: Call) -> dict[str, Any]:
        request = call.request
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if not messages and request.fim is not None:
            messages = [{"role": "user", "content": request.fim.prefix}]
        body: dict[str, Any] = {"model": call.model, "messages": messages, "stream": call.stream}
        if call.stream and self.asks_stream_usage:
            body["stream_options"] = {"include_usage": True}
        if request.max_tokens is not None:
            body[self.max_tokens_field] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    async def context_size(self, call: Call) -> int | None:
        """llama.cpp's ``GET /props`` (``default_generation_settings.n_ctx``), else
        ``GET /slots`` (``n_ctx`` of the first slot); None when neither exists
        (OpenAI, llama-cpp-python, vLLM ...)."""
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        for path in ("/props", "/slots"):
            try:
                data = await self.get_json(root + path, call)
            except ProviderError as exc:
                if exc.kind in (ErrorKind.NOT_FOUND, ErrorKind.BAD_RESPONSE, ErrorKind.SERVER):
                    continue  # no such endpoint here (501: slots disabled)
                raise
            if isinstance(data, dict):
                settings = data.get("default_generation_settings")
                found = settings.get("n_ctx") if isinstance(settings, dict) else None
                found = found if found is not None else data.get("n_ctx")
            elif isinstance(data, list) and data and isinstance(data[0], dict):
                found = data[0].get("n_ctx")
            else:
                found = None
            if isinstance(found, int) and not isinstance(found, bool) and found > 0:
                return found
        return None

    async def list_models(self, call: Call) -> list[str]:
        """``GET {base_url}/models``: the ``id`` of every ``data`` item."""
        data = await self.get_json(f"{self.base_url}/models", call)
        return model_names(data.get("data") if isinstance(data, dict) else None, ("id",))

    def decoder(self, call: Call) -> StreamDecoder[SSEEvent]:
        return OpenAIStreamDecoder(call.api_key)

    def whole(self, data: Any, call: Call) -> list[ProviderEvent]:
        return whole_answer(data, call.api_key)


def _text_of(content: Any) -> str:
    """Answer text of a ``content`` value: a string, ``null``, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type", "text") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def _usage(data: dict[str, Any], tracker: UsageTracker) -> ProviderEvent | None:
    """Usage wherever a server put it: ``usage``, ``x_groq.usage``, ``timings``."""
    report = None
    groq = data.get("x_groq")
    for usage in (data.get("usage"), groq.get("usage") if isinstance(groq, dict) else None):
        if isinstance(usage, dict):
            report = (
                tracker.update(
                    usage.get("prompt_tokens", usage.get("input_tokens")),
                    usage.get("completion_tokens", usage.get("output_tokens")),
                )
                or report
            )
    timings = data.get("timings")
    if isinstance(timings, dict):
        report = tracker.update_timings(timings) or report
    return report


def _error_in(data: dict[str, Any], api_key: str | None) -> ProviderError | None:
    if data.get("error"):
        return error_from_payload(data, api_key)
    return None


def whole_answer(data: Any, api_key: str | None) -> list[ProviderEvent]:
    """Events of a non-streamed answer (or of a JSON body sent instead of a stream)."""
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.BAD_RESPONSE, "the answer is not a JSON object")
    error = _error_in(data, api_key)
    if error is not None:
        raise error
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProviderError(ErrorKind.BAD_RESPONSE, "the answer has no choices")
    choice = choices[0]
    message = choice.get("message") or choice.get("delta") or {}
    text = _text_of(message.get("content")) if isinstance(message, dict) else ""
    if not text and isinstance(choice.get("text"), str):  # legacy completions shape
        text = choice["text"]
    events: list[ProviderEvent] = []
    if text:
        events.append(TextDelta(text))
    usage = _usage(data, UsageTracker())
    if usage is not None:
        events.append(usage)
    reason = choice.get("finish_reason")
    events.append(Finish(reason if isinstance(reason, str) else None))
    return events


class OpenAIStreamDecoder(StreamDecoder[SSEEvent]):
    """SSE chunks of one streamed chat completion."""

    end_marker = "a finish_reason"

    def __init__(self, api_key: str | None) -> None:
        super().__init__(SSEParser(), api_key)

    def complete(self) -> bool:
        # ``[DONE]`` alone is no end signal: llama-cpp-python sends it when it
        # drops a running stream for a newer request.
        return self.reason is not None

    def unit(self, sse: SSEEvent, events: list[ProviderEvent]) -> None:
        payload = sse.data.strip()
        if payload == "[DONE]":
            self.done = True
            return
        data = decode_json(payload, self.api_key, "stream")
        if not isinstance(data, dict):
            raise ProviderError(ErrorKind.BAD_RESPONSE, "a stream chunk is not a JSON object")
        error = _error_in(data, self.api_key)
        if error is not None:
            raise error
        if sse.event == "error":
            raise error_from_payload(data, self.api_key)
        choices = data.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    text = _text_of(delta.get("content"))
                    if text:
                        events.append(TextDelta(text))
                elif isinstance(choice.get("text"), str) and choice["text"]:
                    events.append(TextDelta(choice["text"]))
                reason = choice.get("finish_reason")
                if isinstance(reason, str) and reason:
                    self.reason = reason
        usage = _usage(data, self.usage)
        if usage is not None:
            events.append(usage)
