""":HexaiAsk read at a glance: a real Neovim with an 80x24 UI, the real host, the simulator.

Three entries: a quick one, one with a long answer (far more lines than the
screen) and one that fails with HTTP 401. What is on the screen is read with
``screenstring()`` after a redraw, as a person would see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NvimSession

QUICK = "quickmodel+tokens=8"
LONG = "longmodel+ttft=400+tps=3000+tokens=600"
BROKEN = "brokenmodel+status=401"


def config(sim_url: str) -> str:
    text = f'[providers.sim]\nkind = "openai-compatible"\nbase_url = "{sim_url}/v1"\n'
    for label, model in (("quick", QUICK), ("long", LONG), ("broken", BROKEN)):
        text += f'\n[[models.ask]]\nprovider = "sim"\nmodel = "{model}"\nlabel = "{label}"\n'
    return text


def state(nvim: NvimSession) -> Any:
    return nvim.lua("return require('hexai.ask').state()")


def finished(nvim: NvimSession) -> bool:
    st = state(nvim)
    return bool(st) and all(s["status"] not in ("pending", "streaming") for s in st["sections"])


@pytest.fixture
def ui(tmp_path: Path, manifest: Path, sim: Any) -> Iterator[NvimSession]:
    session = NvimSession(tmp_path, manifest)
    try:
        session.attach_ui(80, 24)
        session.write_config(config(sim.url))
        session.setup()
        for name in ("code.py", "other.py"):
            (tmp_path / name).write_text(f"# {name}\ndef f(x):\n    return x + 1\n")
        session.nvim.command(f"edit {tmp_path / 'code.py'}")
        yield session
    finally:
        session.close()


def ask(nvim: NvimSession, question: str = "what does f do?") -> Any:
    before = (state(nvim) or {}).get("id", 0)
    nvim.nvim.command(f"HexaiAsk {question}")
    nvim.wait_for(lambda: (state(nvim) or {}).get("id", 0) > before, what="the ask to begin")
    nvim.wait_for(lambda: finished(nvim), timeout=20, what="every entry to end")
    return state(nvim)


def seconds(figure: str) -> float:
    value, unit = figure.split()
    return float(value) / (1000 if unit == "ms" else 1)


def row_with(screen: list[str], *words: str) -> str | None:
    return next((row for row in screen if all(w in row for w in words)), None)


def test_three_entries_at_80x24_show_every_label_state_and_the_fastest(ui: NvimSession) -> None:
    st = ask(ui)
    assert [s["status"] for s in st["sections"]] == ["ok", "ok", "error"]
    assert st["view"]["layout"] == "stacked"  # 3 x 60 cells do not fit in 80
    assert len(st["sections"][1]["text"].splitlines()) > 40  # the long answer
    screen = ui.screen()
    text = "\n".join(screen)
    quick = row_with(screen, "quick", "done", "ttft", "total", "tok/s")
    long = row_with(screen, "long", "done", "ttft", "total", "tok/s")
    broken = row_with(screen, "broken", "error (auth)")
    assert quick and long and broken, text
    # The fastest mark is on the answered entry with the lowest total (whichever
    # that was on this loaded machine), and only there.
    totals = [seconds(s["score"]["total"]) for s in st["sections"][:2]]
    fastest, other = (quick, long) if totals[0] <= totals[1] else (long, quick)
    assert "★" in fastest and "★" not in other and "★" not in broken, text
    assert row_with(screen, "what does f do?", "★ fastest", "? keys"), text  # the legend
    assert st["fastest"] == totals.index(min(totals)) + 1
    assert "HTTP 401" in broken, text
    # The scoreboard never runs past its window: a long error ends in "…".
    ui.resize_ui(56, 24)
    ui.lua("require('hexai.ask_view').render_all()")
    score_width = ui.lua("return vim.api.nvim_win_get_width(...)", st["view"]["score_win"])
    board = ui.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", st["view"]["score_buf"])
    assert all(ui.lua("return vim.fn.strdisplaywidth(...)", row) <= score_width for row in board), (
        score_width, board)
    assert board[2].endswith("…") and "HTTP 401: Invalid" in board[2], board
    ui.resize_ui(80, 24)
    ui.lua("require('hexai.ask_view').render_all()")
    # The question is shown once, in the scoreboard's winbar, not per window.
    assert text.count("what does f do?") == 1, text
    # Header lines are cut to their window, never wrapped into the text.
    info = st["view"]
    width = ui.lua("return vim.api.nvim_win_get_width(...)", info["wins"][0])
    lines = ui.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", info["stack_buf"])
    headers = [line for line in lines if line.startswith("## ")]
    assert [h.split(" · ")[0] for h in headers] == ["## quick", "## long", "## broken"]
    for header in headers:
        assert ui.lua("return vim.fn.strdisplaywidth(...)", header) <= width
    # Every section's header is one keystroke away: 3 goes to the third.
    ui.lua("vim.api.nvim_set_current_win(...)", info["wins"][0])
    ui.feed("3")
    ui.wait_for(lambda: ui.lua("return vim.api.nvim_get_current_line()").startswith("## broken"),
                what="the cursor on the broken header")
    assert row_with(ui.screen(), "## broken", "error (auth)")
    # <CR> on a scoreboard line goes to that entry's answer.
    ui.lua("vim.api.nvim_set_current_win(...); vim.api.nvim_win_set_cursor(0, {2, 0})",
           info["score_win"])
    ui.feed("<CR>")
    ui.wait_for(lambda: ui.lua("return vim.api.nvim_get_current_line()").startswith("## long"),
                what="the cursor on the long header")


def test_question_mark_lists_the_keys_and_the_view_opens_with_a_hint(ui: NvimSession) -> None:
    ask(ui)
    screen = ui.screen()
    assert row_with(screen, "? keys"), "\n".join(screen)
    # The hint in the message area fits its row (no hit-enter prompt).
    hint = "hexai ask: ? keys · ]] next · d diff · y yank · p insert · q close"
    assert screen[-1].rstrip() == hint
    ui.feed("?")
    ui.wait_for(lambda: row_with(ui.screen(), "close the results"), what="the key list")
    text = "\n".join(ui.screen())
    for words in ("list these keys", "yank the answer", "diff two answers", "go to answer N",
                  "next answer", "switch stacked / columns", "ask again", "cancel what is"):
        assert words in text, text
    ui.feed("q")
    ui.wait_for(lambda: not row_with(ui.screen(), "close the results"), what="the list closed")


def test_the_hint_can_be_turned_off(ui: NvimSession) -> None:
    ui.lua("require('hexai').setup({ ask = { hint = false } })")
    ui.wait_host()
    ask(ui)
    screen = ui.screen()
    assert not row_with(screen, "? keys"), "\n".join(screen)
    assert not screen[-1].startswith("hexai ask:")


def test_d_diffs_the_two_answered_entries_without_asking(ui: NvimSession) -> None:
    st = ask(ui)
    ui.lua("_G.asked = 0; vim.ui.select = function(...) _G.asked = _G.asked + 1 end")
    ui.feed("d")
    ui.wait_for(lambda: len(ui.lua("return vim.api.nvim_list_tabpages()")) == 2, what="diff tab")
    assert ui.lua("return _G.asked") == 0
    wins = ui.lua("return vim.api.nvim_tabpage_list_wins(0)")
    assert len(wins) == 2 and all(ui.lua("return vim.wo[...].diff", w) for w in wins)
    get = "return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(...), 0, -1, false)"
    shown = sorted("\n".join(ui.lua(get, w)) for w in wins)
    assert shown == sorted([st["sections"][0]["text"], st["sections"][1]["text"]])


def test_a_new_ask_never_takes_a_window_that_shows_a_file(ui: NvimSession, tmp_path: Path) -> None:
    ui.nvim.command(f"badd {tmp_path / 'other.py'}")
    st = ask(ui)
    ui.lua("vim.api.nvim_set_current_win(...)", st["view"]["wins"][0])
    ui.nvim.command("only")
    ui.nvim.command("b other")
    other_win = ui.lua("return vim.api.nvim_get_current_win()")
    ask(ui, "and now?")
    assert ui.lua("return vim.api.nvim_win_is_valid(...)", other_win)
    assert ui.lua("return vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(...))",
                  other_win).endswith("other.py")
    view = state(ui)["view"]
    assert other_win not in view["wins"] and view["score_win"] != other_win
    assert row_with(ui.screen(), "quick", "done")


def test_after_a_resize_the_columns_share_the_width_and_the_view_its_rows(
    ui: NvimSession,
) -> None:
    ui.nvim.command("HexaiAskLayout columns")
    st = ask(ui)
    assert st["view"]["layout"] == "columns" and len(st["view"]["wins"]) == 3

    def widths() -> list[int]:
        return [ui.lua("return vim.api.nvim_win_get_width(...)", w) for w in st["view"]["wins"]]

    for columns, lines in ((131, 30), (97, 40), (200, 50)):
        ui.resize_ui(columns, lines)
        ui.wait_for(lambda c=columns: max(widths()) - min(widths()) <= 1  # type: ignore[misc]
                    and sum(widths()) + 2 == c, what=f"balanced columns; widths={widths()}")
        score_h = ui.lua("return vim.api.nvim_win_get_height(...)", st["view"]["score_win"])
        body_h = ui.lua("return vim.api.nvim_win_get_height(...)", st["view"]["wins"][0])
        assert score_h == 3 + 1  # and its winbar
        assert body_h == lines // 2 - 3 - 3
