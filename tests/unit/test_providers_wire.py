"""Each wire format, streaming and not, against the simulator and against canned bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hexai_nvim.config.model import ProviderSpec
from hexai_nvim.providers import HttpPool, make_provider
from hexai_nvim.providers.anthropic import AnthropicStreamDecoder
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    FimPrompt,
    Finish,
    Message,
    ProviderError,
    ProviderEvent,
    Request,
    StopReason,
    TextDelta,
    UsageReport,
)
from hexai_nvim.providers.http import JsonHttpProvider, StreamDecoder
from hexai_nvim.providers.ollama import OllamaStreamDecoder
from hexai_nvim.providers.openai import OpenAIStreamDecoder
from hexai_nvim.sim import SimState, create_app, key_digest, reply_text

DATA = Path(__file__).parent / "data"
KEY = "sk-test-0123456789abcdef"
PROMPT = "write a loop"
SYSTEM = "You are terse."
#: Input tokens the simulator reports: ceil(chars / 4) of every message.
IN = (len(SYSTEM) + len(PROMPT) + 3) // 4

ServerFactory = Callable[..., Awaitable[Any]]


@dataclass
class Sim:
    state: SimState
    url: str


@dataclass
class Outcome:
    events: list[ProviderEvent] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def usage(self) -> UsageReport | None:
        reports = [e for e in self.events if isinstance(e, UsageReport)]
        return reports[-1] if reports else None

    @property
    def finish(self) -> Finish:
        assert isinstance(self.events[-1], Finish), self.events
        return self.events[-1]


@pytest.fixture
async def sim(aiohttp_server: ServerFactory) -> Sim:
    state = SimState()
    server = await aiohttp_server(create_app(state))
    return Sim(state, str(server.make_url("/")).rstrip("/"))


@pytest.fixture
async def http() -> AsyncIterator[HttpPool]:
    pool = HttpPool()
    yield pool
    await pool.close()


def spec(kind: str, base_url: str, **kw: Any) -> ProviderSpec:
    return ProviderSpec(name=kind, kind=kind, base_url=base_url, **kw)


def make_call(
    model: str,
    *,
    stream: bool = True,
    key: str | None = KEY,
    fim: FimPrompt | None = None,
    **request: Any,
) -> Call:
    messages = (Message("system", SYSTEM), Message("user", PROMPT))
    return Call(
        model=model,
        request=Request(messages=messages, fim=fim, **request),
        stream=stream,
        api_key=key,
    )


async def collect(http: HttpPool, provider_spec: ProviderSpec, call: Call) -> Outcome:
    outcome = Outcome()
    async for event in make_provider(provider_spec, http).stream(call):
        outcome.events.append(event)
    return outcome


def base_url(sim: Sim, kind: str) -> str:
    return sim.url if kind == "ollama" else f"{sim.url}/v1"


async def canned(
    aiohttp_server: ServerFactory,
    body: bytes,
    *,
    content_type: str = "text/event-stream",
    status: int = 200,
    piece: int = 0,
) -> str:
    """A server answering every POST with ``body`` (written in ``piece``-byte writes)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=status)
        response.headers["Content-Type"] = content_type
        await response.prepare(request)
        size = piece or len(body) or 1
        for start in range(0, len(body), size):
            await response.write(body[start : start + size])
            if piece:
                await asyncio.sleep(0)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


# ---------------------------------------------------------------------------
# Against the simulator
# ---------------------------------------------------------------------------

