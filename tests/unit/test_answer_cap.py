"""Streamed answers have a size cap: an endless stream ends labelled, its text kept
up to the cap and marked truncated, and memory stays bounded."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
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
from hexai_nvim.engine.results import EntryResult
from hexai_nvim.providers.base import ErrorKind, Message, Request
from hexai_nvim.sim import SimState
from hexai_nvim.sim.thread import SimThread

REQUEST = Request(messages=(Message("user", "go on"),), max_tokens=100)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=20.0)) as running:
        yield running


def entry_for(sim: SimThread, surface: str, kind: str = "openai-compatible",
              **kw: object) -> Entry:
    base = sim.url + ("" if kind == "ollama" else "/v1")
    spec = ProviderSpec(name="sim", kind=kind, base_url=base, api_key_env=("SIM_KEY",))
    fields: dict[str, object] = dict(
        surface=surface, index=0, provider=spec, model="x+fault=endless", temperature=0.0,
        label="sim", max_tokens=100, timeout_ms=20_000, stream=True,
    )
    fields.update(kw)
    return Entry(**fields)  # type: ignore[arg-type]


async def run(entry: Entry, engine_settings: EngineSettings | None = None) -> EntryResult:
    config = Config(general=General(), completion=CompletionSettings(),
                    engine=engine_settings or EngineSettings(),
                    providers=MappingProxyType({"sim": entry.provider}),
                    models=MappingProxyType({entry.surface: (entry,)}))
    engine = Engine(config, env={"SIM_KEY": "sk-sim-cap-0123456789"})
    try:
        (result,) = await engine.fan_out([entry], REQUEST).wait()
    finally:
        await engine.close()
    return result


async def test_an_endless_stream_ends_at_the_ask_cap_with_bounded_memory(
    sim: SimThread,
) -> None:
    # The case: timeout_ms = 4000 let ~950 million characters (3.7 GB) pile up.
    entry = entry_for(sim, "ask", timeout_ms=4000)
    tracemalloc.start()
    try:
        result = await run(entry)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"endless stream, ask cap 4 MiB: traced memory peak {peak / MIB:.1f} MiB")
    assert result.error is not None
    assert result.truncated and result.stats.status == "truncated"
    size = len(result.text.encode())
    if result.error.kind is ErrorKind.BAD_RESPONSE:  # the cap (the usual case)
        assert "answer larger than 4096 KiB" in result.error.message
        assert size == 4 * MIB
    else:  # a very slow machine reaches the 4 s deadline first: still labelled
        assert result.error.kind is ErrorKind.TIMEOUT and size <= 4 * MIB
    assert peak < 64 * MIB, f"peak {peak / MIB:.1f} MiB"


async def test_completion_has_its_own_smaller_cap(sim: SimThread) -> None:
    result = await run(entry_for(sim, "completion"))
    assert result.error is not None and result.error.kind is ErrorKind.BAD_RESPONSE
    assert "answer larger than 256 KiB" in result.error.message
    assert "max_answer_bytes_completion" in result.error.message
    assert len(result.text.encode()) == 256 * 1024 and result.truncated


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
async def test_an_entry_s_own_cap_wins_in_every_wire_format(sim: SimThread, kind: str) -> None:
    entry = entry_for(sim, "ask", kind, max_answer_bytes=10_000)
    result = await run(entry)
    assert result.error is not None and "answer larger than 10000 bytes" in result.error.message
    assert len(result.text.encode()) == 10_000
    assert result.text.startswith("endless endless")


async def test_the_engine_caps_are_configurable(sim: SimThread) -> None:
    settings = replace(EngineSettings(), max_answer_bytes=8192)
    result = await run(entry_for(sim, "code_action"), settings)
    assert result.error is not None and "answer larger than 8 KiB" in result.error.message
    assert len(result.text.encode()) == 8192


async def test_an_endless_whole_json_answer_is_bounded_too(sim: SimThread) -> None:
    result = await run(entry_for(sim, "ask", stream=False, timeout_ms=20_000))
    assert result.error is not None and result.error.kind is ErrorKind.BAD_RESPONSE
    assert "larger than" in result.error.message


def test_caps_are_read_from_the_config(tmp_path: object) -> None:
    from pathlib import Path

    from hexai_nvim.config import load_config

    root = Path(str(tmp_path))
    path = root / "config.toml"
    path.write_text(
        "[engine]\nmax_answer_bytes = 65536\nmax_answer_bytes_completion = 4096\n"
        '[[models.ask]]\nprovider = "ollama"\nmodel = "a"\nmax_answer_bytes = 2048\n'
        '[[models.ask]]\nprovider = "ollama"\nmodel = "b"\n'
        '[[models.completion]]\nprovider = "ollama"\nmodel = "c"\n'
    )
    config = load_config(str(path), cwd=str(root), env={})
    first, second = config.entries("ask")
    (completion,) = config.entries("completion")
    assert [config.engine.answer_cap(e) for e in (first, second, completion)] == [
        2048, 65536, 4096]
