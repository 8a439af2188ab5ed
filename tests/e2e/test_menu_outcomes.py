"""Arena outcomes from the menus: nvim-cmp and blink.cmp (the real vendored trees) and
the built-in popup, in a real Neovim.

Each trigger that showed two or more distinct hexai items is one outcome:
which entries were in the menu, their slot (position among hexai's items as
shown), and what the person did (confirm -> accept, abort -> dismiss,
identical items -> a tie). Blind mode shows letters in the menu.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NvimSession, vendor
from tests.e2e.test_arena import outcomes, wait_outcomes
from tests.e2e.test_menus import BLINK_SETUP, CMP_SETUP, PUM, type_in_insert_mode

CONFIG = """
[completion]
completion_debounce_ms = 30

[general]
context_mode = "window"
context_window_lines = 20

[providers.local]
kind = "ollama"
base_url = "{sim}"
{arena}
"""
ENTRY = '\n[[models.completion]]\nprovider = "local"\nmodel = "{model}"\nlabel = "{label}"\n'

#: A word for cmp-buffer / blink's buffer source to offer next to hexai's items.
SAMPLE = "def add(a, b):\n    \nresidue = 0\n"

ITEMS = {
    "cmp": """
local cmp = require('cmp')
if not cmp.visible() then return {} end
return vim.tbl_map(function(e)
  local item = e:get_completion_item()
  return { source = e.source.name, detail = item.detail or '', text = item.insertText or '' }
end, cmp.get_entries())
""",
    "blink": """
