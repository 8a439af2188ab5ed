"""llama.cpp's native fill-in-the-middle: the ``infill`` FIM mode.

``POST {root}/infill``, where ``root`` is the base URL without a trailing
``/v1`` (llama-server serves its OpenAI routes under ``/v1`` and ``/infill`` at
the top). The body holds ``input_prefix`` (the text before the cursor line),
``prompt`` (the cursor line up to the cursor: llama.cpp puts it after the FIM
middle token, which keeps its prompt cache warm while typing),
``input_suffix``, ``input_extra`` (other open files as ``{filename, text}``),
``n_indent`` (the cursor line's indentation: a new line indented less ends
the answer), ``n_predict``, ``temperature``, ``stop``, ``stream`` and
``cache_prompt``.

Answers are llama.cpp's own shape, not OpenAI's: ``{"content": ..., "stop":
bool, "stop_type": "eos" | "word" | "limit", "tokens_evaluated",
"tokens_predicted"}``, streamed as SSE ``data:`` lines without ``[DONE]``
(the line with ``"stop": true`` ends it) or sent whole. A model without FIM
tokens gets HTTP 501 (see :mod:`hexai_nvim.providers.fim` for the fallback).
"""

from __future__ import annotations

from typing import Any

from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    ProviderError,
    ProviderEvent,
    TextDelta,
)
from hexai_nvim.providers.completions import CompletionsClient, fim_limits
from hexai_nvim.providers.http import (
    StreamDecoder,
    decode_json,
    error_from_payload,
    finish_or_cut,
)
from hexai_nvim.providers.sse import SSEEvent, SSEParser

__all__ = ["InfillClient", "InfillStreamDecoder", "infill_root"]

#: llama.cpp's ``stop_type`` -> the finish reasons the other formats use.
_STOP_TYPES = {"limit": "length", "eos": "stop", "word": "stop"}


def infill_root(base_url: str) -> str:
    """``http://host:8080/v1`` -> ``http://host:8080``."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class InfillClient(CompletionsClient):
    """``/infill`` for one llama.cpp server."""

    what = "llama.cpp /infill"

    def endpoint(self, call: Call) -> str:
        return f"{infill_root(self.base_url)}/infill"

    def payload(self, call: Call) -> dict[str, Any]:
        request = call.request
        fim = request.fim
        assert fim is not None
        max_tokens, stop = fim_limits(call)
        cut = fim.prefix.rfind("\n") + 1
        body: dict[str, Any] = {
            "model": call.model,
            "input_prefix": fim.prefix[:cut],
            "prompt": fim.prefix[cut:],
            "input_suffix": fim.suffix,
            "input_extra": [{"filename": f.filename, "text": f.text} for f in fim.extra],
            "n_indent": fim.indent,
            "stream": call.stream,
            "cache_prompt": True,
        }
        if max_tokens is not None:
            body["n_predict"] = max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stop:
            body["stop"] = list(stop)
        return body

    def decoder(self, call: Call) -> StreamDecoder[SSEEvent]:
        return InfillStreamDecoder(call.api_key)

    def whole(self, data: Any, call: Call) -> list[ProviderEvent]:
        decoder = InfillStreamDecoder(call.api_key)
        events = decoder.answer(data)
        return [*events, finish_or_cut(decoder.complete(), decoder.reason, decoder.end_marker)]


class InfillStreamDecoder(StreamDecoder[SSEEvent]):
    """SSE ``data:`` lines of one streamed ``/infill`` answer."""

    end_marker = 'a line with "stop": true'

    def __init__(self, api_key: str | None) -> None:
        super().__init__(SSEParser(), api_key)

    def complete(self) -> bool:
        # Only the ``"stop": true`` line ends an answer; a bare [DONE] does not.
        return self.reason is not None

    def unit(self, sse: SSEEvent, events: list[ProviderEvent]) -> None:
        payload = sse.data.strip()
        if payload == "[DONE]":  # newer llama-server builds may send it
            self.done = True
            return
        events.extend(self.answer(decode_json(payload, self.api_key, "stream")))

    def answer(self, data: Any) -> list[ProviderEvent]:
        """Events of one answer object (a stream line or the whole answer)."""
        if not isinstance(data, dict):
            raise ProviderError(ErrorKind.BAD_RESPONSE, "an infill answer is not a JSON object")
        if data.get("error"):
            raise error_from_payload(data, self.api_key)
        events: list[ProviderEvent] = []
        text = data.get("content")
        if isinstance(text, str) and text:
            events.append(TextDelta(text))
        if data.get("stop") is True:
            self.done = True
            stop_type = data.get("stop_type")
            self.reason = _STOP_TYPES.get(str(stop_type), "stop")
            report = self.usage.update(data.get("tokens_evaluated"), data.get("tokens_predicted"))
            if report is not None:
                events.append(report)
        return events
