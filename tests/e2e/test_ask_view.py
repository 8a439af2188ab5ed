"""The Lua side of :HexaiAsk and :HexaiCodeAction in a real Neovim, host replaced by a recorder.

These pin down what Lua draws and does on its own (sections, headers, layouts,
yank/insert, diff, preview, one-step undo). The full path through the Python
host and the simulator is in ``test_ask.py`` and ``test_code_action.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NvimSession

STUB = """
_G.sent = {}
_G.answers = {}
package.loaded['hexai.rpc'] = {
  reset = function() end,
  notify = function(method, payload)
    table.insert(_G.sent, { method = method, payload = payload })
    return true
  end,
  request = function(method, payload)
    table.insert(_G.sent, { method = method, payload = payload })
    local a = _G.answers[method]
    if a then return a, nil end
    return nil, 'stub'
  end,
}
"""

ENTRIES = [{"index": 0, "label": "fast", "key": "sim:fast"},
           {"index": 1, "label": "slow", "key": "sim:slow"}]


@pytest.fixture
def ui(tmp_path: Path, manifest: Path) -> Iterator[NvimSession]:
    session = NvimSession(tmp_path, manifest)
    try:
        session.nvim.command("set lines=40 columns=160")
        session.lua(STUB)
        session.lua("require('hexai').setup({})")
        (tmp_path / "demo.py").write_text("def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n")
        session.nvim.command(f"edit {tmp_path / 'demo.py'}")
        yield session
    finally:
        session.close()


def sent(nvim: NvimSession, method: str) -> list[Any]:
    return [c.get("payload") for c in nvim.lua("return _G.sent") if c["method"] == method]


def begin(nvim: NvimSession, run_id: int = 1, layout: str = "stacked") -> None:
    nvim.lua("require('hexai.ask').on_begin(...)", run_id,
             {"prompt": "why?", "layout": layout, "entries": ENTRIES})


def update(nvim: NvimSession, index: int, data: dict[str, Any], run_id: int = 1) -> None:
    nvim.lua("require('hexai.ask').on_update(...)", run_id, index, data)


def view_lines(nvim: NvimSession) -> list[str]:
    return list(nvim.lua(
        "local v = require('hexai.ask').state().view\n"
        "return vim.api.nvim_buf_get_lines(v.stack_buf, 0, -1, false)"))


def test_ask_sends_prompt_and_selected_lines_with_file_and_filetype(ui: NvimSession) -> None:
    ui.nvim.command("2,3HexaiAsk explain this")
    (payload,) = sent(ui, "ask.start")
    assert payload["prompt"] == "explain this"
    file = payload["context"].pop("file")  # the full name, for [ignore]
    assert file.endswith("/demo.py") and file.startswith("/")
    assert payload["context"] == {"text": "    return a + b\n", "filename": "demo.py",
                                  "filetype": "python"}


def test_no_prompt_asks_with_vim_ui_input(ui: NvimSession) -> None:
    ui.lua("vim.ui.input = function(opts, cb) _G.asked = opts.prompt; cb('typed question') end")
    ui.nvim.command("HexaiAsk")
    assert ui.lua("return _G.asked").startswith("hexai ask")
    assert sent(ui, "ask.start")[0]["prompt"] == "typed question"
    assert "context" not in sent(ui, "ask.start")[0] or sent(ui, "ask.start")[0]["context"] is None


def test_stacked_sections_stream_and_end_with_stats(ui: NvimSession) -> None:
    begin(ui)
    lines = view_lines(ui)
    assert lines[0] == "## fast · waiting…" and "## slow · waiting…" in lines
    update(ui, 0, {"status": "streaming", "append": "Hello"})
    update(ui, 0, {"status": "streaming", "append": " world\nsecond line"})
    update(ui, 1, {"status": "streaming", "append": "Slow one"})
    lines = view_lines(ui)
    assert lines[:4] == ["## fast · streaming…", "Hello world", "second line", ""]
    assert lines[4:6] == ["## slow · streaming…", "Slow one"]
    update(ui, 0, {"status": "ok", "stats": "ttft 5 ms · total 9 ms"})
    update(ui, 1, {"status": "error", "stats": "total 3 ms",
                   "error_kind": "auth", "error_message": "bad key", "error_status": 401})
    lines = view_lines(ui)
    assert lines[0] == "## fast · done · ttft 5 ms · total 9 ms"
    assert lines[4] == "## slow · error (auth) · total 3 ms"
    assert lines[5:8] == ["Slow one", "", "✗ auth: HTTP 401: bad key"]
    # Updates of an older ask are ignored.
    update(ui, 0, {"append": "late"}, run_id=0)
    assert view_lines(ui) == lines
    stack_buf = ui.lua("return require('hexai.ask').state().view.stack_buf")
    assert ui.lua("return vim.bo[...].filetype", stack_buf) == "markdown"


def test_columns_layout_gives_one_window_per_entry_and_switches_back(ui: NvimSession) -> None:
    begin(ui, layout="columns")
    update(ui, 1, {"status": "streaming", "append": "B text"})
    info = ui.lua("return require('hexai.ask').state().view")
    assert info["layout"] == "columns" and len(info["wins"]) == 2
    bufs = [ui.lua("return vim.api.nvim_win_get_buf(...)", w) for w in info["wins"]]
    texts = [ui.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", b) for b in bufs]
    assert texts[0][0].startswith("## fast") and texts[1] == ["## slow · streaming…", "B text"]
    # Side by side: same top row, different columns.
    positions = [ui.lua("return vim.api.nvim_win_get_position(...)", w) for w in info["wins"]]
    assert positions[0][0] == positions[1][0] and positions[0][1] < positions[1][1]
    ui.feed("t")
    ui.wait_for(lambda: ui.lua("return require('hexai.ask').state().view.layout") == "stacked")
    info = ui.lua("return require('hexai.ask').state().view")
    assert len(info["wins"]) == 1
    assert view_lines(ui)[3:5] == ["## slow · streaming…", "B text"]


def test_yank_and_insert_the_answer_under_the_cursor(ui: NvimSession) -> None:
    source = ui.nvim.current.buffer.number
    ui.nvim.command("2,2HexaiAsk rewrite")
    begin(ui)
    update(ui, 0, {"status": "ok", "append": "A answer"})
    update(ui, 1, {"status": "ok", "append": "B answer\n```python\ncode()\n```"})
    ui.lua("vim.api.nvim_win_set_cursor(0, {6, 0})")  # inside the slow section
    ui.feed("y")
    ui.wait_for(lambda: "B answer" in ui.lua("return vim.fn.getreg('\"')"))
    ui.feed("P")  # code only, below line 2 of the source
    want = ["def add(a, b):", "    return a + b", "code()", ""]
    ui.wait_for(lambda: ui.lua("return vim.api.nvim_buf_get_lines(..., 0, 4, false)", source)
                == want, what="code inserted below the range")
    ui.lua("vim.api.nvim_win_set_cursor(0, {1, 0})")
    ui.feed("p")
    ui.wait_for(lambda: "A answer" in ui.lua(
        "return vim.api.nvim_buf_get_lines(..., 0, -1, false)", source))


def test_diff_opens_two_answers_in_diff_mode(ui: NvimSession) -> None:
    begin(ui)
    update(ui, 0, {"status": "ok", "append": "same\nA"})
    update(ui, 1, {"status": "ok", "append": "same\nB"})
    ui.nvim.command("HexaiAskDiff 1 slow")
    wins = ui.lua("return vim.api.nvim_tabpage_list_wins(0)")
    assert len(wins) == 2
    assert all(ui.lua("return vim.wo[...].diff", w) for w in wins)
    get = "return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(...), 0, -1, false)"
    contents = sorted(tuple(ui.lua(get, w)) for w in wins)
    assert contents == [("same", "A"), ("same", "B")]


def test_retry_cancel_and_close_keys(ui: NvimSession) -> None:
    begin(ui)
    ui.feed("r")
    ui.wait_for(lambda: len(sent(ui, "ask.retry")) == 1)
    ui.nvim.command("HexaiCancel")
    assert len(sent(ui, "ask.cancel")) == 1
    ui.lua("require('hexai.ask_view').focus_section(1)")
    ui.feed("q")
    ui.wait_for(lambda: not ui.lua("return require('hexai.ask_view').is_open()"))


def test_commands_and_plug_mappings_exist(ui: NvimSession) -> None:
    commands = ui.lua("return vim.tbl_keys(vim.api.nvim_get_commands({}))")
    for name in ("HexaiAsk", "HexaiAskRetry", "HexaiAskDiff", "HexaiAskLayout", "HexaiCancel",
                 "HexaiCodeAction", "HexaiConfigCheck", "HexaiConfigReload"):
        assert name in commands
    for mode in ("n", "x"):
        assert ui.lua(f"return vim.fn.maparg('<Plug>(hexai-ask)', '{mode}')") != ""
        assert ui.lua(f"return vim.fn.maparg('<Plug>(hexai-code-action)', '{mode}')") != ""


# -- code action ---------------------------------------------------------------


def test_code_action_previews_then_applies_as_one_undo_step(ui: NvimSession) -> None:
    ui.lua("_G.answers['code_action.list'] = {entry = 'sim:first', actions = {"
           "{id = 'rewrite', title = 'Rewrite selection…', asks_instruction = true},"
           "{id = 'simplify', title = 'Simplify and improve', asks_instruction = false}}}")
    ui.lua("vim.ui.select = function(items, opts, cb) "
           "_G.menu = {opts.prompt, #items}; cb(items[2]) end")
    source = ui.nvim.current.buffer.number
    before = ui.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", source)
    seq_before = ui.lua("return vim.fn.undotree(...).seq_last", source)
    ui.nvim.command("1,2HexaiCodeAction")
    assert ui.lua("return _G.menu") == ["hexai code action (sim:first)", 2]
    (payload,) = sent(ui, "code_action.run")
    assert payload["action"] == "simplify"
    assert payload["selection"] == "def add(a, b):\n    return a + b"
    ui.lua("require('hexai.code_action').on_result(...)", payload["id"], {
        "status": "ok", "label": "sim:first", "title": "Simplify and improve",
        "text": "def add(a, b):\n    return b + a", "stats": "total 5 ms"})
    preview = ui.lua("return require('hexai.code_action').state().preview")
    assert "-    return a + b" in preview["lines"] and "+    return b + a" in preview["lines"]
    assert ui.lua("return vim.bo.filetype") == "diff"
    ui.feed("a")
    ui.wait_for(lambda: ui.lua("return vim.api.nvim_buf_get_lines(..., 1, 2, false)", source)
                == ["    return b + a"], what="applied")
    assert ui.lua("return vim.fn.undotree(...).seq_last", source) == seq_before + 1
    ui.lua("vim.api.nvim_buf_call(..., function() vim.cmd('undo') end)", source)
    assert ui.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", source) == before


def test_code_action_is_refused_when_the_lines_changed(ui: NvimSession) -> None:
    ui.lua("_G.answers['code_action.list'] = {entry = 'e', actions = {"
           "{id = 'document', title = 'Document code', asks_instruction = false}}}")
    ui.lua("vim.ui.select = function(items, opts, cb) cb(items[1]) end")
    ui.nvim.command("1HexaiCodeAction")
    (payload,) = sent(ui, "code_action.run")
    ui.nvim.current.buffer[0] = "def add(x, y):"
    ui.lua("require('hexai.code_action').on_result(...)", payload["id"], {
        "status": "ok", "label": "e", "title": "Document code", "text": "# doc\ndef add(a, b):"})
    assert ui.lua("return require('hexai.code_action').apply()") is False
    assert ui.nvim.current.buffer[0] == "def add(x, y):"
    assert "changed since" in ui.messages()


def test_code_action_sends_the_diagnostics_of_the_range(ui: NvimSession) -> None:
    ui.lua("_G.answers['code_action.list'] = {entry = 'e', actions = {"
           "{id = 'diagnostics', title = 'Resolve diagnostics', asks_instruction = false}}}")
    ui.lua("vim.ui.select = function(items, opts, cb) cb(items[1]) end")
    ui.lua("local ns = vim.api.nvim_create_namespace('test')\n"
           "vim.diagnostic.set(ns, 0, {\n"
           "  {lnum = 1, col = 4, message = 'undefined name b', severity = 1, source = 'lint'},\n"
           "  {lnum = 3, col = 0, message = 'outside', severity = 2},\n"
           "})")
    ui.nvim.command("1,2HexaiCodeAction")
    (listed,) = sent(ui, "code_action.list")
    assert listed["has_diagnostics"] is True
    (payload,) = sent(ui, "code_action.run")
    assert payload["diagnostics"] == ["line 2: error: undefined name b [lint]"]
    ui.nvim.command("3HexaiCodeAction")
    assert sent(ui, "code_action.list")[1]["has_diagnostics"] is False


# -- at a glance -----------------------------------------------------------------

FOUR = [{"index": i, "label": name, "key": f"sim:{name}"}
        for i, name in enumerate(["a", "b", "c", "bad"])]


def test_diff_offers_only_answered_entries_and_the_second_list_keeps_the_numbers(
    ui: NvimSession,
) -> None:
    ui.lua("require('hexai.ask').on_begin(1, {prompt = 'q', layout = 'stacked', entries = ...})",
           FOUR)
    for i in range(3):
        update(ui, i, {"status": "ok", "append": f"answer {i}"})
    update(ui, 3, {"status": "error", "error_kind": "auth", "error_message": "no"})
    ui.lua("_G.lists = {}\n"
           "vim.ui.select = function(items, opts, cb)\n"
           "  local shown = {}\n"
           "  for _, it in ipairs(items) do table.insert(shown, opts.format_item(it)) end\n"
           "  table.insert(_G.lists, shown)\n"
           "  cb(items[#_G.lists == 1 and 2 or 3])\n"
           "end")
    ui.nvim.command("HexaiAskDiff")
    assert ui.lua("return _G.lists") == [["a", "b", "c"], ["a", "b (first)", "c"]]
    get = "return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(...), 0, -1, false)"
    wins = ui.lua("return vim.api.nvim_tabpage_list_wins(0)")
    assert sorted(ui.lua(get, w)[0] for w in wins) == ["answer 1", "answer 2"]


def test_diff_with_fewer_than_two_answers_says_so(ui: NvimSession) -> None:
    begin(ui)
    update(ui, 0, {"status": "ok", "append": "only one"})
    update(ui, 1, {"status": "cancelled", "error_kind": "cancelled",
                   "error_message": "stop"})
    ui.nvim.command("HexaiAskDiff")
    assert "needs two answered entries (1 answered)" in ui.messages()
    assert len(ui.lua("return vim.api.nvim_list_tabpages()")) == 1
    # A cancelled entry reads "cancelled", not "cancelled (cancelled)".
    assert "## slow · cancelled" in view_lines(ui)


def test_auto_layout_is_columns_when_every_answer_gets_60_cells(ui: NvimSession) -> None:
    resolve = "return require('hexai.ask_view').resolve_layout('auto', ...)"
    ui.nvim.command("set columns=120")
    assert ui.lua(resolve, 2) == "stacked"
    ui.nvim.command("set columns=121")
    assert ui.lua(resolve, 2) == "columns" and ui.lua(resolve, 3) == "stacked"
    ui.nvim.command("set columns=182")
    assert ui.lua(resolve, 3) == "columns"
    assert ui.lua(resolve, 1) == "stacked"
    begin(ui, layout="auto")
    assert ui.lua("return require('hexai.ask').state().view.layout") == "columns"


def test_key_table_is_one_list_that_maps_lists_and_configures(ui: NvimSession) -> None:
    ui.lua("require('hexai').setup({ ask = { keys = { diff = 'D', retry = false } } })")
    begin(ui)
    keys = {k[0]: k[1] for k in ui.lua("return require('hexai.ask').key_list()")}
    assert keys["D"] == "diff two answers" and "d" not in keys
    assert "ask again" not in keys.values()
    assert ui.lua("return vim.fn.maparg('D', 'n', false, true).desc") == "hexai: diff two answers"
    assert ui.lua("return vim.fn.maparg('r', 'n')") == ""


def test_asking_again_from_the_view_keeps_the_buffer_the_answers_go_to(ui: NvimSession) -> None:
    source = ui.nvim.current.buffer.number
    ui.nvim.command("HexaiAsk first")
    begin(ui)
    update(ui, 0, {"status": "ok", "append": "A answer"})
    ui.nvim.command("HexaiAsk again")  # the cursor is in the view now
    begin(ui, run_id=2)
    update(ui, 0, {"status": "ok", "append": "second answer"}, run_id=2)
    ui.lua("require('hexai.ask_view').focus_section(1)")
    ui.feed("p")
    ui.wait_for(lambda: "second answer" in ui.lua(
        "return vim.api.nvim_buf_get_lines(..., 0, -1, false)", source), what="inserted")


def test_a_new_ask_opens_at_the_top_where_the_last_one_was_left_at_the_end(
    ui: NvimSession,
) -> None:
    begin(ui)
    update(ui, 0, {"status": "ok", "append": "line\n" * 60})
    update(ui, 1, {"status": "ok", "append": "more\n" * 60})
    ui.nvim.input("G")
    assert ui.lua("return vim.fn.line('.')") > 60
    ui.nvim.input("q")
    ui.wait_for(lambda: not ui.lua("return require('hexai.ask_view').is_open()"), what="closed")
    begin(ui, run_id=2)
    ui.wait_for(lambda: ui.lua("return vim.b.hexai_ask") or None, what="the view again")
    assert ui.lua("return { vim.fn.line('.'), vim.fn.line('w0') }") == [1, 1]
