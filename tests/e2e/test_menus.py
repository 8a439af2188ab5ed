"""Completion menus with the real neighbours: nvim-cmp (+ cmp-buffer), blink.cmp, built-in.

nvim-cmp and blink.cmp are the unmodified trees in ``../shared/vendor/`` (see
:func:`tests.e2e.harness.vendor`). Three entries answer each trigger: one at
50 ms, one after about 2 s and one that stalls until its deadline. The fast
item must be in the menu while the others are still running (a stalled
entry never holds back the others), the slow one is added to the open menu,
and confirming inserts the chosen multi-line suggestion exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NvimSession, vendor

CONFIG = """
[completion]
completion_debounce_ms = 30

[general]
context_mode = "window"
context_window_lines = 20

[providers.local]
kind = "ollama"
base_url = "{sim}"

[providers.cloud]
kind = "openai-compatible"
base_url = "{sim}/v1"

[[models.completion]]
provider = "local"
model = "{name}-fast+ttft=50+tokens=24"
label = "fast"

[[models.completion]]
provider = "cloud"
model = "{name}-slow+ttft=2000+tokens=24"
label = "slow"

[[models.completion]]
provider = "cloud"
model = "{name}-stall+fault=stall"
label = "stalled"
timeout_ms = {stall_ms}
"""

SAMPLE = "def add(a, b):\n    \n"
#: The stalled entry's deadline: long enough that "before the deadline" means
#: the menu did not wait for it, even on a loaded machine.
STALL_MS = 8000

CMP_SETUP = """
local cmp_dir, buffer_dir = ...
vim.opt.runtimepath:prepend(cmp_dir)
vim.opt.runtimepath:prepend(buffer_dir)
vim.cmd('runtime plugin/cmp.lua')
vim.cmd('runtime after/plugin/cmp_buffer.lua')
local cmp = require('cmp')
cmp.setup({
  sources = { { name = 'hexai' }, { name = 'buffer' } },
  mapping = cmp.mapping.preset.insert({ ['<C-y>'] = cmp.mapping.confirm({ select = true }) }),
})
"""

CMP_ITEMS = """
local cmp = require('cmp')
if not cmp.visible() then return {} end
return vim.tbl_map(function(e)
  local item = e:get_completion_item()
  return { source = e.source.name, label = item.label, detail = item.detail or '',
           text = item.insertText or '' }
end, cmp.get_entries())
"""

BLINK_SETUP = """
local blink_dir = ...
vim.opt.runtimepath:prepend(blink_dir)
vim.cmd('runtime plugin/blink-cmp.lua')
require('blink.cmp').setup({
  fuzzy = { implementation = 'lua' },
  keymap = { preset = 'default' },
  completion = { list = { selection = { preselect = false, auto_insert = false } } },
  sources = {
    default = { 'hexai', 'buffer' },
    providers = { hexai = { name = 'hexai', module = 'hexai.blink', async = true } },
  },
})
"""

BLINK_ITEMS = """
local blink = require('blink.cmp')
if not blink.is_menu_visible() then return {} end
return vim.tbl_map(function(item)
  return { source = item.source_id, label = item.label,
           detail = item.labelDetails and item.labelDetails.description or '',
           text = item.insertText or '' }
end, blink.get_items())
"""


def start(nvim: NvimSession, sim: Any, tmp_path: Path, name: str, neighbour: str) -> None:
    nvim.write_config(CONFIG.format(sim=sim.url, name=name, stall_ms=STALL_MS))
    if neighbour == "cmp":
        nvim.lua(CMP_SETUP, str(vendor("nvim-cmp")), str(vendor("cmp-buffer")))
    else:
        nvim.lua(BLINK_SETUP, str(vendor("blink.cmp")))
    nvim.setup()
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")


def type_in_insert_mode(nvim: NvimSession, text: str) -> None:
    """Enter Insert mode, let the menus see it (as after a person's pause), then type."""
    nvim.nvim.input("A")
    nvim.wait_for(lambda: nvim.lua("return vim.fn.mode()") == "i", what="Insert mode")
    nvim.lua("vim.wait(100)")  # InsertEnter handlers run once typeahead is empty
    nvim.nvim.input(text)


def hexai_items(nvim: NvimSession, code: str) -> dict[str, dict[str, Any]]:
    return {i["detail"]: i for i in nvim.lua(code) if i["source"] == "hexai"}


def running(sim: Any, model: str) -> bool:
    """The simulator still serves a request of ``model`` (no answer sent yet)."""
    found = sim.state.requests_for(model)
    return bool(found) and all(r.finished_at is None for r in found)


@pytest.mark.parametrize("neighbour", ["cmp", "blink"])
def test_each_entry_shows_in_the_real_menu_as_it_arrives_and_confirm_inserts_it_exactly(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    name = f"menu-{neighbour}"
    start(nvim, sim, tmp_path, name, neighbour)
    code = CMP_ITEMS if neighbour == "cmp" else BLINK_ITEMS
    type_in_insert_mode(nvim, "res")

    items = nvim.wait_for(lambda: "fast" in hexai_items(nvim, code) and hexai_items(nvim, code),
                          timeout=STALL_MS / 1000, what="the fast entry's item")
    # Shown before the stalled entry's deadline: the menu did not wait for it
    # (nor for the slow one, which is still being answered).
    assert running(sim, f"{name}-stall+fault=stall"), "the stalled entry already ended"
    assert "slow" not in items and "stalled" not in items

    # The slow entry is added to the open menu; the stalled one still runs.
    items = nvim.wait_for(lambda: "slow" in hexai_items(nvim, code) and hexai_items(nvim, code),
                          timeout=STALL_MS / 1000, what="the slow entry's item")
    assert {"fast", "slow"} <= set(items)
    assert running(sim, f"{name}-stall+fault=stall")
    # One fan-out for this trigger: the menu source's (ghost text is off).
    assert len(sim.state.requests_for(f"{name}-fast+ttft=50+tokens=24")) == 1
    assert nvim.lua("return require('hexai.completion').config.display") == "none"
    assert not nvim.extmarks("hexai.ghost")

    fast = items["fast"]["text"]
    assert "\n" in fast, fast
    if neighbour == "cmp":
        index = [i["detail"] for i in nvim.lua(code)].index("fast") + 1
        nvim.lua("require('cmp').select_next_item({ behavior = 'select', count = ... })", index)
        nvim.nvim.input("<C-y>")
    else:
        index = [i["detail"] for i in nvim.lua(code)].index("fast") + 1
        nvim.lua("require('blink.cmp').accept({ index = ... })", index)
    expected = "def add(a, b):\n    " + fast
    nvim.wait_for(lambda: "\n".join(nvim.nvim.current.buffer[:]) == expected, timeout=5,
                  what="the confirmed suggestion")
    assert "\n".join(nvim.nvim.current.buffer[:]) == expected
    assert "Error" not in nvim.messages()


POPUP_CONFIG = """
[completion]
completion_debounce_ms = 30

[general]
context_mode = "window"
context_window_lines = 20

[providers.local]
kind = "ollama"
base_url = "{sim}"

[[models.completion]]
provider = "local"
model = "{name}-fast+ttft=20+tokens=16"
label = "fast"
{more}
"""

SLOW_ENTRY = """
[[models.completion]]
provider = "local"
model = "{name}-slow+ttft={slow_ms}+tokens=16"
label = "slow"
"""

PUM = """
local info = vim.fn.complete_info({ 'items', 'selected', 'pum_visible' })
return { visible = info.pum_visible == 1, selected = info.selected,
         labels = vim.tbl_map(function(i) return i.menu end, info.items) }
"""


def start_popup(nvim: NvimSession, sim: Any, tmp_path: Path, name: str, completeopt: str | None,
                slow_ms: int | None = None) -> None:
    more = SLOW_ENTRY.format(name=name, slow_ms=slow_ms) if slow_ms is not None else ""
    nvim.write_config(POPUP_CONFIG.format(sim=sim.url, name=name, more=more))
    if completeopt is not None:
        nvim.nvim.command(f"set completeopt={completeopt}")
    nvim.setup("{ completion = { display = 'popup' } }")
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")


def test_builtin_popup_with_one_item_and_default_completeopt_never_types_by_itself(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    name = "popup-idle"
    start_popup(nvim, sim, tmp_path, name, completeopt=None)
    assert nvim.lua("return vim.o.completeopt") == "menu,popup"  # Neovim's default
    type_in_insert_mode(nvim, "res")
    pum = nvim.wait_for(lambda: (p := nvim.lua(PUM))["visible"] and p, what="the popup")
    assert pum["labels"] == ["[fast]"] and pum["selected"] == -1
    time.sleep(3)  # a person doing nothing for 3 s
    assert nvim.nvim.current.buffer[:] == ["def add(a, b):", "    res"]
    assert len(sim.state.requests_for(f"{name}-fast+ttft=20+tokens=16")) == 1  # no re-trigger
    # Their own 'completeopt' is back once the menu is gone.
    nvim.nvim.input("<Esc>")
    nvim.wait_for(lambda: nvim.lua("return vim.fn.mode()") == "n", what="Normal mode")
    assert nvim.lua("return vim.bo.completeopt") == ""
    assert nvim.lua("return vim.o.completeopt") == "menu,popup"


@pytest.mark.parametrize("completeopt", ["menu", "longest,menuone", "menuone,noinsert"])
def test_builtin_popup_inserts_nothing_under_any_completeopt(
    nvim: NvimSession, sim: Any, tmp_path: Path, completeopt: str
) -> None:
    name = "popup-cot-" + completeopt.replace(",", "-")
    start_popup(nvim, sim, tmp_path, name, completeopt=completeopt, slow_ms=100)
    type_in_insert_mode(nvim, "res")
    pum = nvim.wait_for(lambda: len((p := nvim.lua(PUM))["labels"]) == 2 and p,
                        what="both items in the popup")
    assert pum["visible"] and pum["selected"] == -1
    time.sleep(1)
    assert nvim.nvim.current.buffer[:] == ["def add(a, b):", "    res"]
    assert len(sim.state.requests_for(f"{name}-fast+ttft=20+tokens=16")) == 1


def test_builtin_popup_grows_without_resetting_a_selection(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    name = "popup-grow"
    start_popup(nvim, sim, tmp_path, name, completeopt=None, slow_ms=1500)
    type_in_insert_mode(nvim, "res")
    nvim.wait_for(lambda: nvim.lua(PUM)["labels"] == ["[fast]"], what="the fast item")
    nvim.nvim.input("<C-n>")  # the person selects the fast item
    nvim.wait_for(lambda: nvim.lua(PUM)["selected"] == 0, what="the selection")
    sim.state.wait_for(lambda st: any(
        r.finished for r in st.requests_for(f"{name}-slow+ttft=1500+tokens=16")), timeout=10)
    nvim.lua("vim.wait(200)")  # the slow entry's snapshot reaches Neovim meanwhile
    pum = nvim.lua(PUM)
    assert pum["selected"] == 0 and pum["labels"] == ["[fast]"], pum  # selection kept
    nvim.nvim.input("<C-p>")  # back to what was typed: the slow entry is merged in
    pum = nvim.wait_for(lambda: len((p := nvim.lua(PUM))["labels"]) == 2 and p,
                        what="the merged menu")
    assert pum["labels"] == ["[fast]", "[slow]"] and pum["selected"] == -1
    assert nvim.nvim.current.buffer[:] == ["def add(a, b):", "    res"]
