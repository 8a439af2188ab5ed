"""How every answer ended, and whose token counts it shows: each wire format through the
real provider clients and the engine, against canned HTTP bodies (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp import web

from hexai_nvim.cli.ask_cmd import result_to_json
from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine
from hexai_nvim.engine.events import ChunkEvent, Event, RestartEvent
from hexai_nvim.engine.results import EntryResult
from hexai_nvim.providers.base import Message, Request, StopReason
from hexai_nvim.surfaces.format import format_result, stop_words

ServerFactory = Callable[..., Awaitable[Any]]
REQUEST = Request(messages=(Message("user", "x" * 40),), max_tokens=50)


# -- bodies ------------------------------------------------------------------------


def sse(*items: dict[str, Any] | str, events: Sequence[str] = ()) -> bytes:
    out = b""
    for n, item in enumerate(items):
        data = item if isinstance(item, str) else json.dumps(item)
        name = f"event: {events[n]}\n" if events else ""
        out += f"{name}data: {data}\n\n".encode()
    return out


def oai(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def anthropic(*, stop: str | None, end: bool = True, usage_out: int = 3) -> bytes:
    items: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "b"}},
        {"type": "content_block_stop", "index": 0},
    ]
    if stop is not None:
        items.append({"type": "message_delta", "delta": {"stop_reason": stop},
                      "usage": {"output_tokens": usage_out}})
    if end:
        items.append({"type": "message_stop"})
    return sse(*items, events=[str(i["type"]) for i in items])


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


OLLAMA_TEXT = ({"message": {"content": "a"}, "done": False},
               {"message": {"content": "b"}, "done": False})
LLAMA_TIMINGS = {"prompt_n": 1, "cache_n": 51, "predicted_n": 2}

# (name, kind, stream, body, stop, finish_reason, (in, out), (in source, out source))
CASES: list[tuple[str, str, bool, bytes, StopReason, str | None, tuple[Any, Any],
                  tuple[str, str]]] = [
    ("openai-stop-usage", "openai-compatible", True,
     sse(oai("a"), oai("b"), oai(finish="stop"),
         {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}, "[DONE]"),
     StopReason.STOP, "stop", (9, 2), ("server", "server")),
    ("openai-length", "openai-compatible", True,
     sse(oai("a"), oai("b", finish="length"), "[DONE]"),
     StopReason.LENGTH, "length", (14, 2), ("estimate", "chunks")),
    ("openai-done-without-finish", "openai-compatible", True,
     sse(oai("a"), oai("b"), "[DONE]"),
     StopReason.CUT, None, (14, 2), ("estimate", "chunks")),
    ("openai-body-ends", "openai-compatible", True,
     sse(oai("a"), oai("b")),
     StopReason.CUT, None, (14, 2), ("estimate", "chunks")),
    ("openai-timings-only", "openai-compatible", True,
     sse(oai("a"), oai("b", finish="stop", timings=LLAMA_TIMINGS), "[DONE]"),
     StopReason.STOP, "stop", (52, 2), ("server", "server")),
    ("openai-usage-beats-timings", "openai-compatible", True,
     sse(oai("a"), oai("b", finish="stop", timings=LLAMA_TIMINGS,
                       usage={"prompt_tokens": 60, "completion_tokens": 2}), "[DONE]"),
     StopReason.STOP, "stop", (60, 2), ("server", "server")),
    ("openai-whole-length", "openai-compatible", False,
     json.dumps({"choices": [{"index": 0, "message": {"content": "ab"}, "finish_reason": "length"}],
                 "usage": {"prompt_tokens": 9, "completion_tokens": 2}}).encode(),
     StopReason.LENGTH, "length", (9, 2), ("server", "server")),
    ("openai-whole-no-usage", "openai-compatible", False,
     json.dumps({"choices": [{"index": 0, "message": {"content": "abcdefgh"},
                              "finish_reason": "stop"}]}).encode(),
     StopReason.STOP, "stop", (14, 2), ("estimate", "estimate")),
    ("anthropic-end-turn", "anthropic", True, anthropic(stop="end_turn"),
     StopReason.STOP, "end_turn", (11, 3), ("server", "server")),
    ("anthropic-max-tokens", "anthropic", True, anthropic(stop="max_tokens"),
     StopReason.LENGTH, "max_tokens", (11, 3), ("server", "server")),
    ("anthropic-no-message-stop", "anthropic", True, anthropic(stop="end_turn", end=False),
     StopReason.CUT, "end_turn", (11, 3), ("server", "server")),
    ("anthropic-nothing-after-text", "anthropic", True, anthropic(stop=None, end=False),
     StopReason.CUT, None, (11, 2), ("server", "chunks")),
    ("anthropic-whole-max-tokens", "anthropic", False,
     json.dumps({"type": "message", "content": [{"type": "text", "text": "ab"}],
                 "stop_reason": "max_tokens",
                 "usage": {"input_tokens": 11, "output_tokens": 2}}).encode(),
     StopReason.LENGTH, "max_tokens", (11, 2), ("server", "server")),
    ("ollama-stop", "ollama", True,
     ndjson(*OLLAMA_TEXT, {"done": True, "done_reason": "stop", "prompt_eval_count": 7,
                           "eval_count": 2}),
     StopReason.STOP, "stop", (7, 2), ("server", "server")),
    ("ollama-length", "ollama", True,
     ndjson(*OLLAMA_TEXT, {"done": True, "done_reason": "length", "prompt_eval_count": 7,
                           "eval_count": 2}),
     StopReason.LENGTH, "length", (7, 2), ("server", "server")),
    ("ollama-no-done", "ollama", True, ndjson(*OLLAMA_TEXT),
     StopReason.CUT, None, (14, 2), ("estimate", "chunks")),
    ("ollama-whole-length", "ollama", False,
     ndjson({"message": {"content": "ab"}, "done": True, "done_reason": "length",
             "prompt_eval_count": 7, "eval_count": 2}),
     StopReason.LENGTH, "length", (7, 2), ("server", "server")),
]


# -- plumbing ----------------------------------------------------------------------


async def serve(aiohttp_server: ServerFactory, *bodies: bytes, stall_s: float = 0.0,
                content_type: str = "text/event-stream", status: int = 200) -> Any:
    """A server answering the n-th POST with ``bodies[n]`` (the last repeats)."""
    served: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        body = bodies[min(len(served), len(bodies) - 1)]
        served.append(1)
        response = web.StreamResponse(status=status)
        response.headers["Content-Type"] = content_type
        await response.prepare(request)
        for line in body.split(b"\n\n" if b"data:" in body else b"\n"):
            if line:
                await response.write(line + (b"\n\n" if b"data:" in body else b"\n"))
                await asyncio.sleep(0.01)
        if stall_s:
            await asyncio.sleep(stall_s)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    server.served = served
    return server


def make_entry(kind: str, url: str, *, stream: bool = True, index: int = 0,
               timeout_ms: int = 10_000, name: str = "p", surface: str = "ask") -> Entry:
    spec = ProviderSpec(name=name, kind=kind, base_url=url, api_key_env=())
    return Entry(surface=surface, index=index, provider=spec, model="m", temperature=0,
                 label=f"{name}:{index}", max_tokens=50, timeout_ms=timeout_ms, stream=stream)


def engine_for(entries: Sequence[Entry]) -> Engine:
    config = Config(
        general=General(), completion=CompletionSettings(), engine=EngineSettings(),
        providers=MappingProxyType({e.provider.name: e.provider for e in entries}),
        models=MappingProxyType({"ask": tuple(entries)}),
    )
    return Engine(config, key_resolver=lambda spec, env: _NoKey())


class _NoKey:
    value = "sk-unit"
    source = "test"


def url_for(server: Any, kind: str) -> str:
    root = str(server.make_url("/")).rstrip("/")
    return root if kind == "ollama" else f"{root}/v1"


async def run(entries: Sequence[Entry]) -> tuple[list[EntryResult], list[Event]]:
    engine = engine_for(entries)
    try:
        fan = engine.fan_out(entries, REQUEST)
        events = [e async for e in fan]
        return await fan.wait(), events
    finally:
        await engine.close()


# -- every stop reason and usage shape, per wire format -----------------------------------


@pytest.mark.parametrize(("name", "kind", "stream", "body", "stop", "finish", "counts", "sources"),
                         CASES, ids=[c[0] for c in CASES])
async def test_each_wire_format_says_how_it_ended_and_whose_counts_it_shows(
    aiohttp_server: ServerFactory, name: str, kind: str, stream: bool, body: bytes,
    stop: StopReason, finish: str | None, counts: tuple[int, int], sources: tuple[str, str],
) -> None:
    content_type = "text/event-stream" if stream else "application/json"
    if kind == "ollama":
        content_type = "application/x-ndjson"
    server = await serve(aiohttp_server, body, content_type=content_type)
    [result], _ = await run([make_entry(kind, url_for(server, kind), stream=stream)])

    assert result.stop_reason is stop
    assert result.finish_reason == finish
    stats = result.stats
    assert (stats.input_tokens, stats.output_tokens) == counts
    assert (stats.input_source, stats.output_source) == sources
    assert stats.tokens_estimated is (sources != ("server", "server"))
    assert result.text in ("ab", "abcdefgh")
    if stop is StopReason.CUT:
        # A cut answer is never done: a failure whose text is kept, said in words.
        assert not result.ok and result.truncated and stats.status == "truncated"
        assert result.error is not None and "(cut)" in result.error.message
        assert stop_words(result).startswith("cut short by the server at ")
        assert format_result(result).startswith("cut short by the server")
    else:
        assert result.ok and not result.truncated and stats.status == "ok"
    if stop is StopReason.LENGTH:
        mark = "~" if stats.tokens_estimated else ""
        assert stop_words(result) == f"cut at {mark}{counts[1]} tokens (token limit)"
    as_json = result_to_json(result)
    assert (as_json["stop_reason"], as_json["finish_reason"]) == (stop.value, finish)
    assert as_json["stats"]["output_source"] == sources[1]


async def test_timeout_cancelled_and_error_have_their_own_stop_reasons(
    aiohttp_server: ServerFactory,
) -> None:
    slow = await serve(aiohttp_server, sse(oai("a")), stall_s=30)
    failing = await serve(aiohttp_server, b'{"error": {"message": "boom"}}',
                          content_type="application/json", status=500)
    entries = [
        make_entry("openai-compatible", url_for(slow, "openai"), timeout_ms=400, index=0,
                   name="slow"),
        make_entry("openai-compatible", url_for(failing, "openai"), index=1, name="failing"),
    ]
    (timed_out, failed), _ = await run(entries)
    assert timed_out.stop_reason is StopReason.TIMEOUT and timed_out.text == "a"
    assert stop_words(timed_out).startswith("timed out at ")
    assert failed.stop_reason is StopReason.ERROR and stop_words(failed) == "failed"

    engine = engine_for(entries[:1])
    fan = engine.fan_out(entries[:1], REQUEST)
    await asyncio.sleep(0.2)
    fan.cancel()
    [cancelled] = await fan.wait()
    await engine.close()
    assert cancelled.stop_reason is StopReason.CANCELLED and not cancelled.ok


# -- single-slot servers: a cut answer is asked again ------------------------------------


async def test_a_cut_answer_is_asked_again_once_the_server_is_free(
    aiohttp_server: ServerFactory,
) -> None:
    # The first answer is cut the way llama-cpp-python cuts it; the second is whole.
    cut_then_whole = await serve(aiohttp_server, sse(oai("x"), "[DONE]"),
                                 sse(oai("a"), oai("b", finish="stop"), "[DONE]"))
    [result], events = await run([make_entry("openai-compatible",
                                             url_for(cut_then_whole, "openai"))])
    assert result.ok and result.stop_reason is StopReason.STOP
    assert result.text == "ab" and result.stats.retries == 1
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("RestartEvent") < max(i for i, k in enumerate(kinds) if k == "ChunkEvent")
    restart = next(e for e in events if isinstance(e, RestartEvent))
    assert "(cut)" in restart.reason
    assert [e.text for e in events if isinstance(e, ChunkEvent)] == ["x", "a", "b"]
    assert len(cut_then_whole.served) == 2


async def test_a_cut_answer_waits_for_the_other_request_on_its_server(
    aiohttp_server: ServerFactory,
) -> None:
    order: list[str] = []
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state["n"] += 1
        n = state["n"]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if body["messages"][0]["content"] == "slow" or n > 2:
            order.append(f"start {n}")
            for word in ("a", "b", "c"):
                await response.write(sse(oai(word)))
                await asyncio.sleep(0.1)
            await response.write(sse(oai(finish="stop"), "[DONE]"))
            order.append(f"end {n}")
        else:
            order.append(f"cut {n}")
            await response.write(sse("[DONE]"))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = await aiohttp_server(app)
    url = url_for(server, "openai")
    entries = [make_entry("openai-compatible", url, index=0, name="a"),
               make_entry("openai-compatible", url, index=1, name="b")]
    engine = engine_for(entries)
    requests = {0: Request(messages=(Message("user", "fast"),)),
                1: Request(messages=(Message("user", "slow"),))}
    fan = engine.fan_out(entries, lambda e: requests[e.index])
    results = await fan.wait()
    await engine.close()
    assert [r.stop_reason for r in results] == [StopReason.STOP, StopReason.STOP]
    assert results[0].text == "abc" and results[0].stats.retries == 1
    # The retry started only after the other request had ended.
    [slow_end] = [step for step in order if step in ("end 1", "end 2")]
    assert order.index(slow_end) < order.index("start 3"), order


async def test_an_answer_cut_twice_is_reported_cut(aiohttp_server: ServerFactory) -> None:
    always_cut = await serve(aiohttp_server, sse(oai("x"), "[DONE]"))
    [result], _ = await run([make_entry("openai-compatible", url_for(always_cut, "openai"))])
    assert result.stop_reason is StopReason.CUT and not result.ok
    assert result.stats.retries == 1 and len(always_cut.served) == 2
    assert result.text == "x"
