"""A completion context that fits the server: stated sizes, learned sizes, one retry."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hexai_nvim.config.model import General
from hexai_nvim.engine.core import Engine
from hexai_nvim.providers import HttpPool, make_provider
from hexai_nvim.providers.base import Call, ErrorKind, Message, Request, StopReason
from hexai_nvim.surfaces.completion import fit_context
from tests.unit.test_stop_reason import engine_for, make_entry, oai, sse

ServerFactory = Callable[..., Awaitable[Any]]


def fake_llama(limit_chars: int, *, empty_stream: bool = False, props: Any = None,
               slots: Any = None) -> tuple[web.Application, list[int]]:
    """A server whose context holds ``limit_chars`` characters of messages: a larger
    prompt gets llama-cpp-python's 400 (or, streamed, its empty 200)."""
    sizes: list[int] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        size = sum(len(m["content"]) for m in body["messages"])
        sizes.append(size)
        if size > limit_chars:
            if empty_stream:
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                await response.write_eof()
                return response
            message = (f"This model's maximum context length is {limit_chars // 4} tokens. "
                       f"However, you requested {size // 4} tokens.")
            return web.json_response({"error": {"message": message, "code":
                                                "context_length_exceeded"}}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(oai("ok"), oai(finish="stop"), "[DONE]"))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    def answer(data: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            return web.json_response(data)

        return handler

    if props is not None:
        app.router.add_get("/props", answer(props))
    if slots is not None:
        app.router.add_get("/slots", answer(slots))
    return app, sizes


def builder(engine: Engine) -> Callable[[Any], Request]:
    """Like the completion host: as much context as the server is known to hold."""

    def build(entry: Any) -> Request:
        known = engine.context_tokens(entry)
        chars = 8000 if known is None else known * 2
        return Request(messages=(Message("user", "x" * chars),), max_tokens=16)

    return build


async def test_a_context_exceeded_answer_shrinks_the_context_once_and_is_remembered(
    aiohttp_server: ServerFactory,
) -> None:
    app, sizes = fake_llama(limit_chars=4000)
    server = await aiohttp_server(app)
    entry = make_entry("openai-compatible", str(server.make_url("/v1")), surface="completion")
    engine = engine_for([entry])
    try:
        [first] = await engine.fan_out([entry], builder(engine)).wait()
        # The server said 1000 tokens: asked again once, with a context that fits.
        assert first.ok and first.stop_reason is StopReason.STOP and first.stats.retries == 1
        assert sizes == [8000, 2000]
        assert engine.context_tokens(entry) == 1000
        # The next keystrokes never send the oversized context again.
        for _ in range(3):
            [again] = await engine.fan_out([entry], builder(engine)).wait()
            assert again.ok and again.stats.retries == 0
        assert sizes == [8000, 2000, 2000, 2000, 2000]
    finally:
        await engine.close()


async def test_an_empty_streamed_answer_counts_as_context_exceeded(
    aiohttp_server: ServerFactory,
) -> None:
    # llama-cpp-python answers a streamed prompt larger than its context with 200 and
    # no body at all: the context is halved and the entry asked again once.
    app, sizes = fake_llama(limit_chars=3000, empty_stream=True)
    server = await aiohttp_server(app)
    entry = make_entry("openai-compatible", str(server.make_url("/v1")), surface="completion")
    engine = engine_for([entry])
    try:
        [result] = await engine.fan_out([entry], builder(engine)).wait()
    finally:
        await engine.close()
    assert result.ok and result.text == "ok"
    assert sizes[0] == 8000 and sizes[-1] <= 3000 and len(sizes) == 2


async def test_a_context_that_never_fits_fails_once_with_its_kind(
    aiohttp_server: ServerFactory,
) -> None:
    app, sizes = fake_llama(limit_chars=10)
    server = await aiohttp_server(app)
    entry = make_entry("openai-compatible", str(server.make_url("/v1")))
    engine = engine_for([entry])
    try:
        [result] = await engine.fan_out([entry], Request(messages=(Message("user", "x" * 99),))
                                        ).wait()
    finally:
        await engine.close()
    # A fixed request cannot be rebuilt smaller: one request, a labelled failure.
    assert not result.ok and result.error is not None
    assert result.error.kind is ErrorKind.CONTEXT_LENGTH and result.error.status == 400
    assert "maximum context length is 2 tokens" in result.error.message
    assert result.stop_reason is StopReason.ERROR and len(sizes) == 1


async def test_llama_server_props_and_slots_and_ollama_show_state_the_context(
    aiohttp_server: ServerFactory,
) -> None:
    http = HttpPool()
    try:
        for props, slots, expected in (
            ({"default_generation_settings": {"n_ctx": 2048}}, None, 2048),
            (None, [{"id": 0, "n_ctx": 4096}], 4096),
            (None, None, None),  # llama-cpp-python, OpenAI: no such endpoints
        ):
            app, _ = fake_llama(100, props=props, slots=slots)
            server = await aiohttp_server(app)
            entry = make_entry("openai-compatible", str(server.make_url("/v1")))
            provider = make_provider(entry.provider, http)
            assert await provider.context_size(Call(model="m", request=Request(()))) == expected

        async def show(request: web.Request) -> web.Response:
            model = (await request.json())["model"]
            if model == "tuned":
                return web.json_response({"parameters": "num_ctx 8192\nstop \"<|im_end|>\"",
                                          "model_info": {"qwen2.context_length": 32768}})
            return web.json_response({"model_info": {"llama.context_length": 131072}})

        app = web.Application()
        app.router.add_post("/api/show", show)
        server = await aiohttp_server(app)
        entry = make_entry("ollama", str(server.make_url("/")).rstrip("/"))
        provider = make_provider(entry.provider, http)
        assert await provider.context_size(Call(model="tuned", request=Request(()))) == 8192
        assert await provider.context_size(Call(model="base", request=Request(()))) == 131072
    finally:
        await http.close()


async def test_a_completion_entry_asks_the_server_its_context_once(
    aiohttp_server: ServerFactory,
) -> None:
    app, sizes = fake_llama(limit_chars=1200, props={"default_generation_settings":
                                                     {"n_ctx": 300}})
    server = await aiohttp_server(app)
    entry = make_entry("openai-compatible", str(server.make_url("/v1")), surface="completion")
    engine = engine_for([entry])
    try:
        for _ in range(2):
            [result] = await engine.fan_out([entry], builder(engine)).wait()
            assert result.ok and result.stats.retries == 0
    finally:
        await engine.close()
    assert engine.context_tokens(entry) == 300
    assert sizes == [600, 600]  # the stated context was used from the first request on


def test_fit_context_leaves_room_for_the_answer_and_keeps_the_users_ceiling() -> None:
    general = General()
    assert general.max_context_tokens == 4000
    fitted = fit_context(general, 2048, 64)
    assert fitted is not None and fitted.max_context_tokens == int((2048 - 64 - 256) * 0.75)
    assert fit_context(general, 128_000, 64) is None  # the user's ceiling already fits
    assert fit_context(general, None, 64) is None
    tiny = fit_context(general, 100, 64)
    assert tiny is not None and tiny.max_context_tokens == 32
    assert json.dumps(fitted.max_context_tokens)
