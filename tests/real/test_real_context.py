"""A context larger than the real server's (2048 tokens) fails once, is shrunk, and fits
from then on: llama-cpp-python's 400 for a whole request, its empty 200 for a stream."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from types import MappingProxyType

import pytest

from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine
from hexai_nvim.providers.base import ErrorKind, Message, Request
from tests.llama_server import LlamaServer


def entry(server: LlamaServer, stream: bool) -> Entry:
    spec = ProviderSpec(name="local", kind="openai-compatible", base_url=server.base_url,
                        api_key_env=(), max_concurrency=1)
    return Entry(surface="completion", index=0, provider=spec, model=server.model,
                 temperature=0, label="local", max_tokens=4, timeout_ms=300_000, stream=stream)


def build(engine: Engine):  # type: ignore[no-untyped-def]
    """Like the completion host: words for as many tokens as the server is known to hold."""

    def request_for(one: Entry) -> Request:
        known = engine.context_tokens(one)
        words = 2500 if known is None else known // 8
        return Request(messages=(Message("user", "word " * words),), max_tokens=4)

    return request_for


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_context_too_large_for_the_real_server_is_shrunk_once_and_remembered(
    llama_server_factory: Callable[..., LlamaServer], stream: bool
) -> None:
    # A server of its own: the session's shared one may still be working on a stream
    # an earlier test dropped (llama-cpp-python finishes it), and its single slot then
    # answers this test's requests with empty streams that are not about the context
    # (this test failed only inside the full suite, 1 run in 3 at the end).
    llama_server = llama_server_factory()
    one = entry(llama_server, stream)
    config = Config(general=General(), completion=CompletionSettings(), engine=EngineSettings(),
                    providers=MappingProxyType({"local": one.provider}),
                    models=MappingProxyType({"completion": (one,)}))

    async def go() -> None:
        engine = Engine(config)
        try:
            [first] = await engine.fan_out([one], build(engine)).wait()
            assert first.ok, first.error
            assert first.stats.retries == 1  # one failed request, then one that fits
            known = engine.context_tokens(one)
            if not stream:  # the 400 names the context: "maximum context length is 2048"
                assert known == llama_server.n_ctx
            assert known is not None and known <= llama_server.n_ctx
            [second] = await engine.fan_out([one], build(engine)).wait()
            assert second.ok and second.stats.retries == 0  # not again on the next keystroke
            # A request that cannot be rebuilt says what happened, in its own words.
            too_big = dataclasses.replace(one, surface="ask")
            [fixed] = await engine.fan_out(
                [too_big], Request(messages=(Message("user", "word " * 2500),), max_tokens=4)
            ).wait()
            assert fixed.error is not None and fixed.error.kind is ErrorKind.CONTEXT_LENGTH
        finally:
            await engine.close()

    asyncio.run(go())
