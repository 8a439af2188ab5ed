"""`make demo` without a terminal: plays the scenario headless, prints both labels, exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hexai_nvim.demo import CLOUD_LABEL, LOCAL_LABEL
from tests.e2e.harness import REPO


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
    assert "keystroke to first suggestion" in out
    assert "accepted (" in out
    assert "Traceback" not in proc.stderr


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
