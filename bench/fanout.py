#!/usr/bin/env python3
"""Fan-out benchmark: is the engine parallel, and what does it cost per request?

Run from the repository root with the venv's Python (``make bench`` does)::

    .venv/bin/python bench/fanout.py [--rounds 7] [--requests 400]

It starts its own simulator (``hexai sim``) on 127.0.0.1 in a child process,
so client and server do not share a GIL, and stops it at the end (the child
also exits by itself after a while if this script dies). Nothing else is
contacted. Prints:

(a) the wall time of a fan-out of 4 entries whose simulated time to first
    token is 100/200/300/400 ms, divided by the time of the slowest entry
    asked alone (goal <= 1.05; one after another would be 2.5);
(b) the engine's overhead per request with an instant answer (ttft 0): the
    p50/p95 time of a one-entry fan-out minus that of a bare aiohttp request
    sending the same body to the same endpoint in the same run, the two
    interleaved (goal: within 1 ms at p50). The engine runs as shipped:
    stats are written (to a temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

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
from hexai_nvim.stats import StatsStore

PROMPT = "write a small function"
REQUEST = Request(messages=(Message("user", PROMPT),), max_tokens=64, temperature=0.2)


def start_sim() -> tuple[subprocess.Popen[str], str]:
    """``hexai sim`` on a free loopback port; returns the process and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexai_nvim", "sim", "--port", "0", "--exit-after", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    prefix = "hexai sim listening on "
    if not line.startswith(prefix):
        proc.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return proc, line[len(prefix) :]


def stop_sim(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_entry(spec: ProviderSpec, model: str, index: int) -> Entry:
    return Entry(
        surface="ask",
        index=index,
        provider=spec,
        model=model,
        temperature=0.2,
        label=f"{spec.name}:{model}",
        max_tokens=64,
        timeout_ms=30_000,
        stream=True,
    )


def make_config(spec: ProviderSpec, entries: tuple[Entry, ...]) -> Config:
    return Config(
        general=General(),
        completion=CompletionSettings(),
        engine=EngineSettings(),
        providers=MappingProxyType({spec.name: spec}),
        models=MappingProxyType({"ask": entries}),
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def parallel(engine: Engine, spec: ProviderSpec, rounds: int) -> None:
    entries = tuple(make_entry(spec, f"p{i}+ttft={100 * (i + 1)}", i) for i in range(4))
    slowest = (entries[-1],)
    await engine.fan_out(entries, REQUEST).wait()  # warm: connections, imports
    walls: list[float] = []
    alone: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        results = await engine.fan_out(entries, REQUEST).wait()
        walls.append((time.perf_counter() - start) * 1000)
        assert all(r.ok for r in results), [r.error for r in results]
        start = time.perf_counter()
        (result,) = await engine.fan_out(slowest, REQUEST).wait()
        alone.append((time.perf_counter() - start) * 1000)
        assert result.ok, result.error
    wall, solo = statistics.median(walls), statistics.median(alone)
    ratio = wall / solo
    print(f"(a) parallel fan-out: 4 entries, ttft 100/200/300/400 ms, {rounds} rounds (medians)")
    print(f"    fan-out wall        {wall:8.1f} ms")
    print(f"    slowest entry alone {solo:8.1f} ms")
    verdict = "met" if ratio <= 1.05 else "MISSED"
    print(f"    ratio               {ratio:8.3f}   (goal <= 1.05: {verdict}; sequential ~2.5)")


async def overhead(engine: Engine, spec: ProviderSpec, base_url: str, requests: int) -> None:
    import aiohttp

    model = "zero"
    entries = (make_entry(spec, model, 0),)
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": 64,
            "temperature": 0.2,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    url = f"{base_url}/v1/chat/completions"
    headers = {"Content-Type": "application/json"}
    bare_times: list[float] = []
    engine_times: list[float] = []
    connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=30.0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def bare() -> None:
            async with session.post(url, data=body, headers=headers) as resp:
                resp.raise_for_status()
                while await resp.content.readany():
                    pass

        for _ in range(20):  # warm both paths
            await bare()
            await engine.fan_out(entries, REQUEST).wait()
        for i in range(requests):
            # Alternate which goes first, so neither always runs on a warmer loop.
            order = ("bare", "engine") if i % 2 == 0 else ("engine", "bare")
            for which in order:
                start = time.perf_counter()
                if which == "bare":
                    await bare()
                    bare_times.append((time.perf_counter() - start) * 1000)
                else:
                    (result,) = await engine.fan_out(entries, REQUEST).wait()
                    engine_times.append((time.perf_counter() - start) * 1000)
                    assert result.ok, result.error
    b50, b95 = pct(bare_times, 50), pct(bare_times, 95)
    e50, e95 = pct(engine_times, 50), pct(engine_times, 95)
    print(f"(b) overhead per request, ttft 0, {requests} requests each, interleaved")
    print(f"    bare aiohttp   p50 {b50:6.3f} ms   p95 {b95:6.3f} ms")
    print(f"    engine         p50 {e50:6.3f} ms   p95 {e95:6.3f} ms")
    verdict = "met" if e50 - b50 <= 1.0 else "MISSED"
    print(
        f"    overhead       p50 {e50 - b50:+6.3f} ms   p95 {e95 - b95:+6.3f} ms"
        f"   (goal <= 1 ms at p50: {verdict})"
    )


async def run(base_url: str, rounds: int, requests: int, stats_dir: Path) -> None:
    spec = ProviderSpec(name="sim", kind="openai-compatible", base_url=f"{base_url}/v1")
    config = make_config(spec, ())
    engine = Engine(config, stats=StatsStore(stats_dir / "nvim-stats.jsonl", 60))
    try:
        await engine.warm_up([make_entry(spec, "warm", 0)])
        await parallel(engine, spec, rounds)
        print()
        await overhead(engine, spec, base_url, requests)
    finally:
        await engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="fan-outs for (a)")
    parser.add_argument("--requests", type=int, default=400, help="requests per path for (b)")
    args = parser.parse_args(argv)
    import aiohttp

    proc, base_url = start_sim()
    try:
        print(
            f"hexai.nvim fan-out benchmark: simulator at {base_url}, Python "
            f"{platform.python_version()}, aiohttp {aiohttp.__version__}, "
            f"{os.cpu_count()} CPUs\n"
        )
        with tempfile.TemporaryDirectory(prefix="hexai-bench-") as tmp:
            asyncio.run(run(base_url, args.rounds, args.requests, Path(tmp)))
    finally:
        stop_sim(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
