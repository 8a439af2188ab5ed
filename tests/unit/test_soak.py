"""Soak: 500 fan-outs of 4 entries against the simulator leave nothing behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

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
from hexai_nvim.providers.base import Message, Request
from hexai_nvim.sim import SimState
from hexai_nvim.sim.thread import SimThread

FAN_OUTS = 500
ENTRIES = 4


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def sockets() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:  # closed between listdir and readlink
            pass
    return count


@pytest.fixture
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=10.0)) as running:
        yield running


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count fds")
async def test_500_fan_outs_leave_no_sockets_or_tasks(sim: SimThread, tmp_path: Any) -> None:
    specs = [
        ProviderSpec(name="oai", kind="openai-compatible", base_url=f"{sim.url}/v1"),
        ProviderSpec(name="anth", kind="anthropic", base_url=f"{sim.url}/v1", api_key_env=("K",)),
        ProviderSpec(name="olla", kind="ollama", base_url=sim.url),
    ]
    entries = tuple(
        Entry(
            surface="ask",
            index=i,
            provider=specs[i % len(specs)],
            # every 4th entry fails (a 500), so error paths are soaked too
            model=f"m{i}" + ("+status=500" if i == 3 else ""),
            temperature=0.2,
            label=f"e{i}",
            max_tokens=32,
            timeout_ms=5000,
            stream=True,
        )
        for i in range(ENTRIES)
    )
    config = Config(
        general=General(),
        completion=CompletionSettings(),
        engine=EngineSettings(retries=0),
        providers=MappingProxyType({s.name: s for s in specs}),
        models=MappingProxyType({"ask": entries}),
    )
    request = Request(messages=(Message("user", "soak"),), max_tokens=32)
    from hexai_nvim.stats import StatsStore

    store = StatsStore(tmp_path / "stats.jsonl", 60)
    fds_before, sockets_before = open_fds(), sockets()

    engine = Engine(config, env={"K": "soak-key"}, stats=store)
    ok = failed = 0
    for n in range(FAN_OUTS):
        fan = engine.fan_out(entries, request)
        if n % 50 == 25:
            # now and then a fan-out is cancelled half way
            await asyncio.sleep(0)
            fan.cancel()
        for result in await fan.wait():
            if result.ok:
                ok += 1
            else:
                failed += 1
    # Pooling: while the engine lives, the keep-alive connections stay few
    # (client and server end of each in this process), not one per request.
    assert 0 < sockets() - sockets_before <= 4 * ENTRIES
    # Hold the pool: sockets must close because close() closes them, not
    # because a forgotten session was garbage-collected.
    pool = engine._http
    assert pool is not None
    await engine.close()

    assert ok >= (FAN_OUTS - FAN_OUTS // 50) * 3
    assert failed >= FAN_OUTS - FAN_OUTS // 50
    assert not {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    # The simulator's end of each connection closes once it sees ours close.
    assert await sim.state.async_wait_for(lambda s: s.active == 0)
    for _ in range(100):
        if sockets() <= sockets_before and open_fds() <= fds_before:
            break
        await asyncio.sleep(0.02)
    assert sockets() <= sockets_before
    assert open_fds() <= fds_before
    assert len(store.read()) == FAN_OUTS * ENTRIES
    del pool