local blink = require('blink.cmp')
if not blink.is_menu_visible() then return {} end
return vim.tbl_map(function(item)
  return { source = item.source_id,
           detail = item.labelDetails and item.labelDetails.description or '',
           text = item.insertText or '' }
end, blink.get_items())
""",
}


def start(nvim: NvimSession, sim: Any, tmp_path: Path, models: list[tuple[str, str]],
          neighbour: str, arena: str = "", setup: str = "{}") -> None:
    text = CONFIG.format(sim=sim.url, arena=arena)
    for label, model in models:
        text += ENTRY.format(model=model, label=label)
    nvim.write_config(text)
    if neighbour == "cmp":
        nvim.lua(CMP_SETUP, str(vendor("nvim-cmp")), str(vendor("cmp-buffer")))
    elif neighbour == "blink":
        nvim.lua(BLINK_SETUP, str(vendor("blink.cmp")))
    nvim.setup(setup)
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")


#: Ask for the menu now, at the cursor (as a person's completion key would).
TRIGGER = {
    "cmp": "require('cmp').complete()",
    "blink": "require('blink.cmp').show()",
    "popup": "require('hexai.completion').complete('popup')",
}


def open_menu(nvim: NvimSession, neighbour: str, word: str = "res") -> None:
    """Line 2 holds ``word``; Insert mode at its end, then the menu is asked for (no
    keystroke timing decides where the menu's request starts)."""
    nvim.nvim.current.buffer[1] = "    " + word
    nvim.nvim.command("normal! 2G$")
    nvim.nvim.input("A")
    nvim.wait_for(lambda: nvim.lua("return vim.fn.mode()") == "i", what="Insert mode")
    nvim.lua("vim.wait(100)")
    nvim.lua(TRIGGER[neighbour])


def menu(nvim: NvimSession, neighbour: str) -> list[dict[str, Any]]:
    """Every item of the open menu in the order shown (hexai's and the others')."""
    if neighbour == "popup":
        pum = nvim.lua(PUM)
        if not pum["visible"]:
            return []
        return [{"source": "hexai", "detail": label.strip("[]"), "text": ""}
                for label in pum["labels"]]
    return list(nvim.lua(ITEMS[neighbour]))


def wait_menu(nvim: NvimSession, neighbour: str, count: int) -> list[dict[str, Any]]:
    """The menu once it shows ``count`` hexai items (a moment more for the rest to settle)."""
    def probe() -> Any:
        items = menu(nvim, neighbour)
        return len([i for i in items if i["source"] == "hexai"]) >= count and items
    nvim.wait_for(probe, timeout=20, what=f"{count} hexai items in the {neighbour} menu")
    nvim.lua("vim.wait(150)")
    return menu(nvim, neighbour)


def hexai_order(items: list[dict[str, Any]]) -> list[str]:
    return [i["detail"] for i in items if i["source"] == "hexai"]


def choose(nvim: NvimSession, neighbour: str, items: list[dict[str, Any]], label: str) -> None:
    """Confirm the hexai item labelled ``label`` as a person would."""
    position = [i["detail"] for i in items].index(label) + 1
    if neighbour == "cmp":
        for _ in range(position):  # from no selection the first call selects item 1
            nvim.lua("require('cmp').select_next_item({ behavior = 'select' })")
        nvim.nvim.input("<C-y>")
    elif neighbour == "blink":
        nvim.lua("require('blink.cmp').accept({ index = ... })", position)
    else:
        nvim.nvim.input("<C-n>" * position + "<C-y>")


THREE = [("a", "mo-{n}-a+ttft=0+tokens=6"), ("b", "mo-{n}-b+ttft=80+tokens=6"),
         ("c", "mo-{n}-c+ttft=160+tokens=6")]


def models(name: str, entries: list[tuple[str, str]] = THREE) -> list[tuple[str, str]]:
    return [(label, model.format(n=name)) for label, model in entries]


def popup_setup(neighbour: str) -> str:
    return "{ completion = { display = 'popup' } }" if neighbour == "popup" else "{}"


@pytest.mark.parametrize("neighbour", ["cmp", "blink", "popup"])
def test_confirming_a_menu_item_records_an_accept_with_its_entry_and_the_slots(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    start(nvim, sim, tmp_path, models(f"acc-{neighbour}"), neighbour,
          setup=popup_setup(neighbour))
    open_menu(nvim, neighbour)
    items = wait_menu(nvim, neighbour, 3)
    order = hexai_order(items)
    assert sorted(order) == ["a", "b", "c"]
    if neighbour != "popup":
        assert any(i["source"] == "buffer" for i in items), items  # a neighbour's item too
    pick = order[1]  # the second of hexai's items as shown
    choose(nvim, neighbour, items, pick)
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["surface"] == "completion" and rec["action"] == "accept"
    assert rec["via"] == {"popup": "popup"}.get(neighbour, neighbour)
    labels = [c["label"] for c in rec["candidates"]]
    assert labels == ["a", "b", "c"]
    assert rec["chosen"] == [labels.index(pick)]
    # Slot: the position among hexai's items as shown (other sources not counted).
    assert {c["label"]: c["slot"] for c in rec["candidates"]} == {
        label: k for k, label in enumerate(order)}
    assert all(c["visible"] for c in rec["candidates"]) and not rec["blind"]
    line = nvim.nvim.current.buffer[1]
    assert line.startswith("    res") and len(line) > len("    res")
    nvim.lua("vim.wait(300)")
    assert len(outcomes(nvim)) == 1  # one outcome for the trigger


@pytest.mark.parametrize("neighbour", ["cmp", "blink", "popup"])
def test_aborting_the_menu_records_a_dismiss(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    start(nvim, sim, tmp_path, models(f"abort-{neighbour}")[:2], neighbour,
          setup=popup_setup(neighbour))
    open_menu(nvim, neighbour)
    wait_menu(nvim, neighbour, 2)
    nvim.nvim.input("<C-e>")  # abort (nvim-cmp), cancel (blink.cmp), <C-e> (built-in)
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "dismiss" and rec["chosen"] == []
    assert sorted(c["slot"] for c in rec["candidates"]) == [0, 1]
    assert nvim.nvim.current.buffer[1] == "    res"


@pytest.mark.parametrize("neighbour", ["cmp", "blink"])
def test_escape_with_the_menu_open_is_a_dismiss_and_another_sources_item_is_moving_on(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    start(nvim, sim, tmp_path, models(f"esc-{neighbour}")[:2], neighbour)
    open_menu(nvim, neighbour)
    wait_menu(nvim, neighbour, 2)
    nvim.nvim.input("<Esc>")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "dismiss"
    # Next trigger: the buffer source's word is taken instead.
    open_menu(nvim, neighbour, "resi")
    items = wait_menu(nvim, neighbour, 2)
    choose(nvim, neighbour, items, next(i["detail"] for i in items if i["source"] == "buffer"))
    recs = wait_outcomes(nvim, 2)
    assert recs[1]["action"] == "moved_on" and recs[1]["chosen"] == []
    assert "residue" in nvim.nvim.current.buffer[1]


@pytest.mark.parametrize("neighbour", ["cmp", "popup"])
def test_identical_menu_items_are_a_tie(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    # Same base model (same words), other timing: identical suggestions.
    tie = [("one", "mo-tie-{n}+ttft=0+tokens=6"), ("two", "mo-tie-{n}+ttft=60+tokens=6"),
           ("other", "mo-untied-{n}+ttft=120+tokens=6")]
    start(nvim, sim, tmp_path, models(neighbour, tie), neighbour, setup=popup_setup(neighbour))
    open_menu(nvim, neighbour)
    items = wait_menu(nvim, neighbour, 3)
    choose(nvim, neighbour, items, "one")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "accept" and rec["chosen"] == [0, 1]
    assert rec["candidates"][0]["hash"] == rec["candidates"][1]["hash"]
    assert rec["candidates"][2]["hash"] != rec["candidates"][0]["hash"]


def test_typing_a_popup_suggestion_by_hand_counts_for_it(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    entries = [("a", "mo-ty-a+ttft=0+tokens=2"), ("b", "mo-ty-b+ttft=60+tokens=2")]
    start(nvim, sim, tmp_path, models("typed", entries), "popup", setup=popup_setup("popup"))
    open_menu(nvim, "popup")
    wait_menu(nvim, "popup", 2)
    texts = nvim.lua("return vim.tbl_map(function(i) return i.user_data.hexai.text end,"
                     " vim.fn.complete_info({ 'items' }).items)")
    target = texts[1]
    assert "\n" not in target and target != texts[0]
    nvim.nvim.input(target.replace("<", "<lt>") + " ")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "typed" and rec["chosen"] == [1], rec


@pytest.mark.parametrize("neighbour", ["cmp", "blink", "popup"])
def test_blind_mode_shows_letters_in_the_menu_and_reveals_after_the_choice(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    start(nvim, sim, tmp_path, models(f"blind-{neighbour}"), neighbour,
          arena="\n[arena]\nblind = true\n", setup=popup_setup(neighbour))
    open_menu(nvim, neighbour)
    items = wait_menu(nvim, neighbour, 3)
    order = hexai_order(items)
    assert sorted(order) == ["A", "B", "C"]
    shown = str(items)
    assert "'a'" not in shown and "'b'" not in shown and " ms" not in shown
    if neighbour == "popup":
        info = nvim.lua("return vim.tbl_map(function(i) return i.info end,"
                        " vim.fn.complete_info({ 'items' }).items)")
        assert not any(" ms" in i or "mo-blind" in i for i in info), info
    choose(nvim, neighbour, items, "B")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["blind"] and rec["action"] == "accept" and len(rec["chosen"]) == 1
    chosen = rec["candidates"][rec["chosen"][0]]["label"]
    message = nvim.wait_for(lambda: " = " in nvim.messages() and nvim.messages(),
                            timeout=10, what="the reveal")
    assert f"B = {chosen} ✓" in message
    assert all(f"= {label}" in message for label in "abc")


def test_ghost_text_and_a_menu_of_the_same_trigger_are_one_outcome(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    # nvim-cmp and the ghost text both on: two fan-outs, one moment, one outcome.
    start(nvim, sim, tmp_path, models("twin")[:2], "cmp",
          setup="{ completion = { display = 'ghost' } }")
    type_in_insert_mode(nvim, "res")
    nvim.wait_for(lambda: nvim.lua(
        "local s = require('hexai.ghost').snapshot(); if not s then return false end\n"
        "for _, e in pairs(s.entries) do if e.status == 'pending' then return false end end\n"
        "return true"), timeout=20, what="every ghost entry")
    items = wait_menu(nvim, "cmp", 2)
    nvim.nvim.input("<C-]>")  # dismiss the ghost text: recorded at once
    (first,) = wait_outcomes(nvim, 1)
    assert first["action"] == "dismiss" and first["via"] == "ghost"
    items = wait_menu(nvim, "cmp", 2)
    pick = hexai_order(items)[1]
    choose(nvim, "cmp", items, pick)  # then an item of the menu is taken
    lines = wait_outcomes(nvim, 2)
    assert lines[1]["id"] == first["id"]  # the same trigger: its outcome is replaced
    assert lines[1]["action"] == "accept" and lines[1]["via"] == "cmp"
    assert lines[1]["candidates"][lines[1]["chosen"][0]]["label"] == pick
    nvim.nvim.input("<Esc>")
    nvim.lua("vim.wait(500)")
    assert len(outcomes(nvim)) == 2


@pytest.mark.parametrize("neighbour", ["cmp", "blink"])
def test_typing_a_menu_suggestion_by_hand_counts_for_it(
    nvim: NvimSession, sim: Any, tmp_path: Path, neighbour: str
) -> None:
    entries = [("a", "mo-ty-a+ttft=0+tokens=2"), ("b", "mo-ty-b+ttft=60+tokens=2")]
    start(nvim, sim, tmp_path, models(f"typed-{neighbour}", entries), neighbour)
    open_menu(nvim, neighbour)
    items = wait_menu(nvim, neighbour, 2)
    texts = {i["detail"]: i["text"] for i in items if i["source"] == "hexai"}
    target = texts["b"]  # the item replaces the word "res" with its text
    assert target.startswith("res") and "\n" not in target and target != texts["a"]
    # Typed to its end, then Insert mode left. A space in it makes the menu
    # ask again (a second trigger, dismissed by the <Esc>): the first still counts.
    nvim.nvim.input(target[3:].replace("<", "<lt>"))
    nvim.wait_for(lambda: nvim.nvim.current.buffer[1] == "    " + target, what="the typing")
    nvim.lua("vim.wait(50)")  # a person's pause before <Esc>
    nvim.nvim.input("<Esc>")
    nvim.lua("vim.wait(500)")
    recs = outcomes(nvim)
    typed = [r for r in recs if r["action"] == "typed"]
    assert len(typed) == 1, [(r["action"], r["prompt_chars"]) for r in recs]
    rec = typed[0]
    assert rec["via"] == neighbour
    assert all(r["action"] == "dismiss" for r in recs if r["id"] != rec["id"])
    assert rec["candidates"][rec["chosen"][0]]["label"] == "b"
    assert nvim.nvim.current.buffer[1] == "    " + target
