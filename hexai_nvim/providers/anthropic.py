"""Anthropic messages API: kind ``anthropic``.

``POST {base_url}/messages`` with ``x-api-key`` and ``anthropic-version``.
System messages move to the top-level ``system`` field; ``max_tokens`` is
required by the API, so 1024 is sent when the request names none.

Streaming reads the SSE events ``message_start`` (input tokens),
``content_block_start``/``content_block_delta`` (``text_delta`` is answer text;
``thinking_delta``, ``signature_delta`` and tool input are not),
``message_delta`` (stop reason, output tokens), ``message_stop``, ``ping``,
and ``error`` (raised as :class:`ProviderError`: ``overloaded_error`` is
``server``, ``rate_limit_error`` is ``rate_limited`` ...). A stream that ends
before ``message_stop`` is ``cut`` (:class:`~hexai_nvim.providers.base.StopReason`),
whatever it said before.
"""

from __future__ import annotations

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

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"
#: ``max_tokens`` sent when the request has none (the API requires one).
DEFAULT_MAX_TOKENS = 1024


class AnthropicProvider(JsonHttpProvider):
    """Client of the Anthropic messages wire format."""

    kinds = (KindInfo("anthropic", "Anthropic", base_url="https://api.anthropic.com/v1"),)

    def __init__(self, spec: ProviderSpec, http: HttpPool) -> None:
        super().__init__(spec.headers, spec.base_url, http)
        self.spec = spec

    def endpoint(self, call: Call) -> str:
        return f"{self.base_url}/messages"

    def headers(self, call: Call) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if call.api_key:
            headers["x-api-key"] = call.api_key
        if call.stream:
            headers["Accept"] = "text/event-stream"
        return headers

    def payload(self, call: Call) -> dict[str, Any]:
        request = call.request
        system = [m.content for m in request.messages if m.role == "system"]
        messages = [
            {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
        ]
        if not messages and request.fim is not None:
            messages = [{"role": "user", "content": request.fim.prefix}]
        body: dict[str, Any] = {
            "model": call.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": messages,
            "stream": call.stream,
        }
        if system:
            body["system"] = "\n\n".join(system)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        return body

    async def list_models(self, call: Call) -> list[str]:
        """``GET {base_url}/models`` (first page): the ``id`` of every ``data`` item."""
        data = await self.get_json(f"{self.base_url}/models?limit=1000", call)
        return model_names(data.get("data") if isinstance(data, dict) else None, ("id",))

    def decoder(self, call: Call) -> StreamDecoder[SSEEvent]:
        return AnthropicStreamDecoder(call.api_key)

    def whole(self, data: Any, call: Call) -> list[ProviderEvent]:
        return whole_answer(data, call.api_key)


def whole_answer(data: Any, api_key: str | None) -> list[ProviderEvent]:
    """Events of a non-streamed message (or of a JSON body sent instead of a stream)."""
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.BAD_RESPONSE, "the answer is not a JSON object")
    if data.get("type") == "error" or data.get("error"):
        raise error_from_payload(data, api_key)
    content = data.get("content")
    if not isinstance(content, list):
        raise ProviderError(ErrorKind.BAD_RESPONSE, "the answer has no content")
    text = "".join(
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )
    events: list[ProviderEvent] = []
    if text:
        events.append(TextDelta(text))
    usage = data.get("usage")
    if isinstance(usage, dict):
        report = UsageTracker().update(usage.get("input_tokens"), usage.get("output_tokens"))
        if report is not None:
            events.append(report)
    reason = data.get("stop_reason")
    events.append(Finish(reason if isinstance(reason, str) else None))
    return events


class AnthropicStreamDecoder(StreamDecoder[SSEEvent]):
    """SSE events of one streamed message."""

    end_marker = "message_stop"

    def __init__(self, api_key: str | None) -> None:
        super().__init__(SSEParser(), api_key)

    def complete(self) -> bool:
        return self.done

    def unit(self, sse: SSEEvent, events: list[ProviderEvent]) -> None:
        data = decode_json(sse.data, self.api_key, "stream")
        if not isinstance(data, dict):
            raise ProviderError(ErrorKind.BAD_RESPONSE, "a stream event is not a JSON object")
        kind = data.get("type") or sse.event
        if kind == "content_block_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                text = delta.get("text")
                if isinstance(text, str) and text:
                    events.append(TextDelta(text))
        elif kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, dict) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str) and text:
                    events.append(TextDelta(text))
        elif kind == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                # Its output_tokens is a placeholder; message_delta has the count.
                report = self.usage.update(usage.get("input_tokens"))
                if report is not None:
                    events.append(report)
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.reason = delta["stop_reason"]
            usage = data.get("usage")
            if isinstance(usage, dict):
                report = self.usage.update(usage.get("input_tokens"), usage.get("output_tokens"))
                if report is not None:
                    events.append(report)
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise error_from_payload(data, self.api_key)
        # ping, content_block_stop and event types added later carry no text.
