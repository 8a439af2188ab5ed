"""The JSONL stats store and its summaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from hexai_nvim.cli.stats_cmd import format_table
from hexai_nvim.providers.base import StopReason
from hexai_nvim.stats import (
    PRUNE_INTERVAL_S,
    StatsRecord,
    StatsStore,
    default_stats_path,
    percentile,
    summarize,
)

BASE = StatsRecord(
    ts=0.0,
    surface="ask",
    provider="openai",
    model="m",
    label="openai:m",
    status="ok",
    error_kind=None,
    queued_ms=0.0,
    ttft_ms=100.0,
    total_ms=1000.0,
    input_tokens=10,
    output_tokens=20,
    tokens_estimated=False,
    tokens_per_s=20.0,
    bytes_sent=100,
    bytes_received=200,
)


def rec(**changes: object) -> StatsRecord:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def test_default_path_follows_xdg_cache_home(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert default_stats_path(env) == tmp_path / "hexai" / "nvim-stats.jsonl"
    fallback = default_stats_path({"XDG_CACHE_HOME": "relative/dir"})
    assert fallback == Path.home() / ".cache" / "hexai" / "nvim-stats.jsonl"
    assert default_stats_path({}) == fallback


def test_append_and_read_keep_the_window_and_skip_garbage(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "stats.jsonl"
    store = StatsStore(path, window_minutes=10)
    now = 1_000_000.0
    store.append(rec(ts=now - 11 * 60, model="old"))
    store.append(rec(ts=now - 60, model="new"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('not json\n[1, 2]\n{"ts": 1}\n\n')
    records = store.read(now=now)
    assert [r.model for r in records] == ["new"]
    assert records[0] == rec(ts=now - 60, model="new")
    assert [r.model for r in store.read(now=now, window_minutes=20)] == ["old", "new"]


def test_reading_a_missing_file_is_empty(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "none.jsonl")
    assert store.read() == []
    assert store.prune() == 0


def test_prune_drops_old_and_unreadable_lines(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    store = StatsStore(path, window_minutes=5)
    now = 2_000_000.0
    for age_min in (30, 10, 4, 1):
        store.append(rec(ts=now - age_min * 60, model=f"age{age_min}"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("garbage\n")
    assert store.prune(now=now) == 3
    assert [r.model for r in store.read(now=now, window_minutes=999)] == ["age4", "age1"]
    assert store.prune(now=now) == 0
    assert path.stat().st_mode & 0o777 == 0o600


def test_prune_is_due_first_and_then_every_interval(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "s.jsonl")
    assert store.prune_due(now=100.0)
    assert not store.prune_due(now=101.0)
    assert store.prune_due(now=100.0 + PRUNE_INTERVAL_S)


def test_concurrent_appends_survive_concurrent_prunes(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    now = time.time()
    writers = 4
    per_writer = 150

    def write(n: int) -> None:
        store = StatsStore(path, window_minutes=60)
        for i in range(per_writer):
            store.append(rec(ts=now, model=f"w{n}-{i}"))

    def prune(stop: threading.Event) -> None:
        store = StatsStore(path, window_minutes=60)
        old = rec(ts=now - 7200, model="old")
        while not stop.is_set():
            store.append(old)  # something to drop, so every prune rewrites the file
            store.prune()

    stop = threading.Event()
    pruner = threading.Thread(target=prune, args=(stop,))
    pruner.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    pruner.join()
    models = {r.model for r in StatsStore(path, 60).read()}
    expected = {f"w{n}-{i}" for n in range(writers) for i in range(per_writer)}
    assert expected <= models


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_summarize_per_provider_model() -> None:
    records = [
        rec(total_ms=100.0, ttft_ms=10.0, tokens_per_s=10.0),
        rec(total_ms=300.0, ttft_ms=30.0, tokens_per_s=30.0),
        rec(total_ms=200.0, ttft_ms=20.0, tokens_per_s=20.0),
        rec(status="error", error_kind="auth", total_ms=5.0, ttft_ms=None, tokens_per_s=None),
        rec(provider="ollama", model="q", label="ollama:q", status="truncated", total_ms=9.0),
    ]
    first, second = summarize(records)
    assert first.key == "openai:m"
    assert (first.requests, first.errors) == (4, 1)
    assert (first.p50_ms, first.p95_ms) == (200.0, 300.0)
    assert (first.p50_ttft_ms, first.p95_ttft_ms) == (20.0, 30.0)
    assert first.tokens_per_s == 20.0
    assert second.key == "ollama:q"
    assert (second.requests, second.errors, second.p50_ms) == (1, 1, None)
    table = format_table([first, second], 60)
    assert "openai:m" in table and "ollama:q" in table
    row = next(line for line in table.splitlines() if line.startswith("openai:m"))
    assert row.split() == ["openai:m", "4", "1", "0", "200", "300", "20", "30", "20.0"]
    assert format_table([], 15) == "no requests in the last 15 min"


def test_cancelled_requests_are_counted_apart_from_errors() -> None:
    records = [
        rec(label="slow"),
        *[rec(label="slow", status="cancelled", error_kind="cancelled", total_ms=50.0)] * 3,
        rec(label="slow", status="error", error_kind="timeout", total_ms=None),
        rec(label="slow", status="truncated", error_kind="timeout", total_ms=700.0),
    ]
    (summary,) = summarize(records)
    assert (summary.requests, summary.errors, summary.cancelled, summary.truncated) == (6, 2, 3, 1)
    # Latency over the answered request only: a cancel is no latency figure.
    assert summary.p50_ms == 1000.0


def test_entries_with_the_same_model_and_other_labels_get_their_own_rows() -> None:
    first, second = summarize([rec(label="cold"), rec(label="warm"), rec(label="cold")])
    assert (first.label, second.label) == ("cold", "warm")
    assert first.key == second.key == "openai:m"


def hexai_stats(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAI_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-m", "hexai_nvim", "stats", *argv],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
                          check=False, stdin=subprocess.DEVNULL)


def test_hexai_stats_prints_errors_and_cancelled_in_their_own_columns(tmp_path: Path) -> None:
    store = StatsStore(default_stats_path({"XDG_CACHE_HOME": str(tmp_path / "cache")}))
    now = time.time()
    fast = dict(label="local fast", provider="ollama", model="qwen")
    slow = dict(label="cloud slow", provider="openai", model="gpt")
    for i in range(5):
        store.append(rec(ts=now - i, **fast))  # type: ignore[arg-type]
    store.append(rec(ts=now, status="error", error_kind="auth", ttft_ms=None,
                     **fast))  # type: ignore[arg-type]
    for i in range(2):
        store.append(rec(ts=now - i, **slow))  # type: ignore[arg-type]
    for _ in range(7):  # superseded completions: cancelled, not failed
        store.append(rec(ts=now, status="cancelled", error_kind="cancelled",
                         **slow))  # type: ignore[arg-type]
    store.append(rec(ts=now, status="truncated", error_kind="timeout",
                     **slow))  # type: ignore[arg-type]
    store.append(rec(ts=now - 3 * 3600, status="error", **slow))  # type: ignore[arg-type]

    proc = hexai_stats(tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, header, *rows = proc.stdout.splitlines()
    assert first.startswith("requests finished in the last 60 min ([stats] window_minutes)")
    assert header.split()[:4] == ["entry", "req", "err", "cancelled"]
    by_label = {row[:len("local fast")]: row[len("local fast"):].split() for row in rows}
    assert by_label["local fast"][:3] == ["6", "1", "0"]
    assert by_label["cloud slow"][:3] == ["10", "1", "7"]  # the 3-hour-old error is outside

    proc = hexai_stats(tmp_path, "--json", "--minutes", "600")
    doc = json.loads(proc.stdout)
    assert (doc["window_minutes"], doc["window_from"]) == (600, "--minutes")
    slow_row = next(m for m in doc["models"] if m["label"] == "cloud slow")
    assert slow_row["key"] == "openai:gpt"
    assert (slow_row["requests"], slow_row["errors"], slow_row["cancelled"],
            slow_row["truncated"]) == (11, 2, 7, 1)


def test_damaged_bytes_are_skipped_when_reading_and_dropped_when_pruning(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    store = StatsStore(path, window_minutes=5)
    now = 3_000_000.0
    store.append(rec(ts=now - 60, model="before"))
    with open(path, "ab") as handle:
        handle.write(b'{"ts": \xff\xfe broken}\n')
    store.append(rec(ts=now - 30, model="after"))
    assert [r.model for r in store.read(now=now)] == ["before", "after"]
    assert store.prune(now=now) == 1
    assert b"\xff" not in path.read_bytes()
    assert [r.model for r in store.read(now=now)] == ["before", "after"]


def test_an_unreadable_stats_path_reads_as_empty(tmp_path: Path) -> None:
    (tmp_path / "stats.jsonl").mkdir()  # a directory where the file should be
    store = StatsStore(tmp_path / "stats.jsonl")
    assert store.read() == []
    assert store.prune() == 0


def test_prune_reads_the_time_of_its_own_lines_without_building_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building a record per line made a prune of a busy hour hold the GIL (and
    # the host's event loop) for ~150 ms; only foreign lines are parsed whole.
    path = tmp_path / "stats.jsonl"
    store = StatsStore(path, window_minutes=5)
    now = 4_000_000.0
    for ts in (now - 600, now - 60.5, now - 1e1):
        store.append(rec(ts=ts, model=f"t{ts:g}"))
    foreign = json.loads(rec(ts=now - 1, model="spaced").to_json())
    with open(path, "a", encoding="utf-8") as handle:  # another writer's spacing
        handle.write(json.dumps(foreign, separators=(", ", ": ")) + "\n")
    parsed: list[str] = []
    original = StatsRecord.from_json

    def counting(line: str) -> StatsRecord | None:
        parsed.append(line)
        return original(line)

    monkeypatch.setattr(StatsRecord, "from_json", staticmethod(counting))
    assert store.prune(now=now) == 1
    assert [line for line in parsed if '"spaced"' not in line] == []
    monkeypatch.undo()
    models = [r.model for r in store.read(now=now)]
    assert models == [f"t{now - 60.5:g}", f"t{now - 10:g}", "spaced"]


def test_measured_fields_are_the_engines_fields_copied_by_name() -> None:
    from hexai_nvim.engine.results import EntryStats
    from hexai_nvim.stats import MEASURED_FIELDS

    stats = EntryStats(
        queued_ms=1.23456, ttft_ms=0.0, total_ms=1000.0, input_tokens=3, output_tokens=50,
        tokens_estimated=True, bytes_sent=7, bytes_received=9, status="truncated",
        error_kind="timeout", retries=1, chunks=10, http_status=200,
    )
    assert set(MEASURED_FIELDS) <= set(stats.to_dict())
    entry = SimpleNamespace(
        surface="ask", provider=SimpleNamespace(name="p"), model="m", label="L"
    )
    result = SimpleNamespace(entry=entry, stats=stats, stop_reason=StopReason.CUT, fallback_of=None)
    record = StatsRecord.from_result(result, ts=5.0)  # type: ignore[arg-type]
    assert (record.provider, record.model, record.label, record.ts) == ("p", "m", "L", 5.0)
    # the decode rate: the 49 tokens after the first over the 1 s after it
    assert record.queued_ms == 1.235 and record.tokens_per_s == 49.0
    assert record.stop_reason == "cut"
    assert (record.status, record.error_kind, record.retries) == ("truncated", "timeout", 1)
    assert record.http_status == 200 and record.tokens_estimated


def test_measured_fields_are_declared_once_for_the_engine_and_the_store() -> None:
    from dataclasses import fields

    from hexai_nvim.engine.results import EntryStats, Measurement

    shared = {f.name for f in fields(EntryStats)} & {f.name for f in fields(StatsRecord)}
    assert shared == {f.name for f in fields(Measurement)}
    # neither class declares a measured field again
    assert not set(EntryStats.__annotations__) & set(StatsRecord.__annotations__)
    line = json.loads(BASE.to_json())
    assert list(line)[:5] == ["ts", "surface", "provider", "model", "label"]
    assert set(line) == {f.name for f in fields(StatsRecord)}


def test_the_engine_loads_no_store_and_the_store_only_the_engines_values() -> None:
    code = (
        "import json, sys\n"
        "import hexai_nvim.engine.core\n"
        "engine = sorted(m for m in sys.modules if m.startswith('hexai_nvim.stats'))\n"
        "for m in [m for m in sys.modules if m.startswith('hexai_nvim')]:\n"
        "    del sys.modules[m]\n"
        "import hexai_nvim.stats\n"
        "store = sorted(m for m in sys.modules if m.startswith('hexai_nvim.engine'))\n"
        "print(json.dumps([engine, store]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    engine, store = json.loads(out)
    assert engine == []
    assert store == ["hexai_nvim.engine", "hexai_nvim.engine.results"]


async def test_hexai_ask_gives_its_engine_the_stats_store_and_a_bare_engine_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hexai_nvim.cli.ask_cmd import _default_engine
    from hexai_nvim.engine.core import Engine
    from tests.unit.test_engine import config

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    engine = _default_engine(config())
    store = engine.stats_store
    assert isinstance(store, StatsStore)
    assert store.path == tmp_path / "hexai" / "nvim-stats.jsonl"
    await engine.close()
    bare = Engine(config())
    assert bare.stats_store is None  # the engine opens no store of its own
    await bare.close()


def test_skipped_requests_are_counted_apart_from_errors() -> None:
    # Three failures open the breaker; the two entries it then skipped sent nothing.
    records = [
        rec(label="flaky"),
        *[rec(label="flaky", status="error", error_kind="unreachable", total_ms=None)] * 3,
        *[rec(label="flaky", status="error", error_kind="skipped", total_ms=None)] * 2,
    ]
    (summary,) = summarize(records)
    assert (summary.requests, summary.errors, summary.skipped, summary.cancelled) == (6, 3, 2, 0)
    assert summary.to_dict()["skipped"] == 2
    _window, header, row = format_table([summary], 60).splitlines()
    assert header.split()[:5] == ["entry", "req", "err", "cancelled", "skipped"]
    assert row.split()[:5] == ["flaky", "6", "3", "0", "2"]
    # without any skipped request the table keeps its columns
    (plain,) = summarize([rec(label="calm")])
    assert "skipped" not in format_table([plain], 60)


def test_both_stores_report_a_write_failure_once_and_read_nothing_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hexai_nvim.arena.store import OutcomeStore

    blocker = tmp_path / "file"
    blocker.write_text("")
    stats = StatsStore(blocker / "nvim-stats.jsonl")  # its folder is a file
    outcomes = OutcomeStore(blocker / "arena.jsonl")
    for _ in range(3):
        stats.append(BASE)
    assert stats.read(now=0.0) == []
    assert caplog.text.count("cannot write stats to") == 1
    assert outcomes.read() == []
    caplog.clear()
    missing = StatsStore(tmp_path / "none" / "nvim-stats.jsonl")
    assert missing.read() == [] and "cannot read" not in caplog.text
    (tmp_path / "dir.jsonl").mkdir()  # a folder where the file should be
    assert StatsStore(tmp_path / "dir.jsonl").read() == []
    assert OutcomeStore(tmp_path / "dir.jsonl").read() == []
    assert "cannot read stats" in caplog.text and "cannot read arena outcomes" in caplog.text