FORMATS = [
    ("openai", "stop", "/v1/chat/completions"),
    ("openai-compatible", "stop", "/v1/chat/completions"),
    ("openrouter", "stop", "/v1/chat/completions"),
    ("anthropic", "end_turn", "/v1/messages"),
    ("ollama", "stop", "/api/chat"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(("kind", "reason", "path"), FORMATS)
async def test_answer_text_usage_and_finish_from_the_simulator(
    sim: Sim, http: HttpPool, kind: str, reason: str, path: str, stream: bool
) -> None:
    call = make_call("local+tokens=9", stream=stream)
    outcome = await collect(http, spec(kind, base_url(sim, kind)), call)

    assert outcome.text == reply_text("local", PROMPT, tokens=9)
    assert outcome.finish == Finish(reason)
    assert outcome.usage == UsageReport(input_tokens=IN, output_tokens=9)
    if stream:  # streamed text really arrives in pieces
        assert sum(isinstance(e, TextDelta) for e in outcome.events) == 9
    [recorded] = sim.state.requests
    assert recorded.path == path
    assert recorded.stream is stream
    assert recorded.finished and not recorded.disconnected
    assert recorded.key_digest == key_digest(KEY)
    assert KEY not in json.dumps(dict(recorded.headers))
    transfer = call.transfer
    assert transfer.status == 200
    assert transfer.bytes_sent == len(
        json.dumps(recorded.body, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert transfer.bytes_received > len(outcome.text)


async def test_openai_request_shape(sim: Sim, http: HttpPool) -> None:
    call = make_call("m", max_tokens=50, temperature=0.3, stop=("\n\n",))
    await collect(http, spec("openai", f"{sim.url}/v1", headers={"X-Extra": "1"}), call)
    [recorded] = sim.state.requests
    assert recorded.body == {
        "model": "m",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": PROMPT},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 50,
        "temperature": 0.3,
        "stop": ["\n\n"],
    }
    assert recorded.headers["Authorization"] == "Bearer ***"
    assert recorded.headers["X-Extra"] == "1"
    assert "HTTP-Referer" not in recorded.headers


@pytest.mark.parametrize(
    ("kind", "base", "field"),
    [
        ("openai", "https://api.openai.com/v1", "max_completion_tokens"),
        ("openai", "https://res.openai.azure.com/openai/v1", "max_completion_tokens"),
        ("openai", "http://127.0.0.1:8080/v1", "max_tokens"),  # [openai] at llama.cpp
        ("openrouter", "https://openrouter.ai/api/v1", "max_tokens"),
        ("openai-compatible", "https://api.groq.com/openai/v1", "max_tokens"),
    ],
)
def test_openai_itself_gets_max_completion_tokens_others_max_tokens(
    kind: str, base: str, field: str
) -> None:
    # OpenAI refuses max_tokens for its reasoning models (o-series, gpt-5).
    provider = make_provider(spec(kind, base), HttpPool())
    assert isinstance(provider, JsonHttpProvider)
    body = provider.payload(make_call("m", max_tokens=50))
    assert body[field] == 50
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert not other & set(body)


async def test_mistral_chat_streams_without_stream_options_and_reads_its_usage(
    sim: Sim, http: HttpPool
) -> None:
    # Mistral refuses unknown fields (422 extra_forbidden: stream_options) and
    # sends usage on its finishing chunk unasked; +mistral makes the simulator do both.
    outcome = await collect(http, spec("mistral", f"{sim.url}/v1"),
                            make_call("mistral-small+mistral", max_tokens=50))
    [recorded] = sim.state.requests
    assert recorded.path == "/v1/chat/completions" and recorded.status == 200
    assert "stream_options" not in recorded.body and recorded.body["max_tokens"] == 50
    assert outcome.text == reply_text("mistral-small", PROMPT)
    assert outcome.usage is not None and outcome.usage.input_tokens == IN
    assert outcome.finish.stop is StopReason.STOP


async def test_mistral_refusal_of_a_field_is_a_clear_error(sim: Sim, http: HttpPool) -> None:
    # What every Mistral chat request got while stream_options was sent: the
    # simulator's +mistral answers as Mistral does, and the message names the field.
    provider_spec = spec("openai-compatible", f"{sim.url}/v1")
    with pytest.raises(ProviderError) as info:
        await collect(http, provider_spec, make_call("mistral-small+mistral"))
    assert info.value.status == 422
    assert "stream_options: Extra inputs are not permitted" in str(info.value)


@pytest.mark.parametrize("base", ["https://api.mistral.ai/v1", "https://codestral.mistral.ai/v1"])
def test_an_openai_compatible_entry_at_mistral_asks_no_stream_options(base: str) -> None:
    provider = make_provider(spec("openai-compatible", base), HttpPool())
    assert isinstance(provider, JsonHttpProvider)
    assert "stream_options" not in provider.payload(make_call("m"))


async def test_openai_without_key_sends_no_authorization(sim: Sim, http: HttpPool) -> None:
    await collect(http, spec("openai-compatible", f"{sim.url}/v1"), make_call("m", key=None))
    [recorded] = sim.state.requests
    assert "Authorization" not in recorded.headers
    assert recorded.key_digest is None


async def test_openrouter_adds_its_headers(sim: Sim, http: HttpPool) -> None:
    await collect(http, spec("openrouter", f"{sim.url}/v1"), make_call("m", stream=False))
    headers = sim.state.requests[0].headers
    assert headers["HTTP-Referer"].startswith("https://")
    assert headers["X-Title"] == "hexai.nvim"
    assert "stream_options" not in sim.state.requests[0].body


async def test_anthropic_request_shape(sim: Sim, http: HttpPool) -> None:
    call = make_call("claude", temperature=0.2, stop=("END",))
    await collect(http, spec("anthropic", f"{sim.url}/v1", headers={"X-Extra": "a"}), call)
    [recorded] = sim.state.requests
    assert recorded.body == {
        "model": "claude",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "system": SYSTEM,
        "temperature": 0.2,
        "stop_sequences": ["END"],
    }
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert recorded.headers["x-api-key"] == "***"
    assert recorded.headers["X-Extra"] == "a"
    assert "Authorization" not in recorded.headers


async def test_anthropic_max_tokens_is_passed_and_limits_the_answer(
    sim: Sim, http: HttpPool
) -> None:
    call = make_call("claude", max_tokens=4)
    outcome = await collect(http, spec("anthropic", f"{sim.url}/v1"), call)
    assert sim.state.requests[0].body["max_tokens"] == 4
    assert outcome.text == reply_text("claude", PROMPT, tokens=4)
    assert outcome.finish == Finish("max_tokens")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_ollama_chat_request_shape(sim: Sim, http: HttpPool, stream: bool) -> None:
    call = make_call("qwen", stream=stream, max_tokens=3, temperature=0.1, stop=(";",), key=None)
    outcome = await collect(http, spec("ollama", sim.url, headers={"X-Extra": "o"}), call)
    [recorded] = sim.state.requests
    assert recorded.path == "/api/chat"
    assert recorded.body == {
        "model": "qwen",
        "stream": stream,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": PROMPT},
        ],
        "options": {"temperature": 0.1, "num_predict": 3, "stop": [";"]},
    }
    assert "Authorization" not in recorded.headers
    assert recorded.headers["X-Extra"] == "o"
    assert outcome.text == reply_text("qwen", PROMPT, tokens=3)
    assert outcome.finish == Finish("length")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_ollama_fill_in_the_middle_uses_generate_with_suffix(
    sim: Sim, http: HttpPool, stream: bool
) -> None:
    fim = FimPrompt(prefix="def add(a, b):\n    return ", suffix="\n\nprint(add(1, 2))\n")
    call = make_call("coder", stream=stream, fim=fim)
    outcome = await collect(http, spec("ollama", sim.url), call)
    [recorded] = sim.state.requests
    assert recorded.path == "/api/generate"
    assert recorded.body["prompt"] == fim.prefix
    assert recorded.body["suffix"] == fim.suffix
    assert recorded.body["system"] == SYSTEM
    assert recorded.body["stream"] is stream
    assert "messages" not in recorded.body
    assert recorded.headers["Authorization"] == "Bearer ***"  # optional key is sent
    assert outcome.text == reply_text("coder", fim.prefix + fim.suffix)
    assert outcome.finish == Finish("stop")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
async def test_reasoning_and_thinking_are_not_answer_text(
    sim: Sim, http: HttpPool, kind: str, stream: bool
) -> None:
    outcome = await collect(
        http, spec(kind, base_url(sim, kind)), make_call("deep+think", stream=stream)
    )
    assert outcome.text == reply_text("deep", PROMPT)
    assert "think" not in outcome.text


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
async def test_a_json_body_where_a_stream_was_asked_is_read_whole(
    sim: Sim, http: HttpPool, kind: str
) -> None:
    call = make_call("plain+fault=json", stream=True)
    outcome = await collect(http, spec(kind, base_url(sim, kind)), call)
    assert outcome.text == reply_text("plain", PROMPT)
    assert [type(e) for e in outcome.events] == [TextDelta, UsageReport, Finish]


@pytest.mark.parametrize(
    ("mode", "usage"),
    [
        ("standard", UsageReport(IN, 12)),
        ("finish", UsageReport(IN, 12)),
        ("groq", UsageReport(IN, 12)),
        ("timings", UsageReport(IN, 12)),
        ("none", None),
    ],
)
async def test_openai_usage_wherever_the_server_puts_it(
    sim: Sim, http: HttpPool, mode: str, usage: UsageReport | None
) -> None:
    outcome = await collect(http, spec("openai", f"{sim.url}/v1"), make_call(f"m+usage={mode}"))
    assert outcome.usage == usage
    assert outcome.text == reply_text("m", PROMPT)
    assert outcome.finish == Finish("stop")


async def test_openai_comments_crlf_and_tiny_writes(sim: Sim, http: HttpPool) -> None:
    call = make_call("m+comments+crlf+chunk=3+tokens=20")
    outcome = await collect(http, spec("openrouter", f"{sim.url}/v1"), call)
    assert outcome.text == reply_text("m", PROMPT, tokens=20)
    assert outcome.usage == UsageReport(IN, 20)


@pytest.mark.parametrize("kind", ["anthropic", "ollama"])
async def test_crlf_and_tiny_writes_other_formats(sim: Sim, http: HttpPool, kind: str) -> None:
    call = make_call("m+crlf+chunk=5+think")
    outcome = await collect(http, spec(kind, base_url(sim, kind)), call)
    assert outcome.text == reply_text("m", PROMPT)


async def test_connections_are_reused_across_requests(sim: Sim, http: HttpPool) -> None:
    for kind in ("openai", "anthropic", "ollama", "openai"):
        for stream in (True, False):
            await collect(http, spec(kind, base_url(sim, kind)), make_call("m", stream=stream))
    ports = {r.client_port for r in sim.state.requests}
    assert len(sim.state.requests) == 8
    assert len(ports) == 1, "keep-alive: one pooled connection serves sequential requests"


# ---------------------------------------------------------------------------
# Canned bodies of real servers
# ---------------------------------------------------------------------------

CANNED = [
    (
        "openai_openrouter_stream.sse",
        "openrouter",
        "def add(a, b):\n    return a + b — ok ✓",
        UsageReport(17, 42),
        "stop",
    ),
    ("openai_groq_stream.sse", "openai", "x = 1", UsageReport(11, 3), "stop"),
    ("openai_llamacpp_stream.sse", "openai-compatible", "print('hi')", UsageReport(9, 2), "length"),
    ("openai_usage_on_finish.sse", "openai", "abc", UsageReport(5, 3), "stop"),
    ("anthropic_stream.sse", "anthropic", "for i in range(3):", UsageReport(25, 15), "end_turn"),
    ("ollama_chat_stream.ndjson", "ollama", "while True:", UsageReport(26, 3), "stop"),
]


@pytest.mark.parametrize("variant", ["lf", "crlf", "pieces"])
@pytest.mark.parametrize(("name", "kind", "text", "usage", "reason"), CANNED)
async def test_canned_streams_over_http(
    aiohttp_server: ServerFactory,
    http: HttpPool,
    name: str,
    kind: str,
    text: str,
    usage: UsageReport,
    reason: str,
    variant: str,
) -> None:
    body = (DATA / name).read_bytes()
    if variant == "crlf":
        body = body.replace(b"\n", b"\r\n")
    ctype = "application/x-ndjson" if name.endswith(".ndjson") else "text/event-stream"
    url = await canned(
        aiohttp_server, body, content_type=ctype, piece=7 if variant == "pieces" else 0
    )
    outcome = await collect(http, spec(kind, url), make_call("m"))
    assert outcome.text == text
    assert outcome.usage == usage
    assert outcome.finish == Finish(reason)


async def test_canned_ollama_generate_stream(aiohttp_server: ServerFactory, http: HttpPool) -> None:
    body = (DATA / "ollama_generate_stream.ndjson").read_bytes()
    url = await canned(aiohttp_server, body, content_type="application/x-ndjson")
    outcome = await collect(http, spec("ollama", url), make_call("m", fim=FimPrompt("f(", ")")))
    assert outcome.text == "a, b"
    assert outcome.usage == UsageReport(7, 2)
    assert outcome.finish == Finish("length")


DECODERS: dict[str, Callable[[], StreamDecoder[Any]]] = {
    "openai": lambda: OpenAIStreamDecoder(KEY),
    "openai-compatible": lambda: OpenAIStreamDecoder(KEY),
    "openrouter": lambda: OpenAIStreamDecoder(KEY),
    "anthropic": lambda: AnthropicStreamDecoder(KEY),
    "ollama": lambda: OllamaStreamDecoder(KEY),
}


def decode(kind: str, body: bytes, step: int) -> list[ProviderEvent]:
    decoder = DECODERS[kind]()
    events: list[ProviderEvent] = []
    for start in range(0, len(body), step):
        events += decoder.feed(body[start : start + step])
        if decoder.done or decoder.error:
            break
    events += decoder.finish()
    if decoder.error is not None:
        raise decoder.error
    return events


def merged_text(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize(("name", "kind", "text", "usage", "reason"), CANNED)
def test_decoders_fed_byte_by_byte_match_whole_feeds(
    name: str, kind: str, text: str, usage: UsageReport, reason: str
) -> None:
    body = (DATA / name).read_bytes()
    for variant in (body, body.replace(b"\n", b"\r\n")):
        whole = decode(kind, variant, len(variant))
        bytewise = decode(kind, variant, 1)
        assert bytewise == whole
        assert merged_text(bytewise) == text
        assert bytewise[-1] == Finish(reason)


def sse(*chunks: dict[str, Any] | str) -> bytes:
    out = b""
    for chunk in chunks:
        data = chunk if isinstance(chunk, str) else json.dumps(chunk)
        out += f"data: {data}\n\n".encode()
    return out


def chunk(content: Any = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def test_openai_content_null_and_reasoning_fields_give_no_text() -> None:
    body = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        {"choices": [{"index": 0, "delta": {"content": None, "reasoning_content": "r"}}]},
        {"choices": [{"index": 0, "delta": {"reasoning": "r2"}}]},
        chunk("ok"),
        chunk(finish="stop"),
        "[DONE]",
    )
    events = decode("openai", body, 1)
    assert events == [TextDelta("ok"), Finish("stop")]


def test_openai_finish_reason_without_done_is_complete() -> None:
    events = decode("openai", sse(chunk("a"), chunk(finish="stop")), 3)
    assert events == [TextDelta("a"), Finish("stop")]


def test_openai_done_without_finish_reason_is_cut() -> None:
    # llama-cpp-python ends a running stream this way when another request arrives.
    events = decode("openai", sse(chunk("a"), "[DONE]"), 4)
    assert events == [TextDelta("a"), Finish(None, StopReason.CUT)]


def test_openai_stream_ending_without_done_or_finish_is_cut() -> None:
    finish = decode("openai", sse(chunk("a"), chunk("b")), 5)[-1]
    assert finish == Finish(None, StopReason.CUT)
    assert finish.missing == "a finish_reason"


def test_openai_last_event_without_blank_line_still_counts() -> None:
    body = sse(chunk("a"), chunk(finish="stop")) + b"data: [DONE]"
    assert decode("openai", body, 2)[-1] == Finish("stop")


def test_openai_error_object_in_stream_raises_with_its_kind() -> None:
    body = sse(chunk("a"), {"error": {"code": 429, "message": "slow down"}, "choices": []})
    decoder = OpenAIStreamDecoder(KEY)
    # Text in the same read as the error is delivered first; the error follows.
    assert decoder.feed(body) == [TextDelta("a")]
    with pytest.raises(ProviderError) as info:
        decoder.finish()
    assert (info.value.kind, info.value.message, info.value.status) == (
        ErrorKind.RATE_LIMITED,
        "slow down",
        429,
    )


def test_openai_usage_is_merged_not_repeated() -> None:
    body = sse(
        chunk("a", usage=None),
        chunk(finish="stop", usage={"prompt_tokens": 3, "completion_tokens": 1}),
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
        "[DONE]",
    )
    events = decode("openai", body, 1000)
    assert events == [TextDelta("a"), UsageReport(3, 1), Finish("stop")]


def test_anthropic_error_event_raises_server_error() -> None:
    body = (DATA / "anthropic_error_stream.sse").read_bytes()
    decoder = AnthropicStreamDecoder(KEY)
    events: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as info:
        for i in range(len(body)):
            events += decoder.feed(body[i : i + 1])
    assert info.value.kind is ErrorKind.SERVER
    assert info.value.message == "Overloaded"
    assert merged_text(events) == "par"  # text before the error was delivered


def test_anthropic_stream_without_message_stop_is_cut() -> None:
    body = (DATA / "anthropic_stream.sse").read_bytes()
    cut = body[: body.index(b"event: message_delta")]
    assert decode("anthropic", cut, 50)[-1] == Finish(None, StopReason.CUT)


def test_ollama_error_line_raises() -> None:
    body = b'{"message":{"content":"a"},"done":false}\n{"error":"out of memory"}\n'
    with pytest.raises(ProviderError) as info:
        decode("ollama", body, 1)
    assert (info.value.kind, info.value.message) == (ErrorKind.SERVER, "out of memory")


def test_ollama_done_reason_and_missing_done_line() -> None:
    done = b'{"message":{"content":"a"},"done":false}\n{"done":true,"done_reason":"load"}\n'
    assert decode("ollama", done, 3)[-1] == Finish("load")
    cut = decode("ollama", b'{"message":{"content":"a"},"done":false}\n', 3)
    assert cut[-1] == Finish(None, StopReason.CUT)


@pytest.mark.parametrize(
    ("kind", "body", "text", "reason"),
    [
        (
            "openai",
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None, "reasoning_content": "x"},
                        "finish_reason": "stop",
                    }
                ]
            },
            "",
            "stop",
        ),
        (
            "openai",
            {
                "choices": [{"message": {"content": [{"type": "text", "text": "parts"}]}}],
                "usage": {"prompt_tokens": 2, "completion_tokens": 1},
            },
            "parts",
            None,
        ),
        (
            "anthropic",
            {
                "type": "message",
                "content": [
                    {"type": "thinking", "thinking": "no"},
                    {"type": "text", "text": "yes"},
                ],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
            "yes",
            "end_turn",
        ),
        (
            "ollama",
            {"message": {"content": "hi", "thinking": "no"}, "done": True, "done_reason": "stop"},
            "hi",
            "stop",
        ),
    ],
)
@pytest.mark.parametrize("stream", [True, False], ids=["stream-asked", "whole-asked"])
async def test_canned_whole_json_answers(
    aiohttp_server: ServerFactory,
    http: HttpPool,
    kind: str,
    body: dict[str, Any],
    text: str,
    reason: str | None,
    stream: bool,
) -> None:
    url = await canned(aiohttp_server, json.dumps(body).encode(), content_type="application/json")
    outcome = await collect(http, spec(kind, url), make_call("m", stream=stream))
    assert outcome.text == text
    assert outcome.finish == Finish(reason)


async def test_json_without_content_type_is_sniffed(
    aiohttp_server: ServerFactory, http: HttpPool
) -> None:
    body = json.dumps({"choices": [{"message": {"content": "sniffed"}, "finish_reason": "stop"}]})
    url = await canned(aiohttp_server, body.encode(), content_type="text/plain")
    outcome = await collect(http, spec("openai", url), make_call("m"))
    assert outcome.text == "sniffed"
