"""The provider simulator: an aiohttp app speaking four wire formats.

Endpoints (exactly the paths the clients use with base URLs ``SIM/v1`` for
OpenAI-style and Anthropic, ``SIM`` for Ollama):

- ``POST /v1/chat/completions``: OpenAI chat completions (SSE or JSON).
- ``POST /v1/messages``: Anthropic messages (SSE with named events, or JSON).
- ``POST /api/chat``, ``POST /api/generate``: Ollama (NDJSON or JSON).
- Fill-in-the-middle: ``POST /v1/completions`` (OpenAI text completions with
  ``prompt`` + ``suffix``, text in ``choices[].text``), ``POST
  /v1/fim/completions`` (Mistral Codestral, chat-shaped answers), ``POST
  /infill`` (llama.cpp's own shape: ``content``/``stop``/``stop_type``, SSE
  without ``[DONE]``). With the ``nofim`` option the FIM endpoints refuse as
  the real servers do.
- ``GET /api/tags``, ``GET /v1/models``: the models configured or seen
  (``/v1/models`` answers in Anthropic's shape when ``anthropic-version`` is sent).

Any model name is accepted; its ``+`` options (or the ``X-Hexai-Sim`` header)
choose the behaviour (see :mod:`hexai_nvim.sim.options` and
``doc/simulator.md``). The answer text is :func:`~hexai_nvim.sim.text.reply_text`
of the base model name and the prompt (the last user message; for
``/api/generate`` the prompt followed by the suffix), cut to the request's
``max_tokens``/``num_predict`` when that is smaller.

Every wait is bounded: by the client leaving, by the app shutting down, and
by a cap (``SimState.cap_s`` or the ``cap`` option), after which the
simulator closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hexai_nvim.sim.options import HEADER, SimOptionError, SimOptions, parse_header, parse_model
from hexai_nvim.sim.state import RecordedRequest, SimState, mask_headers
from hexai_nvim.sim.text import THINKING_TEXT, canned_tokens, reply_tokens

__all__ = ["STATE_KEY", "create_app"]

STATE_KEY = web.AppKey("hexai_sim_state", SimState)


class _Slot:
    """The one slot of ``single_slot`` requests, and how many wait for it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


_SLOT_KEY = web.AppKey("hexai_sim_slot", _Slot)
_STOPPING_KEY = web.AppKey("hexai_sim_stopping", asyncio.Event)
#: A fixed creation time keeps whole answers byte-identical across runs.
_CREATED = 1_700_000_000
#: Faults that strike in the middle of a streamed answer.
_STREAM_FAULTS = ("malformed", "truncate", "disconnect", "error")
#: One piece of an ``endless`` answer (4 KiB of text).
ENDLESS_TEXT = "endless " * 512


# ---------------------------------------------------------------------------
# Control flow of one request
# ---------------------------------------------------------------------------


class _ClientGone(Exception):
    """The client closed the connection."""


class _GiveUp(Exception):
    """The cap was reached or the server is stopping: close the connection."""


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class _Ask:
    """What a request asks, whatever its wire format."""

    model: str
    stream: bool
    prompt: str
    input_chars: int
    max_tokens: int | None = None
    include_usage: bool = False
    api_key: str | None = None
    #: The request asks to fill in the middle (it has a suffix field).
    fim: bool = False


