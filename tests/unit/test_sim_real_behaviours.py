"""The simulator behaves like the real servers where they surprise: a single slot that
cuts a running stream, no usage in streams, a context limit, a prompt cache."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hexai_nvim.providers.base import ErrorKind, Message, Request, StopReason
from hexai_nvim.sim import SimState, create_app
from tests.unit.test_stop_reason import engine_for, make_entry

ServerFactory = Callable[..., Awaitable[Any]]
REQUEST = Request(messages=(Message("user", "tell me " * 20),), max_tokens=16)


@pytest.fixture
async def sim(aiohttp_server: ServerFactory) -> Any:
    return await aiohttp_server(create_app(SimState()))


def oai_url(sim: Any) -> str:
    return str(sim.make_url("/v1"))


async def raw_stream(url: str, model: str, content: str = "hi", **body: Any) -> list[Any]:
    """The data items of one streamed chat answer, as sent."""
    payload = {"model": model, "messages": [{"role": "user", "content": content}],
               "stream": True, "stream_options": {"include_usage": True}, **body}
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/chat/completions", json=payload) as resp:
        text = (await resp.read()).decode()
    items = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return [item if item == "[DONE]" else json.loads(item) for item in items]


async def test_single_slot_cuts_a_running_stream_like_llama_cpp_python(sim: Any) -> None:
    model = "slot+single_slot+tokens=40+tps=200"
    entries = [make_entry("openai-compatible", oai_url(sim), index=i, name=f"e{i}")
               for i in range(2)]
    entries = [e.__class__(**{**e.__dict__, "model": model}) for e in entries]
    engine = engine_for(entries)
    try:
        results = await engine.fan_out(entries, REQUEST).wait()
    finally:
        await engine.close()
    # One stream was cut ([DONE], no finish_reason) and asked again once the slot was free.
    assert [r.stop_reason for r in results] == [StopReason.LENGTH, StopReason.LENGTH]
    assert sorted(r.stats.retries for r in results) == [0, 1]
    assert results[0].text == results[1].text


async def test_usage_nostream_sends_usage_only_in_whole_answers(sim: Any) -> None:
    items = await raw_stream(oai_url(sim), "m+usage=nostream")
    assert items[-1] == "[DONE]"
    assert not any(isinstance(i, dict) and i.get("usage") for i in items)
    entry = make_entry("openai-compatible", oai_url(sim))
    entry = entry.__class__(**{**entry.__dict__, "model": "m+usage=nostream+tokens=9"})
    whole = entry.__class__(**{**entry.__dict__, "stream": False, "index": 1})
    engine = engine_for([entry, whole])
    try:
        streamed, answered = await engine.fan_out([entry, whole], REQUEST).wait()
    finally:
        await engine.close()
    assert (streamed.stats.output_tokens, streamed.stats.output_source) == (9, "chunks")
    assert (answered.stats.output_tokens, answered.stats.output_source) == (9, "server")


@pytest.mark.parametrize(("kind", "model", "stream", "status", "needle", "limit"), [
    ("openai-compatible", "m+context=50", False, 400, "maximum context length is 50", 50),
    ("openai-compatible", "m+context=50", True, 200, "empty answer", None),
    ("openai-compatible", "m+context=50+llama_server", True, 400,
     "exceeds the available context size", 50),
    ("anthropic", "m+context=50", True, 400, "prompt is too long", 50),
])
async def test_a_context_limit_is_answered_like_each_real_server(
    sim: Any, kind: str, model: str, stream: bool, status: int, needle: str,
    limit: int | None,
) -> None:
    entry = make_entry(kind, oai_url(sim), stream=stream)
    entry = entry.__class__(**{**entry.__dict__, "model": model})
    engine = engine_for([entry])
    try:
        [result] = await engine.fan_out([entry], REQUEST).wait()
    finally:
        await engine.close()
    assert result.error is not None and result.error.kind is ErrorKind.CONTEXT_LENGTH
    assert needle in result.error.message and result.stats.http_status == status
    assert engine.context_tokens(entry) == (limit or engine.context_tokens(entry))


async def test_ollama_cuts_a_prompt_larger_than_its_context_and_answers(sim: Any) -> None:
    url = str(sim.make_url("/")).rstrip("/")
    entry = make_entry("ollama", url)
    entry = entry.__class__(**{**entry.__dict__, "model": "m+context=40"})
    engine = engine_for([entry])
    try:
        [result] = await engine.fan_out([entry], REQUEST).wait()
    finally:
        await engine.close()
    assert result.ok and result.stats.input_tokens == 40 - 16


async def test_llama_timings_model_the_prompt_cache(sim: Any) -> None:
    first = await raw_stream(oai_url(sim), "m+usage=timings", content="same prompt " * 10)
    second = await raw_stream(oai_url(sim), "m+usage=timings", content="same prompt " * 10)
    t1 = next(i["timings"] for i in first if isinstance(i, dict) and "timings" in i)
    t2 = next(i["timings"] for i in second if isinstance(i, dict) and "timings" in i)
    assert t1["cache_n"] == 0 and t2["cache_n"] > 0
    assert t1["prompt_n"] + t1["cache_n"] == t2["prompt_n"] + t2["cache_n"]
    assert t2["prompt_n"] < t1["prompt_n"]  # what overwrote usage before: 52, then 1
    entry = make_entry("openai-compatible", oai_url(sim))
    entry = entry.__class__(**{**entry.__dict__, "model": "m+usage=timings"})
    engine = engine_for([entry])
    try:
        counts = [(await engine.fan_out([entry], REQUEST).wait())[0].stats.input_tokens
                  for _ in range(2)]
    finally:
        await engine.close()
    assert counts[0] == counts[1]  # prompt_n + cache_n: the whole prompt, both times


async def test_max_tokens_cut_says_length(sim: Any) -> None:
    items = await raw_stream(oai_url(sim), "m+tokens=30", max_tokens=5)
    reasons = [c["choices"][0]["finish_reason"] for c in items
               if isinstance(c, dict) and c.get("choices")]
    assert reasons[-1] == "length"
