"""Ollama's native API: kind ``ollama``.

``POST {base_url}/api/chat`` for chat requests, ``POST {base_url}/api/generate``
with ``prompt`` and ``suffix`` when the request carries a fill-in-the-middle
prompt (:attr:`Request.fim`). Options go in ``options`` (``temperature``,
``num_predict``, ``stop``); ``stream`` is always sent because Ollama streams
when it is missing. A key is optional (Bearer, for hosted or proxied Ollama).

Streamed answers are NDJSON: one JSON object per line, text in
``message.content`` (chat) or ``response`` (generate), ``thinking`` ignored,
and a last line with ``done: true``, ``done_reason``, ``prompt_eval_count`` and
``eval_count``. A whole answer is the same object on one line, so both are read
by one decoder. ``{"error": "..."}`` (as a body or a line) becomes a
:class:`ProviderError`; a stream that ends before its ``done`` line is
``cut`` (:class:`~hexai_nvim.providers.base.StopReason`).

A model whose template cannot fill in the middle answers ``/api/generate``
with 400 ``"... does not support insert"``; the request then goes to
``/api/chat`` at once and the model gets chat prompts from then on (see
:mod:`hexai_nvim.providers.fim`). ``fim = "off"`` skips the attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
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
    decode_json,
    error_from_payload,
)
from hexai_nvim.providers.sse import LineSplitter

if TYPE_CHECKING:
    from hexai_nvim.config.model import ProviderSpec

__all__ = ["OllamaProvider", "is_ollama_cloud"]

#: Ollama Cloud's hosts (hexai's default base URL is https://ollama.com).
CLOUD_HOSTS = frozenset({"ollama.com", "www.ollama.com"})


def is_ollama_cloud(base_url: str) -> bool:
    try:
        host = urlsplit(base_url).hostname or ""
    except ValueError:
        return False
    return host.lower() in CLOUD_HOSTS


class OllamaProvider(JsonHttpProvider):
    """Client of Ollama's native chat and generate endpoints."""

    kinds = (
        KindInfo(
            "ollama", "Ollama (local, or Ollama Cloud with a key)", needs_key=False,
            base_url="http://localhost:11434", fim_auto="ollama", fim_modes=("ollama",),
        ),
    )
    requires_key = False

    def __init__(self, spec: ProviderSpec, http: HttpPool) -> None:
        super().__init__(spec.headers, spec.base_url, http)
        self.spec = spec
        from hexai_nvim.providers.registry import fim_mode

        self.fim_mode = fim_mode(spec)
        # Ollama Cloud (hexai's default) answers 401 without a key: say so
        # before sending anything. Local and proxied servers need none.
        self.requires_key = is_ollama_cloud(spec.base_url)

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        from hexai_nvim.providers.fim import stream_fim_or_chat

        async for event in stream_fim_or_chat(
            kind=self.spec.kind,
            base_url=self.base_url,
            provider=self.spec.name,
            mode=self.fim_mode,
            what="Ollama /api/generate",
            call=call,
            fim=super().stream,
            chat=super().stream,
        ):
            yield event

    def endpoint(self, call: Call) -> str:
        path = "/api/generate" if call.request.fim is not None else "/api/chat"
        return f"{self.base_url}{path}"

    def headers(self, call: Call) -> dict[str, str]:
        return {"Authorization": f"Bearer {call.api_key}"} if call.api_key else {}

    def payload(self, call: Call) -> dict[str, Any]:
        request = call.request
        fim = request.fim
        max_tokens = request.max_tokens
        stop = request.stop
        if fim is not None:
            max_tokens = fim.max_tokens if fim.max_tokens is not None else max_tokens
            stop = fim.stop or stop
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if max_tokens is not None:
            options["num_predict"] = max_tokens
        if stop:
            options["stop"] = list(stop)
        body: dict[str, Any] = {"model": call.model, "stream": call.stream}
        if request.fim is not None:
            body["prompt"] = request.fim.prefix
            body["suffix"] = request.fim.suffix
            system = [m.content for m in request.messages if m.role == "system"]
            if system:
                body["system"] = "\n\n".join(system)
        else:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        if options:
            body["options"] = options
        return body

    async def context_size(self, call: Call) -> int | None:
        """``POST /api/show``: the model's ``num_ctx`` parameter when it sets one,
        else the ``*.context_length`` of its ``model_info``."""
        data = await self.post_json(f"{self.base_url}/api/show", {"model": call.model}, call)
        if not isinstance(data, dict):
            return None
        params = data.get("parameters")
        if isinstance(params, str):
            for line in params.splitlines():
                name, _, value = line.strip().partition(" ")
                if name == "num_ctx" and value.strip().isdigit():
                    return int(value.strip())
        info = data.get("model_info")
        if isinstance(info, dict):
            for key, value in info.items():
                if key.endswith(".context_length") and isinstance(value, int) and value > 0:
                    return value
        return None

    async def list_models(self, call: Call) -> list[str]:
        """``GET {base_url}/api/tags``: ``name`` (and ``model``) of every model."""
        data = await self.get_json(f"{self.base_url}/api/tags", call)
        items = data.get("models") if isinstance(data, dict) else None
        return model_names(items, ("name", "model"))

    def is_whole_json(self, content_type: str, first: bytes, call: Call) -> bool:
        # A whole answer is one NDJSON line; the line decoder reads both.
        return False

    def decoder(self, call: Call) -> StreamDecoder[str]:
        return OllamaStreamDecoder(call.api_key)

    def whole(self, data: Any, call: Call) -> list[ProviderEvent]:  # pragma: no cover
        decoder = OllamaStreamDecoder(call.api_key)
        events = decoder.line(data)
        return events + decoder.finish()


class OllamaStreamDecoder(StreamDecoder[str]):
    """NDJSON lines of one chat or generate answer."""

    end_marker = "its done line"

    def __init__(self, api_key: str | None) -> None:
        super().__init__(LineSplitter(), api_key)

    def complete(self) -> bool:
        return self.done

    def unit(self, text: str, events: list[ProviderEvent]) -> None:
        if text.strip():
            events.extend(self.line(decode_json(text, self.api_key, "stream")))

    def line(self, data: Any) -> list[ProviderEvent]:
        """Events of one decoded NDJSON object."""
        if not isinstance(data, dict):
            raise ProviderError(ErrorKind.BAD_RESPONSE, "a stream line is not a JSON object")
        if data.get("error"):
            raise error_from_payload(data, self.api_key)
        events: list[ProviderEvent] = []
        message = data.get("message")
        text = message.get("content") if isinstance(message, dict) else data.get("response")
        if isinstance(text, str) and text:
            events.append(TextDelta(text))
        if data.get("done") is True:
            self.done = True
            reason = data.get("done_reason")
            self.reason = reason if isinstance(reason, str) else "stop"
            report = self.usage.update(data.get("prompt_eval_count"), data.get("eval_count"))
            if report is not None:
                events.append(report)
        return events