@dataclass
class _Reply:
    ask: _Ask
    options: SimOptions
    tokens: list[str]
    cut_by_limit: bool
    input_tokens: int
    ident: str
    crlf: bool = False
    think: tuple[str, ...] = field(default_factory=tuple)
    #: Prompt tokens a llama.cpp prompt cache would hold (``usage=timings``).
    cached_tokens: int = 0

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def _estimate_tokens(chars: int) -> int:
    return max(1, (chars + 3) // 4)


def _text_of(content: Any) -> str:
    """Text of a message ``content``: a string or a list of text parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _last_user(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _chars(messages: list[Any]) -> int:
    return sum(len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization", "")
    scheme, _, secret = value.partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


# ---------------------------------------------------------------------------
# Wire formats
# ---------------------------------------------------------------------------


class _Dialect:
    """One wire format: parsing a request, shaping answers, errors and faults."""

    name = ""
    stream_content_type = "text/event-stream; charset=utf-8"

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def refuse_fim(self, ask: _Ask, base: str) -> tuple[int, str] | None:
        """The status and message a real server gives a model without FIM support."""
        return None

    def mistral_refusal(self, body: Any, options: SimOptions) -> dict[str, Any] | None:
        """Mistral's 422 body for the fields its API does not know (its own
        endpoints, and chat with ``+mistral``), or None."""
        return None

    def status_message(self, status: int, model: str) -> str:
        messages = {
            400: "Invalid request (simulated).",
            401: "Invalid API key (simulated).",
            403: "You do not have access to this model (simulated).",
            404: f"The model {model!r} does not exist (simulated).",
            429: "Rate limit reached, please try again later (simulated).",
            500: "The server had an error while processing your request (simulated).",
            502: "Bad gateway (simulated).",
            503: "The service is overloaded, please try again later (simulated).",
            529: "Overloaded (simulated).",
        }
        return messages.get(status, f"Simulated HTTP {status}.")

    def whole(self, reply: _Reply) -> dict[str, Any]:
        raise NotImplementedError

    # Streamed frames (bytes appended to the writer's buffer).
    def start(self, reply: _Reply) -> bytes:
        return b""

    def thinking(self, reply: _Reply, index: int) -> bytes:
        return b""

    def token(self, reply: _Reply, token: str) -> bytes:
        raise NotImplementedError

    def end(self, reply: _Reply) -> bytes:
        raise NotImplementedError

    def malformed(self, reply: _Reply) -> bytes:
        raise NotImplementedError

    def midstream_error(self, reply: _Reply) -> bytes:
        raise NotImplementedError

    def interrupted(self, reply: _Reply) -> bytes:
        """What a single-slot server sends when it drops a running stream."""
        return b""

    def context_error(self, reply: _Reply, context: int, llama_server: bool
                      ) -> tuple[int, dict[str, Any]] | None:
        """The answer to a prompt larger than the context: (status, body), or
        None for a server that answers anyway (Ollama cuts the prompt)."""
        requested = reply.input_tokens + (reply.ask.max_tokens or 0)
        return 400, self.error_body(400, f"prompt is too long: {requested} tokens > "
                                         f"{context} maximum")

    def comment(self, reply: _Reply) -> bytes:
        return b""

    @staticmethod
    def sse(reply: _Reply, event: str | None, data: Any) -> bytes:
        nl = "\r\n" if reply.crlf else "\n"
        payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        head = f"event: {event}{nl}" if event else ""
        return f"{head}data: {payload}{nl}{nl}".encode()


#: The request fields Mistral's chat completions know; any other is a 422.
MISTRAL_CHAT_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop",
    "random_seed", "response_format", "tools", "tool_choice", "presence_penalty",
    "frequency_penalty", "n", "prediction", "parallel_tool_calls", "prompt_mode",
    "safe_prompt",
})


#: The request fields Mistral's ``/v1/fim/completions`` knows.
MISTRAL_FIM_FIELDS = frozenset({
    "model", "prompt", "suffix", "max_tokens", "min_tokens", "temperature", "top_p", "stream",
    "stop", "random_seed",
})


def mistral_extra_forbidden(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any] | None:
    """Mistral's pydantic 422 body naming each unknown field, or None."""
    extra = sorted(set(body) - allowed)
    if not extra:
        return None
    detail = [{"type": "extra_forbidden", "loc": ["body", name],
               "msg": "Extra inputs are not permitted", "input": body[name]} for name in extra]
    return {"object": "error", "message": {"detail": detail}, "type": "invalid_request_error",
            "param": None, "code": None}


def mistral_chunk(chunk: dict[str, Any], reply: _Reply, usage: dict[str, int] | None,
                  finish: str | None) -> dict[str, Any]:
    """A chunk as Mistral sends it: no fingerprint, usage on the finishing one only."""
    chunk.pop("system_fingerprint", None)
    chunk.pop("usage", None)
    if finish is not None and usage is not None and reply.options.usage == "standard":
        chunk["usage"] = usage
    return chunk


