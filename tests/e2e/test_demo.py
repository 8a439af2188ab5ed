"""`make demo`: headless it plays the whole tour and prints it; with a UI its hint stays, fits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hexai_nvim import demo, demo_answers
from hexai_nvim.demo import CLAUDE_LABEL, CLOUD_LABEL, LOCAL_LABEL
from hexai_nvim.sim.state import SimState
from hexai_nvim.sim.thread import SimThread
from tests.e2e.harness import REPO
from tests.e2e.harness import screen_rows as screen


def test_demo_without_a_terminal_prints_both_labelled_suggestions_and_exits_0() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXAI_", "NVIM"))}
    proc = subprocess.run(
        [sys.executable, "-m", "hexai_nvim.demo"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"[{LOCAL_LABEL} " in out and f"[{CLOUD_LABEL} " in out
    assert "keystroke to the first text drawn" in out and "an entry's time to its last" in out
    assert "accepted (" in out
    assert "Traceback" not in proc.stderr
    # Readable code that fits below `low, high = ...` (canned, not filler).
    assert "if high == low:" in out and "span = high - low" in out
    # The ask: three entries, two answers and one labelled error.
    assert f"[{LOCAL_LABEL}] done" in out and f"[{CLOUD_LABEL}] done" in out
    assert f"[{CLAUDE_LABEL}] error" in out
    assert "✗ config: no API key for provider 'claude': set ANTHROPIC_API_KEY" in out
    assert "rescales the numbers" in out
    # The code action documented mean() and was applied.
    assert '+    """Return the mean of ``values``' in out and "applied: yes" in out


def test_canned_answers_fit_where_they_go_and_nothing_else_is_canned() -> None:
    fim = 'def normalise(values):\n    low, high = min(values), max(values)\n    '
    assert demo_answers.reply("qwen2.5-coder", fim) == demo_answers.COMPLETIONS["qwen2.5-coder"]
    # Typed through: the rest of the same suggestion.
    assert demo_answers.reply("qwen2.5-coder", fim + "if hi") == \
        demo_answers.COMPLETIONS["qwen2.5-coder"][len("if hi"):]
    # Elsewhere in the file: nothing canned (the simulator's own text).
    assert demo_answers.reply("qwen2.5-coder", "def mean(values):\n    ") is None
    assert demo_answers.reply("other-model", fim) is None


@pytest.fixture
def demo_ui(tmp_path: Path) -> Iterator[Any]:
    with SimThread(SimState(replies=demo_answers.reply)) as sim:
        ws = demo.prepare(tmp_path, sim.url, debounce_ms=40, hint=True)
        nvim = demo.attach(ws)
        try:
            nvim.ui_attach(80, 24, rgb=True, ext_linegrid=True)
            nvim.command(f"edit {ws.sample}")
            nvim.exec_lua("_G.hexai_demo_hint.start()")  # as for `nvim sample.py`
            wait(lambda: nvim.exec_lua("return require('hexai.rpc').request('ping')"), 30)
            yield nvim
        finally:
            nvim.close()


def wait(probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.01)
    raise AssertionError(f"timed out; last={last!r}")


def test_the_demo_hint_stays_in_insert_mode_fits_80_columns_and_says_how_to_quit(
    demo_ui: Any,
) -> None:
    nvim = demo_ui
    assert screen(nvim)[0].startswith(" demo 1/3 · A<Enter> on line 11")
    nvim.input("A<CR>")
    wait(lambda: demo._done_snapshot(nvim))  # every suggestion in
    assert nvim.api.get_mode()["mode"] == "i"
    rows = screen(nvim)
    hint = nvim.exec_lua("return _G.hexai_demo_hint.text()")
    assert rows[0].rstrip() == hint.rstrip(), rows[0]  # whole, on one row
    assert nvim.exec_lua("return vim.fn.strdisplaywidth(...)", hint) <= 80
    assert ":qa! quits" in rows[0]
    assert any("if high == low:" in row for row in rows), "\n".join(rows)


def test_hexai_ask_in_the_demo_shows_three_sections_one_with_a_labelled_error(
    demo_ui: Any,
) -> None:
    nvim = demo_ui
    nvim.command(f"HexaiAsk {demo.QUESTION}")

    def over() -> Any:
        st = nvim.exec_lua("return require('hexai.ask').state()")
        return st if st and all(s["status"] not in ("pending", "streaming")
                                for s in st["sections"]) else None

    st = wait(over, 30)
    assert [s["label"] for s in st["sections"]] == [LOCAL_LABEL, CLOUD_LABEL, CLAUDE_LABEL]
    assert [s["status"] for s in st["sections"]] == ["ok", "ok", "error"]
    rows = screen(nvim)
    text = "\n".join(rows)
    for label in (LOCAL_LABEL, CLOUD_LABEL):
        assert any(label in row and "done" in row for row in rows), text
    assert any(CLAUDE_LABEL in row and "error (config)" in row and "no API key" in row
               for row in rows), text
    # The next step of the tour is on screen.
    assert rows[0].startswith(" demo 3/3"), rows[0]


def test_help_hexai_opens_the_top_of_the_help_in_the_demo(tmp_path: Path) -> None:
    from hexai_nvim.demo import nvim_binary, prepare

    ws = prepare(tmp_path, "http://127.0.0.1:9", debounce_ms=100, hint=False)
    probe = "lua io.stdout:write(vim.fn.expand('%:t') .. ':' .. vim.fn.line('.') .. '\\n')"
    proc = subprocess.run(
        [nvim_binary(), "--headless", "-u", str(ws.init), "-i", "NONE", "+help hexai",
         f"+{probe}", "+qa!"],
        env=ws.env, cwd=ws.root, capture_output=True, text=True, timeout=60,
    )
    assert proc.stdout.strip().splitlines()[-1] == "hexai.txt:1", proc.stdout + proc.stderr
