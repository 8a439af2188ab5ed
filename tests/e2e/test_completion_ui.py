"""The Lua side of completion in a real Neovim, with the host replaced by a recorder.

These pin down what Lua decides on its own: debounce before any RPC,
staleness, typing through a suggestion, accept/next/prev, layouts, switches.
The full path through the Python host and the simulator is in
``test_completion.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NvimSession

STUB = """
_G.sent = {}
package.loaded['hexai.rpc'] = {
  reset = function() end,
  notify = function(method, payload)
    table.insert(_G.sent, { method = method, payload = payload, at = vim.uv.hrtime() })
    return true
  end,
  request = function() return nil, 'stub' end,
}
"""


@pytest.fixture
def ui(tmp_path: Path, manifest: Path) -> Iterator[NvimSession]:
    session = NvimSession(tmp_path, manifest)
    try:
        session.lua(STUB)
        session.lua("require('hexai').setup(...)", {"completion": {"layout": "stack"}})
        session.lua(
            "require('hexai').on_settings({debounce_ms = 30, trigger_characters = {'.'}, "
            "entries = {completion = {'fast', 'slow'}}})"
        )
        (tmp_path / "demo.py").write_text("def add(a, b):\n    \n")
        session.nvim.command(f"edit {tmp_path / 'demo.py'}")
        yield session
    finally:
        session.close()


def sent(nvim: NvimSession, method: str | None = None) -> list[dict[str, Any]]:
    calls = nvim.lua("return _G.sent")
    return [c for c in calls if method is None or c["method"] == method]


def answer(nvim: NvimSession, entries: list[dict[str, Any]], done: bool = True,
           seq: int | None = None) -> None:
    """Send a snapshot for the last 'complete' as the host would."""
    last = sent(nvim, "complete")[-1]["payload"]
    snapshot = {
        "seq": seq if seq is not None else last["seq"], "slot": last["slot"], "buf": last["buf"],
        "row": last["row"] - 1, "col": last["col"], "done": done, "entries": entries,
    }
    nvim.lua("require('hexai.completion').on_update(...)", snapshot)


def ok(index: int, label: str, text: str, ms: int = 10) -> dict[str, Any]:
    return {"index": index, "label": label, "status": "ok", "text": text, "ms": ms}


def ghost(nvim: NvimSession) -> Any:
    return nvim.lua("return require('hexai.ghost').snapshot()")


def line(nvim: NvimSession, row: int = 2) -> str:
    return str(nvim.nvim.current.buffer[row - 1])


def type_and_wait_trigger(nvim: NvimSession, keys: str, count: int = 1) -> dict[str, Any]:
    nvim.nvim.input(keys)
    nvim.wait_for(lambda: len(sent(nvim, "complete")) >= count, what="complete request")
    payload: dict[str, Any] = sent(nvim, "complete")[-1]["payload"]
    return payload


def test_keystrokes_are_debounced_before_any_rpc(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    ui.nvim.input("Aret")
    ui.wait_for(lambda: ui.nvim.api.get_mode()["mode"] == "i")
    assert sent(ui) == []  # nothing crossed before the debounce elapsed
    payload = type_and_wait_trigger(ui, "urn")
    assert len(sent(ui, "complete")) == 1
    assert (payload["slot"], payload["row"], payload["col"]) == ("ghost", 2, len("    return"))
    assert payload["filetype"] == "python" and payload["path"].endswith("demo.py")


def test_a_trigger_character_fires_without_the_debounce(ui: NvimSession) -> None:
    ui.lua("require('hexai').on_settings({debounce_ms = 5000})")
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Aself.")


def test_typing_through_keeps_and_shortens_anything_else_starts_over(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "a + b"), ok(1, "slow", "b + a")])
    assert ghost(ui)["selected_text"] == "a + b"
    ui.nvim.input("a ")
    ui.wait_for(lambda: (ghost(ui) or {}).get("typed") == "a ", what="typed through")
    assert ghost(ui)["selected_text"] == "+ b"
    # The other entry no longer matches: its line is gone.
    marks = ui.extmarks("hexai.ghost")
    assert not any("b + a" in str(m) for m in marks)
    ui.nvim.input("-")
    ui.wait_for(lambda: ghost(ui) is None, what="ghost cleared")
    ui.wait_for(lambda: len(sent(ui, "complete")) == 2, what="re-trigger")


def test_a_late_answer_of_an_old_request_is_never_drawn(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Ax")
    first_seq = sent(ui, "complete")[-1]["payload"]["seq"]
    type_and_wait_trigger(ui, "y", count=2)
    assert sent(ui, "cancel")  # the first was still running
    answer(ui, [ok(0, "fast", "OLD")], seq=first_seq)
    assert ghost(ui) is None
    answer(ui, [ok(0, "fast", "NEW")])
    assert ghost(ui)["selected_text"] == "NEW"


def test_a_keystroke_cancels_the_running_request(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Ax")
    answer(ui, [{"index": 0, "label": "fast", "status": "pending", "text": ""}], done=False)
    ui.nvim.input("y")
    ui.wait_for(lambda: sent(ui, "cancel"), what="cancel")
    assert sent(ui, "cancel")[0]["payload"] == {"slot": "ghost"}


def test_accept_word_line_and_all(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "total_sum(a, b)\n    # end")])
    ui.nvim.input("<Plug>(hexai-accept-word)")
    ui.wait_for(lambda: line(ui) == "    return total_sum", what="word accepted")
    assert ghost(ui)["selected_text"] == "(a, b)\n    # end"
    ui.nvim.input("<Plug>(hexai-accept-line)")
    ui.wait_for(lambda: line(ui) == "    return total_sum(a, b)", what="line accepted")
    ui.nvim.input("<Plug>(hexai-accept)")
    ui.wait_for(lambda: line(ui, 3) == "    # end", what="rest accepted")
    assert ui.nvim.api.get_mode()["mode"] == "i"
    assert tuple(ui.nvim.current.window.cursor) == (3, len("    # end"))


def test_next_and_prev_select_other_entries_and_arrivals_keep_the_selection(
    ui: NvimSession,
) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    pending = {"index": 0, "label": "slow", "status": "pending", "text": ""}
    answer(ui, [pending, ok(1, "fast", "b")], done=False)
    assert ghost(ui)["selected"] == "fast"
    answer(ui, [ok(0, "slow", "a", ms=200), ok(1, "fast", "b")])
    assert ghost(ui)["selected"] == "fast"  # a later arrival does not take over
    ui.nvim.input("<M-]>")
    ui.wait_for(lambda: ghost(ui)["selected"] == "slow", what="next")
    ui.nvim.input("<M-[>")
    ui.wait_for(lambda: ghost(ui)["selected"] == "fast", what="prev")


def test_stack_layout_labels_every_entry(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    error = {"index": 2, "label": "bad", "status": "error", "text": "", "ms": 5,
             "error_kind": "auth", "error_message": "HTTP 401: invalid key"}
    pending = {"index": 1, "label": "slow", "status": "pending", "text": ""}
    answer(ui, [ok(0, "fast", "a + b", ms=12), pending, error], done=False)
    text = str(ui.extmarks("hexai.ghost"))
    assert "'a + b', 'HexaiSuggestion'" in text
    assert "[fast 12 ms]" in text and "[slow …]" in text
    assert "[bad 5 ms] " in text and "auth: HTTP 401: invalid key" in text
    # The failed entry's line is dim (not an alarm): its own group, dim by default.
    assert "'auth: HTTP 401: invalid key', 'HexaiErrorDim'" in text
    hl = ui.lua("return vim.api.nvim_get_hl(0, { name = 'HexaiErrorDim', link = false })")
    # Dim in a terminal too: DiagnosticUnnecessary (-> Comment) has no terminal colour.
    assert hl.get("ctermfg") == 243


def test_cycle_layout_shows_one_suggestion_with_its_position(ui: NvimSession) -> None:
    ui.lua("require('hexai.completion').config.layout = 'cycle'")
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "a"), ok(1, "slow", "b")])
    text = str(ui.extmarks("hexai.ghost"))
    assert "(1/2 fast 10 ms)" in text and "'b'" not in text


def test_leaving_insert_mode_clears_everything(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "a")])
    assert ui.extmarks("hexai.ghost")
    ui.nvim.input("<Esc>")
    ui.wait_for(lambda: not ui.extmarks("hexai.ghost"), what="cleared")


def test_switches_disable_triggering(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    ui.lua("vim.b.hexai_disable = true")
    ui.nvim.input("Aabc<Esc>")
    ui.lua("vim.b.hexai_disable = false")
    ui.nvim.command("HexaiToggle off")
    ui.nvim.input("Adef<Esc>")
    ui.nvim.command("HexaiToggle on")
    ui.lua("vim.bo.filetype = 'gitcommit'")
    ui.nvim.input("Aghi")
    ui.lua("vim.wait(100)")
    assert sent(ui, "complete") == []
    assert ui.lua("return require('hexai').status()") == ""
    ui.nvim.command("HexaiToggle off")
    assert ui.lua("return require('hexai').status()") == "hexai: off"


def test_min_prefix_applies_to_automatic_triggers_only(ui: NvimSession) -> None:
    ui.lua("require('hexai').on_settings({manual_invoke_min_prefix = 3})")
    ui.nvim.command("normal! 2G$")
    ui.nvim.input("Ax = ab")
    ui.lua("vim.wait(120)")
    assert sent(ui, "complete") == []
    type_and_wait_trigger(ui, "c")  # "abc" reaches the minimum
    ui.nvim.command("HexaiComplete")
    assert sent(ui, "complete")[-1]["payload"]["manual"] is True