class _OpenAI(_Dialect):
    name = "openai"

    def mistral_refusal(self, body: Any, options: SimOptions) -> dict[str, Any] | None:
        if not options.mistral or not isinstance(body, dict):
            return None
        return mistral_extra_forbidden(body, MISTRAL_CHAT_FIELDS)

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        if not isinstance(body, dict):
            raise _BadRequest("The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("'messages' must be a non-empty array")
        options = body.get("stream_options")
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        return _Ask(
            model=model,
            stream=body.get("stream") is True,
            prompt=_last_user(messages),
            input_chars=_chars(messages),
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            api_key=_bearer(headers),
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kinds = {
            401: ("invalid_request_error", "invalid_api_key"),
            403: ("invalid_request_error", "model_not_allowed"),
            404: ("invalid_request_error", "model_not_found"),
            429: ("requests", "rate_limit_exceeded"),
        }
        etype, code = kinds.get(
            status, ("server_error", None) if status >= 500 else ("invalid_request_error", None)
        )
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}

    def _usage(self, reply: _Reply) -> dict[str, int]:
        n = len(reply.tokens)
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": n,
            "total_tokens": reply.input_tokens + n,
        }

    def _finish(self, reply: _Reply) -> str:
        return "length" if reply.cut_by_limit else "stop"

    def _chunk(self, reply: _Reply, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": reply.ident,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": reply.ask.model,
            "system_fingerprint": "fp_hexai_sim",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if reply.options.mistral:
            return mistral_chunk(chunk, reply, self._usage(reply), finish)
        if reply.options.usage == "standard" and reply.ask.include_usage:
            chunk["usage"] = None  # as OpenAI does on every chunk but the last
        return chunk

    def whole(self, reply: _Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.think:
            message["reasoning_content"] = "".join(reply.think)
        body: dict[str, Any] = {
            "id": reply.ident,
            "object": "chat.completion",
            "created": _CREATED,
            "model": reply.ask.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self._finish(reply),
                }
            ],
        }
        mode = reply.options.usage
        if mode in ("standard", "finish", "groq", "nostream"):
            body["usage"] = self._usage(reply)
        elif mode == "timings":
            body["timings"] = self._timings(reply)
        return body

    def _timings(self, reply: _Reply) -> dict[str, Any]:
        n = len(reply.tokens)
        # llama-server's prompt_n leaves out the tokens found in its prompt cache.
        cached = min(reply.cached_tokens, max(0, reply.input_tokens - 1))
        return {
            "prompt_n": reply.input_tokens - cached,
            "cache_n": cached,
            "prompt_ms": 1.0,
            "predicted_n": n,
            "predicted_ms": float(n),
            "predicted_per_second": 1000.0,
        }

    def start(self, reply: _Reply) -> bytes:
        # OpenRouter and others open with content null (OpenAI sends "").
        return self.sse(
            reply, None, self._chunk(reply, {"role": "assistant", "content": None}, None)
        )

    def thinking(self, reply: _Reply, index: int) -> bytes:
        # DeepSeek's field and OpenRouter's field, both never answer text.
        piece = reply.think[index]
        delta = {"content": None, "reasoning_content": piece, "reasoning": piece}
        return self.sse(reply, None, self._chunk(reply, delta, None))

    def token(self, reply: _Reply, token: str) -> bytes:
        return self.sse(reply, None, self._chunk(reply, {"content": token}, None))

    def end(self, reply: _Reply) -> bytes:
        mode = reply.options.usage
        final = self._chunk(reply, {}, self._finish(reply))
        if mode == "finish":
            final["usage"] = self._usage(reply)
        elif mode == "groq":
            final["x_groq"] = {"id": f"req_{reply.ident}", "usage": self._usage(reply)}
        elif mode == "timings":
            final["timings"] = self._timings(reply)
        out = self.sse(reply, None, final)
        if mode == "standard" and reply.ask.include_usage:
            usage_chunk = self._chunk(reply, {}, None)
            usage_chunk["choices"] = []
            usage_chunk["usage"] = self._usage(reply)
            out += self.sse(reply, None, usage_chunk)
        return out + self.sse(reply, None, "[DONE]")

    def malformed(self, reply: _Reply) -> bytes:
        return self.sse(reply, None, '{"id":"' + reply.ident + '","choices":[{"delta":{"content":')

    def interrupted(self, reply: _Reply) -> bytes:
        return self.sse(reply, None, "[DONE]")

    def context_error(self, reply: _Reply, context: int, llama_server: bool
                      ) -> tuple[int, dict[str, Any]] | None:
        if llama_server:
            return 400, {"error": {
                "code": 400, "type": "exceed_context_size_error",
                "message": "the request exceeds the available context size, try increasing it",
                "n_prompt_tokens": reply.input_tokens, "n_ctx": context}}
        wanted = reply.ask.max_tokens or 0
        message = (f"This model's maximum context length is {context} tokens. However, you "
                   f"requested {reply.input_tokens + wanted} tokens ({reply.input_tokens} in "
                   f"the messages, {wanted} in the completion). Please reduce the length of "
                   "the messages or completion.")
        return 400, {"error": {"message": message, "type": "invalid_request_error",
                               "param": "messages", "code": "context_length_exceeded"}}

    def midstream_error(self, reply: _Reply) -> bytes:
        chunk = self._chunk(reply, {"content": ""}, "error")
        chunk["error"] = {"code": 502, "message": "Upstream provider error (simulated)."}
        return self.sse(reply, None, chunk)

    def comment(self, reply: _Reply) -> bytes:
        nl = "\r\n" if reply.crlf else "\n"
        return f": OPENROUTER PROCESSING{nl}{nl}".encode()


