"""Fallbacks and the circuit breaker in a real Neovim: the ask view's header and
the ghost line name the fallback; a skipped provider says so in its slot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession
from tests.e2e.test_ask import finished, stack_lines, state
from tests.e2e.test_completion import ghost, wait_all_done

PROVIDERS = """
[completion]
completion_debounce_ms = 20

[general]
context_mode = "window"
context_window_lines = 20
request_timeout = 20

[engine]
retries = 0

[providers.local]
kind = "ollama"
base_url = "{sim}"

[providers.cloud]
kind = "openai-compatible"
base_url = "{sim}/v1"
fim = "off"
"""


def test_ask_view_names_the_fallback_that_answered(nvim: NvimSession, sim: Any) -> None:
    nvim.write_config(PROVIDERS.format(sim=sim.url) + """
[[models.ask]]
provider = "cloud"
model = "rs-down+status=500"
label = "main"
fallback_provider = "local"
fallback_model = "rs-backup"

[[models.ask]]
provider = "local"
model = "rs-other"
label = "other"
""")
    nvim.setup()
    nvim.nvim.command("HexaiAsk what is a monad?")
    nvim.wait_for(lambda: finished(nvim), timeout=15, what="both answers")
    main, other = state(nvim)["sections"]
    assert main["label"] == "main → local:rs-backup (fallback)"
    assert main["status"] == "ok" and main["text"].strip()
    assert other["status"] == "ok"
    headers = [line for line in stack_lines(nvim) if line.startswith("## ")]
    assert headers[0].startswith("## main → local:rs-backup (fallback) · done")
    assert "fallback after server" in headers[0]
    assert len(sim.state.requests_for("rs-down+status=500")) == 1
    assert len(sim.state.requests_for("rs-backup")) == 1


def test_ghost_line_names_the_fallback_and_a_skipped_provider_sends_nothing(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    config = PROVIDERS.format(sim=sim.url).replace(
        "[engine]\nretries = 0\n", "[engine]\nretries = 0\nbreaker_failures = 1\n")
    nvim.write_config(config + """
[[models.completion]]
provider = "local"
model = "rs-fast"
label = "local"

[[models.completion]]
provider = "cloud"
model = "rs-gone+status=503"
label = "cloud"
fallback_provider = "local"
fallback_model = "rs-spare"
""")
    nvim.setup()
    sample = tmp_path / "sample.py"
    sample.write_text("def add(a, b):\n    \n")
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")
    nvim.nvim.input("Areturn ")
    fast, cloud = wait_all_done(nvim)
    assert fast["status"] == "ok"
    assert cloud["label"] == "cloud → local:rs-spare (fallback)"
    assert cloud["status"] == "ok" and "fallback after server" in cloud["stats"]
    marks = str(nvim.extmarks("hexai.ghost"))
    assert "[cloud → local:rs-spare (fallback) " in marks
    assert len(sim.state.requests_for("rs-gone+status=503")) == 1
    # The breaker is open now (one failure is enough here): the next keystroke
    # goes straight to the fallback and sends nothing to the cloud.
    nvim.nvim.input("<Esc>")
    nvim.nvim.current.buffer[:] = ["def add(a, b):", "    "]
    nvim.nvim.command("normal! 2G$")
    nvim.nvim.input("Aresult = ")

    def second_round() -> Any:
        snap = ghost(nvim)
        entries = snap and snap["entries"]
        return snap if entries and len(sim.state.requests_for("rs-spare")) == 2 else None

    nvim.wait_for(second_round, timeout=15, what="the second fallback")
    fast, cloud = wait_all_done(nvim)
    assert cloud["label"] == "cloud → local:rs-spare (fallback)"
    assert "fallback after skipped" in cloud["stats"]
    assert len(sim.state.requests_for("rs-gone+status=503")) == 1
