"""``hexai ask`` and ``hexai stats`` as processes, against the simulator."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hexai_nvim.sim import SimState, reply_text
from hexai_nvim.sim.thread import SimThread


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=10.0)) as running:
        yield running


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def write_config(path: Path, sim_url: str, second_url: str | None = None) -> Path:
    second = second_url or sim_url
    path.write_text(
        f"""
[providers.sim]
kind = "openai-compatible"
base_url = "{sim_url}/v1"

[providers.local]
kind = "ollama"
base_url = "{second}"

[[models.cli]]
provider = "sim"
model = "alpha"

[[models.cli]]
provider = "local"
model = "beta"
label = "Local beta"
""",
        encoding="utf-8",
    )
    return path


def hexai(tmp_path: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAI_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        NO_COLOR="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "hexai_nvim", *argv],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_ask_json_prints_both_answers_with_stats(sim: SimThread, tmp_path: Path) -> None:
    config = write_config(tmp_path / "hexai.toml", sim.url)
    proc = hexai(tmp_path, "ask", "--config", str(config), "--json", "say hi")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    first, second = doc["entries"]
    assert (first["provider"], first["model"], first["label"]) == ("sim", "alpha", "sim:alpha")
    assert (second["provider"], second["label"]) == ("local", "Local beta")
    assert first["text"] == reply_text("alpha", "say hi")
    assert second["text"] == reply_text("beta", "say hi")
    for item in (first, second):
        assert item["error"] is None and item["truncated"] is False
        stats: dict[str, Any] = item["stats"]
        assert stats["status"] == "ok"
        assert stats["ttft_ms"] >= 0 and stats["total_ms"] >= stats["ttft_ms"]
        assert stats["input_tokens"] > 0 and stats["output_tokens"] > 0

    # The runs were recorded: hexai stats shows both provider:model pairs.
    stats_proc = hexai(tmp_path, "stats", "--config", str(config), "--json")
    assert stats_proc.returncode == 0, stats_proc.stderr
    models = {m["key"]: m for m in json.loads(stats_proc.stdout)["models"]}
    assert set(models) == {"sim:alpha", "local:beta"}
    assert models["sim:alpha"]["requests"] == 1 and models["sim:alpha"]["errors"] == 0
    assert models["local:beta"]["label"] == "Local beta"
    # The table names entries by their labels.
    table = hexai(tmp_path, "stats", "--config", str(config))
    assert "sim:alpha" in table.stdout and "Local beta" in table.stdout


def test_ask_exits_1_when_an_entry_is_unreachable_and_prints_the_other(
    sim: SimThread, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "hexai.toml", sim.url, f"http://127.0.0.1:{closed_port()}")
    proc = hexai(tmp_path, "ask", "--config", str(config), "--json", "say hi")
    assert proc.returncode == 1
    first, second = json.loads(proc.stdout)["entries"]
    assert first["text"] == reply_text("alpha", "say hi") and first["error"] is None
    assert second["error"]["kind"] == "unreachable" and second["text"] == ""
    assert second["stats"]["status"] == "error"
    assert "Traceback" not in proc.stderr


def test_plain_output_blocks_and_prompt_from_args_and_stdin(sim: SimThread, tmp_path: Path) -> None:
    sim.state.reset()
    config = write_config(tmp_path / "hexai.toml", sim.url)
    proc = hexai(tmp_path, "ask", "--config", str(config), "summarize", stdin="line one\n")
    assert proc.returncode == 0, proc.stderr
    prompt = "summarize:\n\nline one\n"

    def line_ended(text: str) -> str:
        return text if text.endswith("\n") else text + "\n"

    assert proc.stdout == (
        f"=== sim:alpha ===\n{line_ended(reply_text('alpha', prompt))}\n"
        f"=== Local beta ===\n{line_ended(reply_text('beta', prompt))}"
    )
    # "queued N ms" comes first when the machine was busy enough to queue it.
    assert re.match(r"sim:alpha: (queued \d+ ms · )?ttft ", proc.stderr), proc.stderr
    sent = sim.state.requests_for("alpha")[-1].body["messages"][-1]["content"]
    assert sent == prompt


def test_single_entry_streams_raw_text(sim: SimThread, tmp_path: Path) -> None:
    config = write_config(tmp_path / "hexai.toml", sim.url)
    proc = hexai(tmp_path, "ask", "--config", str(config), "-1", "say hi")
    assert proc.returncode == 0, proc.stderr
    text = reply_text("beta", "say hi")
    assert proc.stdout == (text if text.endswith("\n") else text + "\n")
    assert proc.stderr.startswith("Local beta: ")


def test_usage_and_config_errors_exit_2_without_traceback(sim: SimThread, tmp_path: Path) -> None:
    config = write_config(tmp_path / "hexai.toml", sim.url)
    no_prompt = hexai(tmp_path, "ask", "--config", str(config))
    assert no_prompt.returncode == 2 and "no prompt" in no_prompt.stderr
    bad_index = hexai(tmp_path, "ask", "--config", str(config), "-7", "hi")
    assert bad_index.returncode == 2 and "no ask entry 7" in bad_index.stderr
    bad_timeout = hexai(tmp_path, "ask", "--config", str(config), "--timeout", "0", "hi")
    assert bad_timeout.returncode == 2

    broken = tmp_path / "broken.toml"
    broken.write_text('[[models.cli]]\nprovider = "nosuch"\nmodel = 3\n', encoding="utf-8")
    proc = hexai(tmp_path, "ask", "--config", str(broken), "hi")
    assert proc.returncode == 2
    assert "models" in proc.stderr and "Traceback" not in proc.stderr
    stats = hexai(tmp_path, "stats", "--config", str(broken))
    assert stats.returncode == 2 and "Traceback" not in stats.stderr


def test_a_reader_that_goes_away_ends_it_quietly(sim: SimThread, tmp_path: Path) -> None:
    # `hexai ask ... | head -c 5`: stdout closes while one entry still streams.
    config = tmp_path / "one.toml"
    config.write_text(
        f'[providers.local]\nkind = "ollama"\nbase_url = "{sim.url}"\n'
        '[[models.cli]]\nprovider = "local"\nmodel = "beta+tps=400+tokens=2000"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAI_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexai_nvim", "ask", "--config", str(config), "say hi"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(5)  # the answer has started
    proc.stdout.close()
    try:
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 0


@pytest.mark.parametrize("argv", [["stats", "--json"], ["config", "show"]])
def test_other_commands_end_quietly_when_stdout_is_closed(tmp_path: Path, argv: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAI_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexai_nvim", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # gone before the command writes anything
    try:
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 0
