"""``hexai stats --arena`` and ``hexai ask --markdown`` as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hexai_nvim.arena.store import Candidate, Outcome, OutcomeStore, with_ties
from hexai_nvim.sim import SimState
from hexai_nvim.sim.thread import SimThread


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=10.0)) as running:
        yield running


def hexai(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAI_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        NO_COLOR="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "hexai_nvim", *argv], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "hexai.toml"
    path.write_text(f"""
[providers.sim]
kind = "openai-compatible"
base_url = "{url}/v1"

[arena]
provisional_battles = 3

[arena.prices]
"openai:gpt-4.1-mini" = {{ input = 1.0, output = 1.0 }}

[[models.ask]]
provider = "sim"
model = "alpha"

[[models.ask]]
provider = "sim"
model = "beta"
label = "Beta"
""", encoding="utf-8")
    return path


def record(tmp_path: Path, ts: float, winner: int) -> None:
    keys = ("openai:gpt-4.1-mini", "ollama:qwen")
    cands = tuple(
        Candidate.of_text(k, k, s, f"{k} {ts}", visible=True, status="ok", total_ms=100.0 + s,
                          input_tokens=1000, output_tokens=1000)
        for s, k in enumerate(keys)
    )
    OutcomeStore(tmp_path / "state" / "hexai" / "arena-outcomes.jsonl").append(
        Outcome(ts=ts, id=str(ts), surface="completion", action="accept",
                chosen=with_ties(cands, winner), candidates=cands)
    )


def test_stats_arena_prints_the_leaderboard_and_json(sim: SimThread, tmp_path: Path) -> None:
    config = write_config(tmp_path, sim.url)
    now = time.time()
    for k in range(6):
        record(tmp_path, now - k * 60, winner=0 if k < 5 else 1)
    record(tmp_path, now - 40 * 86400, winner=1)  # old: outside --days 7
    table = hexai(tmp_path, "stats", "--arena", "--config", str(config))
    assert table.returncode == 0, table.stderr
    assert "arena leaderboard (all time)" in table.stdout and "7 battles" in table.stdout
    lines = table.stdout.splitlines()
    assert lines[2].startswith("openai:gpt-4.1-mini")  # the winner first
    assert "█" in table.stdout and "position bias" in table.stdout
    doc = json.loads(
        hexai(tmp_path, "stats", "--arena", "--days", "7", "--json", "--config", str(config)).stdout
    )
    assert doc["days"] == 7 and doc["battles"] == 6
    mini = next(m for m in doc["models"] if m["key"] == "openai:gpt-4.1-mini")
    assert (mini["wins"], mini["battles"], mini["provisional"]) == (5, 6, False)
    assert mini["cost"] == pytest.approx(6 * 0.002)  # [arena.prices]: $1/M in and out
    local = next(m for m in doc["models"] if m["key"] == "ollama:qwen")
    assert local["cost"] == 0 and local["price_source"] == "local"
    assert doc["default_prices"]["date"]


def test_stats_arena_without_outcomes_says_how_to_get_some(tmp_path: Path) -> None:
    proc = hexai(tmp_path, "stats", "--arena")
    assert proc.returncode == 0 and "no arena outcomes yet" in proc.stdout
    bad = hexai(tmp_path, "stats", "--days", "3")
    assert bad.returncode == 2 and "--arena" in bad.stderr


def test_ask_markdown_writes_the_comparison(sim: SimThread, tmp_path: Path) -> None:
    config = write_config(tmp_path, sim.url)
    proc = hexai(tmp_path, "ask", "--markdown", "--config", str(config), "why", "sort?")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("# hexai comparison") and "## Question" in md and "why sort?" in md
    assert "| sim:alpha (`sim:alpha`) | done |" in md and "## Beta" in md
    assert md.count("```markdown") == 2


def test_arena_settings_are_read_and_bad_prices_name_their_key(tmp_path: Path) -> None:
    from hexai_nvim.config import load_config
    from hexai_nvim.config.model import ConfigError

    good = tmp_path / "good.toml"
    good.write_text('[arena]\nblind = true\nstore_text = true\n'
                    '[arena.prices]\n"sim:a" = { input = 0.5, output = 2 }\n')
    arena = load_config(str(good)).arena
    assert arena.blind and arena.store_text and arena.record
    assert dict(arena.prices) == {"sim:a": (0.5, 2.0)} and arena.provisional_battles == 30
    bad = tmp_path / "bad.toml"
    bad.write_text('[arena.prices]\n"sim:a" = { input = -1, output = 2 }\n"sim:b" = 3\n')
    with pytest.raises(ConfigError) as caught:
        load_config(str(bad))
    text = str(caught.value)
    assert 'arena.prices."sim:a"' in text and "out of range" in text
    assert 'arena.prices."sim:b"' in text and "input = N, output = N" in text


def test_ask_blind_prints_letters_then_reveals_and_markdown_keeps_the_order(
    sim: SimThread, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sim.url)
    proc = hexai(tmp_path, "ask", "--blind", "--seed", "3", "--config", str(config), "why?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("=== Answer ") == 2 and "alpha" not in proc.stdout
    before, _, reveal = proc.stderr.partition("revealed: ")
    assert "alpha" not in before and "Beta" not in before and " ms" not in before
    assert sorted(reveal.splitlines()[0].split(", ")) in (
        ["A = Beta", "B = sim:alpha"], ["A = sim:alpha", "B = Beta"])
    assert "ttft " in reveal
    again = hexai(tmp_path, "ask", "--blind", "--seed", "3", "--config", str(config), "why?")
    assert again.stderr.partition("revealed: ")[2].splitlines()[0] == reveal.splitlines()[0]
    md = hexai(tmp_path, "ask", "--markdown", "--blind", "--seed", "3", "--config",
               str(config), "why?").stdout
    first = reveal.splitlines()[0].split(", ")[0].removeprefix("A = ")
    assert f"## A: {first}" in md and "| A: " in md
