"""Fill-in-the-middle per endpoint: exact request bodies, parsed answers, fallbacks to chat."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from hexai_nvim.config.model import ProviderSpec
from hexai_nvim.providers import HttpPool, fim, make_provider
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    FimFile,
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
from hexai_nvim.providers.infill import InfillStreamDecoder, infill_root
from hexai_nvim.sim import SimState, create_app, reply_text

ServerFactory = Callable[..., Awaitable[Any]]
PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"
SYSTEM = "You complete code."
USER = "Complete the code at the cursor."
#: Input tokens the simulator reports for a FIM body of PREFIX + SUFFIX.
FIM_IN = (len(PREFIX) + len(SUFFIX) + 3) // 4


@dataclass
class Sim:
    state: SimState
    url: str


@pytest.fixture(autouse=True)
def fresh_memory() -> Iterator[None]:
    fim.forget()
    yield
    fim.forget()


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
    return ProviderSpec(name=f"my-{kind}", kind=kind, base_url=base_url, **kw)


def fim_call(model: str, *, stream: bool = True, key: str | None = None, **prompt: Any) -> Call:
    prompt.setdefault("stop", ("\n\n",))
    prompt.setdefault("max_tokens", 64)
    return Call(
        model=model,
        request=Request(
            messages=(Message("system", SYSTEM), Message("user", USER)),
            max_tokens=256,
            temperature=0.1,
            fim=FimPrompt(prefix=PREFIX, suffix=SUFFIX, **prompt),
        ),
        stream=stream,
        api_key=key,
    )


async def collect(http: HttpPool, provider_spec: ProviderSpec, call: Call) -> list[ProviderEvent]:
    return [event async for event in make_provider(provider_spec, http).stream(call)]


def text_of(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def usage_of(events: list[ProviderEvent]) -> UsageReport | None:
    reports = [e for e in events if isinstance(e, UsageReport)]
    return reports[-1] if reports else None


# ---------------------------------------------------------------------------
# Exact request bodies, one per endpoint
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_completions_request_body_is_prompt_and_suffix(
    sim: Sim, http: HttpPool, stream: bool
) -> None:
    await collect(http, spec("openai-compatible", f"{sim.url}/v1"), fim_call("qwen", stream=stream))
    [recorded] = sim.state.requests
    assert recorded.path == "/v1/completions"
    expected: dict[str, Any] = {
        "model": "qwen", "prompt": PREFIX, "suffix": SUFFIX, "stream": stream,
        "max_tokens": 64, "temperature": 0.1, "stop": ["\n\n"],
    }
    if stream:
        expected["stream_options"] = {"include_usage": True}
    assert recorded.body == expected
    assert "Authorization" not in recorded.headers  # keyless server, no key


async def test_infill_request_body_splits_the_cursor_line_and_sends_extra_and_indent(
    sim: Sim, http: HttpPool
) -> None:
    call = fim_call("coder", indent=4, extra=(FimFile("util.py", "def sub(a, b): ...\n"),))
    await collect(http, spec("llamacpp", f"{sim.url}/v1"), call)
    [recorded] = sim.state.requests
    assert recorded.path == "/infill"  # at the root, not under /v1
    assert recorded.body == {
        "model": "coder",
        "input_prefix": "def add(a, b):\n",
        "prompt": "    return ",
        "input_suffix": SUFFIX,
        "input_extra": [{"filename": "util.py", "text": "def sub(a, b): ...\n"}],
        "n_indent": 4,
        "n_predict": 64,
        "temperature": 0.1,
        "stop": ["\n\n"],
        "stream": True,
        "cache_prompt": True,
    }


async def test_mistral_request_body_has_no_field_mistral_refuses(
    sim: Sim, http: HttpPool
) -> None:
    call = fim_call("codestral-latest", key="mistral-key-123456")
    events = await collect(http, spec("mistral", f"{sim.url}/v1"), call)
    [recorded] = sim.state.requests
    assert recorded.path == "/v1/fim/completions"
    assert recorded.body == {
        "model": "codestral-latest", "prompt": PREFIX, "suffix": SUFFIX, "stream": True,
        "max_tokens": 64, "temperature": 0.1, "stop": ["\n\n"],
    }
    assert recorded.headers["Authorization"] == "Bearer ***"
    assert text_of(events)  # the simulator answered (it refuses unknown fields with 422)


async def test_ollama_generate_request_body(sim: Sim, http: HttpPool) -> None:
    await collect(http, spec("ollama", sim.url), fim_call("qwen2.5-coder"))
    [recorded] = sim.state.requests
    assert recorded.path == "/api/generate"
    assert recorded.body == {
        "model": "qwen2.5-coder", "stream": True, "prompt": PREFIX, "suffix": SUFFIX,
        "system": SYSTEM, "options": {"temperature": 0.1, "num_predict": 64, "stop": ["\n\n"]},
    }


def test_infill_root_drops_a_trailing_v1() -> None:
    assert infill_root("http://h:8080/v1/") == "http://h:8080"
    assert infill_root("http://h:8080") == "http://h:8080"
    assert infill_root("http://h/llama/v1") == "http://h/llama"


# ---------------------------------------------------------------------------
# Parsed answers, one per endpoint (streamed and whole)
# ---------------------------------------------------------------------------

ENDPOINTS = [
    ("openai-compatible", "/v1", "/v1/completions"),
    ("llamacpp", "/v1", "/infill"),
    ("mistral", "/v1", "/v1/fim/completions"),
    ("ollama", "", "/api/generate"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(("kind", "base", "path"), ENDPOINTS)
async def test_fim_answer_text_usage_and_finish(
    sim: Sim, http: HttpPool, kind: str, base: str, path: str, stream: bool
) -> None:
    call = fim_call("coder", stream=stream, key="k-123456")
    events = await collect(http, spec(kind, sim.url + base), call)
    assert [r.path for r in sim.state.requests] == [path]
    assert text_of(events) == reply_text("coder", PREFIX + SUFFIX)
    assert events[-1] == Finish("stop")
    usage = usage_of(events)
    assert usage is not None and usage.output_tokens == 12


@pytest.mark.parametrize(("kind", "base"), [(k, b) for k, b, _ in ENDPOINTS])
async def test_fim_answer_cut_by_max_tokens_finishes_with_length(
    sim: Sim, http: HttpPool, kind: str, base: str
) -> None:
    events = await collect(http, spec(kind, sim.url + base), fim_call("coder", max_tokens=3,
                                                                        key="k-123456"))
    assert text_of(events) == reply_text("coder", PREFIX + SUFFIX, tokens=3)
    assert events[-1] == Finish("length")


def test_infill_stream_lines_are_parsed_without_done() -> None:
    decoder = InfillStreamDecoder(None)
    body = (
        b'data: {"index":0,"content":"a + ","stop":false}\n\n'
        b'data: {"index":0,"content":"b","stop":false}\n\n'
        b'data: {"index":0,"content":"","stop":true,"stop_type":"word",'
        b'"tokens_evaluated":40,"tokens_predicted":2,"timings":{"prompt_n":3}}\n\n'
    )
    events = decoder.feed(body) + decoder.finish()
    assert text_of(events) == "a + b"
    assert usage_of(events) == UsageReport(40, 2)  # whole prompt, not the uncached part
    assert events[-1] == Finish("stop")


def test_infill_stream_without_its_stop_line_is_cut() -> None:
    decoder = InfillStreamDecoder(None)
    decoder.feed(b'data: {"content":"a","stop":false}\n\ndata: [DONE]\n\n')
    [finish] = decoder.finish()
    assert isinstance(finish, Finish) and finish.stop is StopReason.CUT


# ---------------------------------------------------------------------------
# Servers that cannot fill in the middle
# ---------------------------------------------------------------------------


async def test_ollama_without_insert_falls_back_to_chat_once_then_goes_straight_to_chat(
    sim: Sim, http: HttpPool
) -> None:
    provider_spec = spec("ollama", sim.url)
    first = await collect(http, provider_spec, fim_call("llama3+nofim"))
    assert [r.path for r in sim.state.requests] == ["/api/generate", "/api/chat"]
    assert sim.state.requests[0].status == 400
    assert text_of(first) == reply_text("llama3", USER)  # the chat answer, in the same request
    # Chat gets the request's own limits, not the FIM ones.
    chat_body = sim.state.requests[1].body
    assert chat_body["options"] == {"temperature": 0.1, "num_predict": 256}
    assert chat_body["messages"][0] == {"role": "system", "content": SYSTEM}

    second = await collect(http, provider_spec, fim_call("llama3+nofim"))
    assert [r.path for r in sim.state.requests] == ["/api/generate", "/api/chat", "/api/chat"]
    assert text_of(second) == reply_text("llama3", USER)
    # Another model of the same server still gets FIM.
    await collect(http, provider_spec, fim_call("coder"))
    assert sim.state.requests[-1].path == "/api/generate"


async def test_infill_501_is_one_clear_error_then_chat(sim: Sim, http: HttpPool) -> None:
    provider_spec = spec("llamacpp", f"{sim.url}/v1")
    with pytest.raises(ProviderError) as info:
        await collect(http, provider_spec, fim_call("smollm+nofim"))
    error = info.value
    assert error.kind is ErrorKind.UNSUPPORTED and error.status == 501
    assert "llama.cpp /infill cannot fill in the middle for 'smollm+nofim'" in error.message
    assert "Infill is not supported by this model" in error.message
    assert "chat completions are used for it from now on" in error.message
    assert 'fim = "off"' in error.message and "[providers.my-llamacpp]" in error.message

    events = await collect(http, provider_spec, fim_call("smollm+nofim"))
    assert [r.path for r in sim.state.requests] == ["/infill", "/v1/chat/completions"]
    assert text_of(events) == reply_text("smollm", USER)


async def test_mistral_model_without_fim_is_one_error_then_chat(sim: Sim, http: HttpPool) -> None:
    provider_spec = spec("mistral", f"{sim.url}/v1")
    with pytest.raises(ProviderError, match="cannot fill in the middle"):
        await collect(http, provider_spec, fim_call("mistral-large+nofim", key="k-123456"))
    await collect(http, provider_spec, fim_call("mistral-large+nofim", key="k-123456"))
    assert [r.path for r in sim.state.requests] == ["/v1/fim/completions", "/v1/chat/completions"]


async def test_a_server_without_completions_endpoint_falls_back(
    aiohttp_server: ServerFactory, http: HttpPool
) -> None:
    seen: list[str] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(request.path)
        body = {"choices": [{"index": 0, "message": {"content": "a + b"}, "finish_reason": "stop"}]}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    server = await aiohttp_server(app)
    provider_spec = spec("openai-compatible", str(server.make_url("/v1")))
    with pytest.raises(ProviderError) as info:
        await collect(http, provider_spec, fim_call("m", stream=False))
    assert info.value.status == 404 and "/completions cannot fill in the middle" in str(info.value)
    events = await collect(http, provider_spec, fim_call("m", stream=False))
    assert text_of(events) == "a + b" and seen == ["/v1/chat/completions"]


async def test_other_errors_are_not_fallbacks(sim: Sim, http: HttpPool) -> None:
    provider_spec = spec("ollama", sim.url)
    with pytest.raises(ProviderError) as info:
        await collect(http, provider_spec, fim_call("coder+status=500"))
    assert info.value.status == 500
    await collect(http, provider_spec, fim_call("coder"))
    assert [r.path for r in sim.state.requests] == ["/api/generate", "/api/generate"]


async def test_fim_off_sends_chat(sim: Sim, http: HttpPool) -> None:
    await collect(http, spec("ollama", sim.url, fim="off"), fim_call("coder"))
    await collect(http, spec("llamacpp", f"{sim.url}/v1", fim="off"), fim_call("coder"))
    assert [r.path for r in sim.state.requests] == ["/api/chat", "/v1/chat/completions"]


async def test_fim_completions_mode_on_a_llamacpp_server(sim: Sim, http: HttpPool) -> None:
    await collect(http, spec("llamacpp", f"{sim.url}/v1", fim="completions"), fim_call("c"))
    assert [r.path for r in sim.state.requests] == ["/v1/completions"]


def test_simulator_completions_chunks_carry_text_not_delta() -> None:
    from hexai_nvim.sim.server import _Completions

    dialect = _Completions()
    ask = dialect.parse({"model": "m", "prompt": "a", "suffix": "b", "stream": True}, {})
    assert ask.fim and ask.prompt == "ab"
    from hexai_nvim.sim.options import SimOptions
    from hexai_nvim.sim.server import _Reply

    reply = _Reply(ask=ask, options=SimOptions(), tokens=["x"], cut_by_limit=False,
                   input_tokens=1, ident="sim-1")
    frame = dialect.token(reply, "x").decode()
    data = json.loads(frame.removeprefix("data: ").strip())
    assert data["object"] == "text_completion"
    assert data["choices"] == [{"index": 0, "text": "x", "logprobs": None, "finish_reason": None}]
