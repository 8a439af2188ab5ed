"""`make demo` without a terminal: plays the scenario headless, prints both labels, exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

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
