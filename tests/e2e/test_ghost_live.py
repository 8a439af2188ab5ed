"""Ghost text end to end (real host, simulator on loopback): calm, streaming, quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession
from tests.e2e.test_completion import ghost

CONFIG = """
[completion]
completion_debounce_ms = 20

[general]
context_mode = "window"
context_window_lines = 20

[providers.cloud]
kind = "openai-compatible"
base_url = "{sim}/v1"
"""

ENTRY = """
[[models.completion]]
provider = "cloud"
model = "{model}"
label = "{label}"
"""

RECORD = """
_G.seen = {}
local ghost = require('hexai.ghost')
local update = ghost.update
ghost.update = function(snapshot)
  update(snapshot)
  local below = 0
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ghost.ns, 0, -1, { details = true })) do
    if m[4].virt_lines and not m[4].virt_lines_above then below = below + #m[4].virt_lines end
  end
  local snap = ghost.snapshot() or {}
  table.insert(_G.seen, { below = below, text = snap.selected_text or '',
    status = snap.selected_status or '', done = snapshot.done })
end
"""


def start(nvim: NvimSession, sim: Any, tmp_path: Path, *models: tuple[str, str]) -> None:
    text = CONFIG.format(sim=sim.url) + "".join(
        ENTRY.format(model=m, label=label) for m, label in models)
    nvim.write_config(text)
    nvim.setup()
    sample = tmp_path / "sample.py"
    sample.write_text("def add(a, b):\n    \n" + "\n".join(f"x{i} = {i}" for i in range(5)) + "\n")
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")
    nvim.lua(RECORD)


def seen(nvim: NvimSession) -> list[dict[str, Any]]:
    return list(nvim.lua("return _G.seen"))


def wait_done(nvim: NvimSession, count: int = 1) -> list[dict[str, Any]]:
    nvim.wait_for(lambda: sum(1 for s in seen(nvim) if s["done"]) >= count, timeout=15,
                  what="the trigger's last snapshot")
    return seen(nvim)


def test_three_entries_at_50_150_300_ms_move_the_lines_below_at_most_once(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start(nvim, sim, tmp_path, ("calm-a+ttft=50", "a"), ("calm-b+ttft=150", "b"),
          ("calm-c+ttft=300", "c"))
    nvim.nvim.input("Areturn ")
    heights = [s["below"] for s in wait_done(nvim)]
    moves = sum(1 for before, after in zip([0, *heights], heights, strict=False) if before != after)
    assert moves <= 1, heights
    assert heights[-1] >= 2  # the suggestion's further lines, then one line per other entry


def test_a_streaming_entry_shows_its_first_chunk_before_the_last_arrives(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start(nvim, sim, tmp_path, ("stream-a+ttft=50+tps=20+tokens=10", "slow-stream"))
    nvim.nvim.input("Areturn ")
    states = wait_done(nvim)
    final = states[-1]["text"]
    early = [s for s in states if s["status"] == "streaming" and s["text"]]
    assert early, states
    assert len(early[0]["text"]) < len(final) and final.startswith(early[0]["text"])
    # The request was still open at the first chunk: more text came afterwards.
    assert states[-1]["status"] == "ok"


def test_an_entry_answering_401_is_requested_once_not_on_every_trigger(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start(nvim, sim, tmp_path, ("quiet-bad+status=401", "bad"), ("quiet-good", "good"))
    for k, keys in enumerate(("Areturn ", "-", "x", "-")):
        nvim.nvim.input(keys)
        wait_done(nvim, k + 1)
    assert len(sim.state.requests_for("quiet-bad")) == 1
    assert len(sim.state.requests_for("quiet-good")) == 4
    entries = ghost(nvim)["entries"]
    bad = entries[0] if isinstance(entries, list) else entries["1"]
    assert bad["status"] == "muted"
    assert "[bad" not in str(nvim.extmarks("hexai.ghost"))
    messages = nvim.messages()
    assert messages.count("paused after auth") == 1, messages
    # Asking explicitly tries it again.
    nvim.nvim.command("HexaiComplete")
    assert sim.state.wait_for(lambda s: len(s.requests_for("quiet-bad")) == 2, timeout=10)


def test_ui_completion_is_checked_by_the_host_and_folded_for_lua(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    nvim.write_config(CONFIG.format(sim=sim.url) + ENTRY.format(model="ui-a", label="a")
                      + '\n[ui]\ncompletion_layout = "cycle"\n'
                      + '[ui.completion]\nlayuot = "stack"\nmax_lines = 3\n')
    nvim.setup()
    nvim.wait_for(lambda: "did you mean 'layout'" in nvim.messages(), what="the warning")
    assert "ui.completion.layuot" in nvim.messages()
    config = nvim.lua("return require('hexai.completion').config")
    assert (config["layout"], config["max_lines"]) == ("cycle", 3)


def test_setup_completion_options_are_checked_by_the_host_like_ui_completion(
    nvim: NvimSession, sim: Any
) -> None:
    nvim.write_config(CONFIG.format(sim=sim.url) + ENTRY.format(model="ui-s", label="s")
                      + '\n[ui.completion]\nmax_lines = 5\nother_max_lines = 2\n')
    nvim.setup("{ completion = { layuot = 'cycle', max_lines = 3 } }")
    nvim.wait_for(lambda: "did you mean 'layout'" in nvim.messages(), what="the warning")
    assert "setup{}: ui.completion.layuot" in nvim.messages()
    config = nvim.lua("return require('hexai.completion').config")
    # setup() over config.toml, both checked; the misspelt key is not kept.
    assert (config["max_lines"], config["other_max_lines"]) == (3, 2)
    assert "layuot" not in config and config["layout"] == "stack"


def test_a_bad_setup_completion_value_is_named_and_not_applied(
    nvim: NvimSession, sim: Any
) -> None:
    nvim.write_config(CONFIG.format(sim=sim.url) + ENTRY.format(model="ui-t", label="t"))
    nvim.setup("{ completion = { display = 'bogus', max_lines = 'many' } }")
    nvim.wait_for(lambda: "'bogus' is not allowed" in nvim.messages(), what="the error")
    assert "ui.completion.display" in nvim.messages()
    assert "ui.completion.max_lines" in nvim.messages()
    config = nvim.lua("return require('hexai.completion').config")
    assert (config["display"], config["max_lines"]) == ("ghost", 12)