class _Anthropic(_Dialect):
    name = "anthropic"

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        if not headers.get("anthropic-version"):
            raise _BadRequest("anthropic-version: header is required")
        if not isinstance(body, dict):
            raise _BadRequest("The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("model: Field required")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise _BadRequest("max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("messages: at least one message is required")
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("user", "assistant"):
                raise _BadRequest(
                    f"messages.{i}.role: Input should be 'user' or 'assistant'"
                    " (a system prompt goes in the top-level system field)"
                )
        system = body.get("system")
        return _Ask(
            model=model,
            stream=body.get("stream") is True,
            prompt=_last_user(messages),
            input_chars=_chars(messages) + len(_text_of(system)),
            max_tokens=max_tokens,
            api_key=(headers.get("x-api-key") or "").strip() or None,
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        types = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            529: "overloaded_error",
            503: "overloaded_error",
        }
        etype = types.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {
            "type": "error",
            "error": {"type": etype, "message": message},
            "request_id": "req_hexai_sim",
        }

    def _stop(self, reply: _Reply) -> str:
        return "max_tokens" if reply.cut_by_limit else "end_turn"

    def _text_index(self, reply: _Reply) -> int:
        return 1 if reply.think else 0

    def whole(self, reply: _Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.think:
            content.append(
                {"type": "thinking", "thinking": "".join(reply.think), "signature": "sim"}
            )
        content.append({"type": "text", "text": reply.text})
        return {
            "id": reply.ident,
            "type": "message",
            "role": "assistant",
            "model": reply.ask.model,
            "content": content,
            "stop_reason": self._stop(reply),
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": len(reply.tokens)},
        }

    def start(self, reply: _Reply) -> bytes:
        message: dict[str, Any] = {
            "id": reply.ident,
            "type": "message",
            "role": "assistant",
            "model": reply.ask.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
        }
        out = self.sse(reply, "message_start", {"type": "message_start", "message": message})
        if reply.think:
            out += self.sse(
                reply,
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
        else:
            out += self._text_start(reply)
        return out + self.sse(reply, "ping", {"type": "ping"})

    def _text_start(self, reply: _Reply) -> bytes:
        block = {
            "type": "content_block_start",
            "index": self._text_index(reply),
            "content_block": {"type": "text", "text": ""},
        }
        return self.sse(reply, "content_block_start", block)

    def thinking(self, reply: _Reply, index: int) -> bytes:
        delta = {"type": "thinking_delta", "thinking": reply.think[index]}
        out = self.sse(
            reply,
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": delta},
        )
        if index == len(reply.think) - 1:
            sig = {"type": "signature_delta", "signature": "sim"}
            out += self.sse(
                reply,
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": sig},
            )
            out += self.sse(reply, "content_block_stop", {"type": "content_block_stop", "index": 0})
            out += self._text_start(reply)
        return out

    def token(self, reply: _Reply, token: str) -> bytes:
        data = {
            "type": "content_block_delta",
            "index": self._text_index(reply),
            "delta": {"type": "text_delta", "text": token},
        }
        return self.sse(reply, "content_block_delta", data)

    def end(self, reply: _Reply) -> bytes:
        index = self._text_index(reply)
        out = self.sse(reply, "content_block_stop", {"type": "content_block_stop", "index": index})
        out += self.sse(
            reply,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop(reply), "stop_sequence": None},
                "usage": {"output_tokens": len(reply.tokens)},
            },
        )
        return out + self.sse(reply, "message_stop", {"type": "message_stop"})

    def malformed(self, reply: _Reply) -> bytes:
        return self.sse(reply, "content_block_delta", '{"type":"content_block_delta","delta":{')

    def midstream_error(self, reply: _Reply) -> bytes:
        return self.sse(reply, "error", self.error_body(529, "Overloaded (simulated)."))


def _fim_text(body: dict[str, Any]) -> tuple[str, str]:
    prompt, suffix = (
        value if isinstance(value := body.get(name), str) else "" for name in ("prompt", "suffix")
    )
    return prompt, suffix


class _Completions(_OpenAI):
    """OpenAI text completions (``/v1/completions``): ``prompt`` + ``suffix``."""

    name = "completions"

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        if not isinstance(body, dict):
            raise _BadRequest("The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("you must provide a model parameter")
        if not isinstance(body.get("prompt"), str):
            raise _BadRequest("'prompt' must be a string")
        prompt, suffix = _fim_text(body)
        options = body.get("stream_options")
        max_tokens = body.get("max_tokens")
        return _Ask(
            model=model,
            stream=body.get("stream") is True,
            prompt=prompt + suffix,
            input_chars=len(prompt) + len(suffix),
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            api_key=_bearer(headers),
            fim="suffix" in body,
        )

    def _chunk(self, reply: _Reply, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        chunk = super()._chunk(reply, delta, finish)
        chunk["object"] = "text_completion"
        text = delta.get("content")
        chunk["choices"] = [
            {"index": 0, "text": text if isinstance(text, str) else "", "logprobs": None,
             "finish_reason": finish}
        ]
        return chunk

    def whole(self, reply: _Reply) -> dict[str, Any]:
        body = super().whole(reply)
        body["object"] = "text_completion"
        body["choices"] = [
            {"index": 0, "text": reply.text, "logprobs": None,
             "finish_reason": self._finish(reply)}
        ]
        return body

    def start(self, reply: _Reply) -> bytes:
        return b""

    def thinking(self, reply: _Reply, index: int) -> bytes:
        return b""


class _Codestral(_OpenAI):
    """Mistral's ``/v1/fim/completions``: chat-shaped answers, usage on the last chunk."""

    name = "mistral"

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        if not isinstance(body, dict):
            raise _BadRequest("The request body must be a JSON object.", 422)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("model: Field required", 422)
        prompt, suffix = _fim_text(body)
        max_tokens = body.get("max_tokens")
        return _Ask(
            model=model,
            stream=body.get("stream") is True,
            prompt=prompt + suffix,
            input_chars=len(prompt) + len(suffix),
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            api_key=_bearer(headers),
            fim=True,
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"object": "error", "message": message, "type": "invalid_request_error",
                "param": None, "code": None}

    def refuse_fim(self, ask: _Ask, base: str) -> tuple[int, str] | None:
        return 400, f"Model {base} does not support FIM (fill-in-the-middle) completions"

    def mistral_refusal(self, body: Any, options: SimOptions) -> dict[str, Any] | None:
        return mistral_extra_forbidden(body, MISTRAL_FIM_FIELDS) if isinstance(body, dict) else None

    def _chunk(self, reply: _Reply, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return mistral_chunk(super()._chunk(reply, delta, finish), reply, self._usage(reply),
                             finish)


class _Infill(_Dialect):
    """llama.cpp's ``/infill``: its own answer shape, SSE without ``[DONE]``."""

    name = "infill"

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        if not isinstance(body, dict):
            raise _BadRequest("The request body must be a JSON object.")
        parts = [
            value if isinstance(value := body.get(name), str) else ""
            for name in ("input_prefix", "prompt", "input_suffix")
        ]
        extra = body.get("input_extra", [])
        if not isinstance(extra, list) or not all(
            isinstance(e, dict) and isinstance(e.get("text", ""), str) for e in extra
        ):
            raise _BadRequest(
                '"input_extra" must be an array of {"filename": string, "text": string}'
            )
        extra_chars = sum(len(e.get("text", "")) + len(e.get("filename", "")) for e in extra)
        limit = body.get("n_predict")
        model = body.get("model")
        return _Ask(
            model=model if isinstance(model, str) and model else "default",
            # llama.cpp answers whole unless asked to stream.
            stream=body.get("stream") is True,
            prompt="".join(parts),
            input_chars=sum(len(p) for p in parts) + extra_chars,
            max_tokens=limit if isinstance(limit, int) and limit >= 0 else None,
            api_key=_bearer(headers),
            fim=True,
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kinds = {401: "authentication_error", 404: "not_found_error", 501: "not_supported_error",
                 503: "unavailable_error"}
        etype = kinds.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return {"error": {"code": status, "message": message, "type": etype}}

    def refuse_fim(self, ask: _Ask, base: str) -> tuple[int, str] | None:
        return 501, "Infill is not supported by this model: prefix token is missing. "

    def _line(self, reply: _Reply, text: str, *, stop: bool) -> dict[str, Any]:
        line: dict[str, Any] = {"index": 0, "content": text, "tokens": [], "id_slot": 0,
                                "stop": stop}
        if stop:
            n = len(reply.tokens)
            line.update(
                model=reply.ask.model,
                tokens_predicted=n,
                tokens_evaluated=reply.input_tokens,
                stop_type="limit" if reply.cut_by_limit else "eos",
                stopping_word="",
                truncated=False,
                timings={"prompt_n": reply.input_tokens, "prompt_ms": 1.0,
                         "predicted_n": n, "predicted_ms": float(n)},
            )
        return line

    def whole(self, reply: _Reply) -> dict[str, Any]:
        return self._line(reply, reply.text, stop=True)

    def token(self, reply: _Reply, token: str) -> bytes:
        return self.sse(reply, None, self._line(reply, token, stop=False))

    def end(self, reply: _Reply) -> bytes:
        return self.sse(reply, None, self._line(reply, "", stop=True))

    def malformed(self, reply: _Reply) -> bytes:
        return self.sse(reply, None, '{"index":0,"content":')

    def midstream_error(self, reply: _Reply) -> bytes:
        return self.sse(reply, None, self.error_body(500, "the server had an error (simulated)"))


class _Ollama(_Dialect):
    name = "ollama"
    stream_content_type = "application/x-ndjson"

    def __init__(self, generate: bool) -> None:
        self.generate = generate

    def parse(self, body: Any, headers: Mapping[str, str]) -> _Ask:
        if not isinstance(body, dict):
            raise _BadRequest("invalid request body")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("model is required")
        if self.generate:
            prompt, suffix, system = (
                value if isinstance(value := body.get(name), str) else ""
                for name in ("prompt", "suffix", "system")
            )
            text, chars = prompt + suffix, len(prompt) + len(suffix) + len(system)
            fim = bool(suffix)
        else:
            messages = body.get("messages")
            if messages is None:
                messages = []
            if not isinstance(messages, list):
                raise _BadRequest("messages must be an array")
            text, chars = _last_user(messages), _chars(messages)
            fim = False
        options = body.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        return _Ask(
            model=model,
            # Ollama streams unless told not to.
            stream=body.get("stream") is not False,
            prompt=text,
            input_chars=chars,
            max_tokens=limit if isinstance(limit, int) and limit >= 0 else None,
            api_key=_bearer(headers),
            fim=fim,
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message}

    def refuse_fim(self, ask: _Ask, base: str) -> tuple[int, str] | None:
        if self.generate and ask.fim:
            return 400, f"registry.ollama.ai/library/{base}:latest does not support insert"
        return None

    def status_message(self, status: int, model: str) -> str:
        if status == 404:
            return f'model "{model}" not found, try pulling it first'
        if status == 401:
            return "unauthorized"
        return super().status_message(status, model)

    def _line(self, reply: _Reply, text: str, *, thinking: str | None = None) -> dict[str, Any]:
        line: dict[str, Any] = {"model": reply.ask.model, "created_at": _now_iso()}
        if self.generate:
            line["response"] = text
            if thinking is not None:
                line["thinking"] = thinking
        else:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking is not None:
                message["thinking"] = thinking
            line["message"] = message
        line["done"] = False
        return line

    def context_error(self, reply: _Reply, context: int, llama_server: bool
                      ) -> tuple[int, dict[str, Any]] | None:
        # Ollama keeps the end of a prompt that does not fit and answers anyway.
        reply.input_tokens = max(1, context - (reply.ask.max_tokens or 0))
        return None

    def _done(self, reply: _Reply, text: str, *, whole: bool) -> dict[str, Any]:
        # A whole answer carries all the thinking; a stream sent it line by line.
        thinking = "".join(reply.think) if reply.think and whole else None
        line = self._line(reply, text, thinking=thinking)
        n = len(reply.tokens)
        line.update(
            done=True,
            done_reason="length" if reply.cut_by_limit else "stop",
            total_duration=(n + 1) * 1_000_000,
            load_duration=100_000,
            prompt_eval_count=reply.input_tokens,
            prompt_eval_duration=500_000,
            eval_count=n,
            eval_duration=n * 1_000_000,
        )
        return line

    @staticmethod
    def ndjson(data: Any) -> bytes:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        return (text + "\n").encode()

    def whole(self, reply: _Reply) -> dict[str, Any]:
        return self._done(reply, reply.text, whole=True)

    def thinking(self, reply: _Reply, index: int) -> bytes:
        return self.ndjson(self._line(reply, "", thinking=reply.think[index]))

    def token(self, reply: _Reply, token: str) -> bytes:
        return self.ndjson(self._line(reply, token))

    def end(self, reply: _Reply) -> bytes:
        done = self._done(reply, "", whole=False)
        if self.generate:
            done["context"] = [1, 2, 3]
        return self.ndjson(done)

    def malformed(self, reply: _Reply) -> bytes:
        return self.ndjson('{"model":"' + reply.ask.model + '","message":{"content":')

    def midstream_error(self, reply: _Reply) -> bytes:
        return self.ndjson(
            {"error": "an error was encountered while running the model (simulated)"}
        )


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------------
# Running one request
# ---------------------------------------------------------------------------


class _Run:
    """Answers one request; every wait checks for the client leaving."""

    def __init__(self, request: web.Request, state: SimState, dialect: _Dialect) -> None:
        self.request = request
        self.state = state
        self.dialect = dialect
        self.loop = asyncio.get_running_loop()
        self.stopping = request.app[_STOPPING_KEY]
        self.response: web.StreamResponse | None = None
        #: When the request arrived (loop time): ttft and pace count from here.
        self.t0 = self.loop.time()
        self.deadline = self.t0 + state.cap_s
        self.record: RecordedRequest | None = None
        #: The single slot this request holds (``single_slot``), if any.
        self.slot: _Slot | None = None
        self._buffer = bytearray()
        self._chunk = 0

    # -- helpers ------------------------------------------------------------

    def client_gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` unless the client leaves (raise) or the cap/stop comes."""
        await self.pause_until(self.loop.time() + seconds)

    async def pause_until(self, end: float) -> None:
        """Sleep until loop time ``end`` (same exits as :meth:`pause`)."""
        while True:
            if self.client_gone():
                raise _ClientGone
            if self.stopping.is_set():
                raise _GiveUp
            now = self.loop.time()
            if now >= end:
                return
            if now >= self.deadline:
                raise _GiveUp
            # Short naps so a leaving client is noticed within ~20 ms.
            await asyncio.sleep(min(end - now, self.deadline - now, 0.02))

    def add(self, data: bytes) -> None:
        self._buffer += data

    async def flush(self) -> None:
        if not self._buffer or self.response is None:
            return
        data = bytes(self._buffer)
        self._buffer.clear()
        size = self._chunk or len(data)
        try:
            for start in range(0, len(data), size):
                await self.response.write(data[start : start + size])
                if self._chunk:
                    await asyncio.sleep(0)  # let each piece leave on its own
        except (ConnectionError, RuntimeError) as exc:
            raise _ClientGone from exc

    def close_connection(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.close()

    def error_response(
        self, status: int, message: str, retry_after: float | None = None
    ) -> web.Response:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if self.record is not None:
            self.state.update(self.record, status=status)
        return web.json_response(
            self.dialect.error_body(status, message), status=status, headers=headers
        )

    # -- the answer ---------------------------------------------------------

    async def respond(self, body: Any) -> web.StreamResponse:
        ask = self.dialect.parse(body, self.request.headers)
        try:
            base, options = parse_model(ask.model)
            header = self.request.headers.get(HEADER)
            if header is not None:
                options = parse_header(header, options)
        except SimOptionError as exc:
            raise _BadRequest(str(exc)) from None
        assert self.record is not None
        self.state.update(self.record, base_model=base, options=options, stream=ask.stream)
        if options.cap is not None:
            self.deadline = self.t0 + options.cap
        self._chunk = options.chunk

        refusal = self.dialect.refuse_fim(ask, base) if options.nofim else None
        if refusal is not None:
            return self.error_response(*refusal)
        strict = self.dialect.mistral_refusal(body, options)
        if strict is not None:
            self.state.update(self.record, status=422)
            return web.json_response(strict, status=422)

        status = options.status
        if options.fail_first and status is None:
            status = 503
        failing = status is not None and (
            options.fail_first == 0 or self.record.ordinal <= options.fail_first
        )
        if failing and status is not None:
            await self.pause_until(self.t0 + options.ttft / 1000.0)
            message = self.dialect.status_message(status, ask.model)
            if options.echo_key and ask.api_key:
                message += f" (key received: {ask.api_key})"
            return self.error_response(status, message, options.retry_after)

        canned = self.state.reply_for(base, ask.prompt)
        count = options.tokens if canned is None else len(canned_tokens(canned))
        cut = ask.max_tokens is not None and ask.max_tokens < count
        if cut and ask.max_tokens is not None:
            count = ask.max_tokens
        reply = _Reply(
            ask=ask,
            options=options,
            tokens=reply_tokens(base, ask.prompt, tokens=count) if canned is None
            else canned_tokens(canned)[:count],
            cut_by_limit=cut,
            input_tokens=_estimate_tokens(ask.input_chars),
            ident=f"sim-{self.record.ordinal}",
            crlf=options.crlf,
            think=THINKING_TEXT if options.think else (),
            cached_tokens=self.state.prompt_cache(base, ask.prompt, ask.input_chars),
        )
        if options.context and reply.input_tokens + (ask.max_tokens or 0) > options.context:
            refused = self.dialect.context_error(reply, options.context, options.llama_server)
            if refused is not None:
                status, error = refused
                if ask.stream and not options.llama_server and self.dialect.name == "openai":
                    # llama-cpp-python: a stream gets 200 and an empty body.
                    response = web.StreamResponse(status=200)
                    response.headers["Content-Type"] = self.dialect.stream_content_type
                    await self.prepare(response)
                    await response.write_eof()
                    return response
                self.state.update(self.record, status=status)
                return web.json_response(error, status=status)
        if not options.single_slot:
            return await self.answer(reply)
        slot = self.request.app[_SLOT_KEY]
        slot.waiting += 1
        try:
            await slot.lock.acquire()
        finally:
            slot.waiting -= 1
        try:
            self.slot = slot
            return await self.answer(reply)
        finally:
            slot.lock.release()

    async def answer(self, reply: _Reply) -> web.StreamResponse:
        if reply.ask.stream and reply.options.fault != "json":
            return await self.stream(reply)
        return await self.whole(reply)

    async def whole(self, reply: _Reply) -> web.StreamResponse:
        options = reply.options
        fault = options.fault
        if fault == "stall":
            return await self.stall("application/json")
        if fault == "endless":
            return await self.endless_whole()
        tps = options.effective_tps
        delay = options.ttft / 1000.0
        if tps > 0 and reply.tokens:
            delay += (len(reply.tokens) - 1) / tps
        await self.pause_until(self.t0 + delay)
        body = json.dumps(self.dialect.whole(reply), separators=(",", ":")).encode()
        if fault == "malformed":
            body = b'{"choices": [ this is not JSON'
        elif fault in ("truncate", "disconnect"):
            half = body[: len(body) // 2]
            if fault == "truncate":  # a clean response whose JSON simply stops
                return self.ok_response(web.Response(body=half, content_type="application/json"))
            response = web.StreamResponse(status=200)
            response.content_type = "application/json"
            response.content_length = len(body)
            await self.prepare(response)
            self.add(half)
            await self.flush()
            self.close_connection()
            return response
        return self.ok_response(web.Response(body=body, content_type="application/json"))

    def ok_response(self, response: web.Response) -> web.Response:
        assert self.record is not None
        self.state.update(self.record, status=response.status)
        return response

    async def prepare(self, response: web.StreamResponse) -> None:
        assert self.record is not None
        self.response = response
        self.state.update(self.record, status=response.status)
        try:
            await response.prepare(self.request)
        except (ConnectionError, RuntimeError) as exc:
            raise _ClientGone from exc

    async def stall(self, content_type: str) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = content_type.split(";")[0]
        await self.prepare(response)
        with contextlib.suppress(_GiveUp):
            await self.pause(max(0.0, self.deadline - self.loop.time()))
        self.close_connection()
        return response

    async def stream(self, reply: _Reply) -> web.StreamResponse:
        options = reply.options
        if options.fault == "stall":
            return await self.stall(self.dialect.stream_content_type)
        response = web.StreamResponse(status=200)
        response.headers["Content-Type"] = self.dialect.stream_content_type
        response.headers["Cache-Control"] = "no-cache"
        await self.prepare(response)
        try:
            await self._stream_body(reply)
        except _GiveUp:
            self.close_connection()
            return response
        return response

    async def _endless(self, piece: bytes) -> None:
        """Send ``piece`` again and again, as fast as the client reads (each
        write waits for the socket to drain), until it leaves or the cap."""
        while True:
            if self.client_gone():
                raise _ClientGone
            if self.stopping.is_set() or self.loop.time() >= self.deadline:
                raise _GiveUp
            self.add(piece)
            await self.flush()
            await asyncio.sleep(0)

    async def endless_whole(self) -> web.StreamResponse:
        """A JSON answer whose text never ends (no length, chunked)."""
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        await self.prepare(response)
        self.add(b'{"choices":[{"index":0,"message":{"role":"assistant","content":"')
        with contextlib.suppress(_GiveUp):
            await self._endless(ENDLESS_TEXT.encode())
        self.close_connection()
        return response

    async def _stream_body(self, reply: _Reply) -> None:
        options = reply.options
        dialect = self.dialect
        tps = options.effective_tps
        gap = 1.0 / tps if tps > 0 else 0.0
        self.add(dialect.start(reply))
        if options.fault == "endless":
            # Text pieces with no end marker, for ever (bounded by the cap).
            await self._endless(dialect.token(reply, ENDLESS_TEXT))
            return
        if options.comments:
            self.add(dialect.comment(reply))
        # Tokens keep to a timetable counted from the request's arrival, so
        # time to first token and pace do not drift with write costs.
        first_at = self.t0 + options.ttft / 1000.0
        if options.ttft > 0:
            await self.flush()
            await self.pause_until(first_at)
        for index in range(len(reply.think)):
            self.add(dialect.thinking(reply, index))
        fault = options.fault
        cut_at = len(reply.tokens) // 2
        for i, token in enumerate(reply.tokens):
            if i == cut_at and fault in _STREAM_FAULTS and await self._fault(reply, fault):
                return
            if i > 0 and gap > 0:
                await self.flush()
                await self.pause_until(first_at + i * gap)
            if i > 0 and self.slot is not None and self.slot.waiting:
                # llama-cpp-python drops a running stream for a waiting request.
                self.add(dialect.interrupted(reply))
                await self.flush()
                assert self.response is not None
                try:
                    await self.response.write_eof()
                except (ConnectionError, RuntimeError) as exc:
                    raise _ClientGone from exc
                return
            if options.comments and i > 0 and i % 4 == 0:
                self.add(dialect.comment(reply))
            self.add(dialect.token(reply, token))
        if not reply.tokens and fault in _STREAM_FAULTS and await self._fault(reply, fault):
            return
        self.add(dialect.end(reply))
        assert self.response is not None
        last = b""
        if not self._chunk:
            # The end marker and the end of the body leave in one write, as
            # real servers usually manage: the client can reuse the connection.
            last = bytes(self._buffer)
            self._buffer.clear()
        await self.flush()
        try:
            await self.response.write_eof(last)
        except (ConnectionError, RuntimeError) as exc:
            raise _ClientGone from exc

    async def _fault(self, reply: _Reply, fault: str) -> bool:
        """Apply a mid-stream fault; True when the stream ends here."""
        assert self.response is not None
        if fault == "malformed":
            self.add(self.dialect.malformed(reply))
            return False  # the rest follows normally; the client must stop here
        if fault == "error":
            self.add(self.dialect.midstream_error(reply))
        await self.flush()
        if fault == "disconnect":
            self.close_connection()
            return True
        try:
            await self.response.write_eof()
        except (ConnectionError, RuntimeError) as exc:
            raise _ClientGone from exc
        return True


# ---------------------------------------------------------------------------
# Handlers and the app
# ---------------------------------------------------------------------------


def _handler(dialect: _Dialect) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        run = _Run(request, state, dialect)
        raw = await request.read()
        body: Any = None
        problem: str | None = None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            problem = "could not parse the JSON body of the request"
        headers, digest = mask_headers(request.headers.items())
        peer = request.transport.get_extra_info("peername") if request.transport else None
        model = body.get("model") if isinstance(body, dict) else None
        record = RecordedRequest(
            path=request.path,
            model=model if isinstance(model, str) else "",
            body=body,
            headers=headers,
            started_at=time.monotonic(),
            client_port=peer[1] if isinstance(peer, tuple) and len(peer) > 1 else None,
            key_digest=digest,
        )
        run.record = state.begin(record)
        disconnected = False
        try:
            if problem is not None:
                raise _BadRequest(problem)
            return await run.respond(body)
        except _BadRequest as exc:
            return run.error_response(exc.status, exc.message)
        except _ClientGone:
            disconnected = True
            return run.response or web.Response(status=499)
        except _GiveUp:
            run.close_connection()
            return run.response or web.Response(status=503)
        except asyncio.CancelledError:
            # aiohttp cancels a handler whose client left (handler_cancellation).
            disconnected = True
            raise
        finally:
            state.end(record, disconnected=disconnected)

    return handle


async def _tags(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    models = [
        {
            "name": name,
            "model": name,
            "modified_at": "2024-01-01T00:00:00Z",
            "size": 1_000_000,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {"format": "gguf", "family": "hexai-sim", "parameter_size": "1B"},
        }
        for name in state.models
    ]
    return web.json_response({"models": models})


async def _models(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    names = state.models
    data: list[dict[str, Any]]
    if request.headers.get("anthropic-version"):
        data = [
            {"type": "model", "id": n, "display_name": n, "created_at": "2024-01-01T00:00:00Z"}
            for n in names
        ]
        return web.json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None,
            }
        )
    data = [
        {"id": n, "object": "model", "created": _CREATED, "owned_by": "hexai-sim"} for n in names
    ]
    return web.json_response({"object": "list", "data": data})


async def _on_startup(app: web.Application) -> None:
    app[_STOPPING_KEY] = asyncio.Event()
    app[_SLOT_KEY] = _Slot()


async def _on_shutdown(app: web.Application) -> None:
    app[_STOPPING_KEY].set()


def create_app(state: SimState | None = None) -> web.Application:
    """The simulator as an aiohttp application recording into ``state``."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = state if state is not None else SimState()
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_post("/v1/chat/completions", _handler(_OpenAI()))
    app.router.add_post("/v1/messages", _handler(_Anthropic()))
    app.router.add_post("/api/chat", _handler(_Ollama(generate=False)))
    app.router.add_post("/api/generate", _handler(_Ollama(generate=True)))
    app.router.add_post("/v1/completions", _handler(_Completions()))
    app.router.add_post("/v1/fim/completions", _handler(_Codestral()))
    app.router.add_post("/infill", _handler(_Infill()))
    app.router.add_get("/api/tags", _tags)
    app.router.add_get("/v1/models", _models)
    return app
