"""How the ghost text looks in a real Neovim (host replaced by a recorder, see
``test_completion_ui``): cursor, colours, a calm layout, never hidden."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import NvimSession
from tests.e2e.test_completion_ui import answer, ghost, ok, type_and_wait_trigger, ui

__all__ = ["ui"]

PENDING = "pending"


def pending(index: int, label: str) -> dict[str, Any]:
    return {"index": index, "label": label, "status": PENDING, "text": ""}


def screen(nvim: NvimSession) -> list[str]:
    rows: list[str] = nvim.lua("""
      vim.cmd('redraw!')
      local out = {}
      for r = 1, vim.o.lines do
        local s = ''
        for c = 1, vim.o.columns do s = s .. vim.fn.screenstring(r, c) end
        out[#out + 1] = s
      end
      return out
    """)
    return rows


def lines_below(nvim: NvimSession) -> int:
    """Virtual lines drawn below the cursor line (what pushes the code down)."""
    count: int = nvim.lua("""
      local n = 0
      local ns = require('hexai.ghost').ns
      for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
        local d = m[4]
        if d.virt_lines and not d.virt_lines_above then n = n + #d.virt_lines end
      end
      return n
    """)
    return count


def test_the_cursor_stays_at_the_typed_column_before_the_ghost_text(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "a + b"), ok(1, "slow", "b + a")])
    typed_col = len("    return ")
    assert ui.lua("return vim.fn.col('.')") == typed_col + 1
    ui.lua("vim.cmd('redraw!')")
    # wincol() is where the cursor is drawn: before the inline suggestion.
    assert ui.lua("return vim.fn.wincol()") == typed_col + 1
    assert "a + b" in screen(ui)[1]


def test_ghost_text_is_dim_in_a_256_colour_terminal_and_colour_schemes_win(
    ui: NvimSession,
) -> None:
    ui.lua("vim.o.termguicolors = false")
    hl = ui.lua("return vim.api.nvim_get_hl(0, { name = 'HexaiSuggestion', link = false })")
    # Neovim's default Comment has a GUI colour only: ours adds a terminal grey.
    assert hl.get("ctermfg") == 244 and hl.get("fg") is not None
    assert ui.lua("return vim.api.nvim_get_hl(0, { name = 'HexaiPending', link = false })"
                  ).get("ctermfg") is not None
    ui.lua("vim.cmd('hi HexaiSuggestion ctermfg=1 guifg=#ff0000')")
    ui.lua("require('hexai').setup({})")
    assert ui.lua("return vim.api.nvim_get_hl(0, { name = 'HexaiSuggestion' }).ctermfg") == 1
    # A scheme that restyles Comment with a terminal colour is followed through a link.
    ui.lua("vim.cmd('hi clear') vim.cmd('hi Comment ctermfg=5') "
           "vim.api.nvim_exec_autocmds('ColorScheme', {})")
    assert ui.lua("return vim.api.nvim_get_hl(0, { name = 'HexaiSuggestion' }).link") == "Comment"


def test_three_entries_stay_visible_with_the_cursor_on_the_last_screen_line(
    ui: NvimSession,
) -> None:
    ui.nvim.current.buffer[:] = [f"x{i} = {i}" for i in range(60)] + ["    "]
    ui.nvim.command("normal! G$")
    assert ui.lua("return vim.fn.winline()") == ui.lua("return vim.fn.winheight(0)")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "alpha_one"), ok(1, "mid", "beta_two", ms=40),
                ok(2, "slow", "gamma_three", ms=90)])
    shown = "\n".join(screen(ui))
    for text in ("alpha_one", "[mid 40 ms] beta_two", "[slow 90 ms] gamma_three"):
        assert text in shown, shown
    # The cursor line itself is still on screen, with its typed text.
    assert "    return alpha_one" in shown


def test_the_lines_below_move_once_per_trigger_and_not_on_the_next_key(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    heights = [lines_below(ui)]
    answer(ui, [pending(0, "a"), pending(1, "b"), pending(2, "c")], done=False)
    heights.append(lines_below(ui))
    answer(ui, [pending(0, "a"), ok(1, "b", "b1"), pending(2, "c")], done=False)
    heights.append(lines_below(ui))
    answer(ui, [ok(0, "a", "a1"), ok(1, "b", "b1"), pending(2, "c")], done=False)
    heights.append(lines_below(ui))
    answer(ui, [ok(0, "a", "a1"), ok(1, "b", "b1"), ok(2, "c", "c1")])
    heights.append(lines_below(ui))
    # Nothing moves while all run; the first arrival makes the space for every entry.
    assert heights == [0, 0, 2, 2, 2]
    # A key that matches nothing: the suggestions go, their space stays until the next trigger.
    type_and_wait_trigger(ui, "z", count=2)
    assert ghost(ui) is None and lines_below(ui) == 2
    answer(ui, [pending(0, "a"), pending(1, "b"), pending(2, "c")], done=False)
    assert lines_below(ui) == 2
    ui.nvim.input("<Esc>")
    ui.wait_for(lambda: lines_below(ui) == 0, what="space dropped on leaving Insert mode")


def test_a_single_entry_draws_no_pending_line(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [pending(0, "only")], done=False)
    assert ui.extmarks("hexai.ghost") == []
    answer(ui, [ok(0, "only", "a + b")])
    assert lines_below(ui) == 0 and ghost(ui)["selected_text"] == "a + b"


def test_cycle_layout_shows_the_latency_of_the_selected_entry(ui: NvimSession) -> None:
    ui.lua("require('hexai.completion').config.layout = 'cycle'")
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    answer(ui, [ok(0, "fast", "a", ms=12), ok(1, "slow", "b", ms=80)])
    assert "(1/2 fast 12 ms)" in str(ui.extmarks("hexai.ghost"))
    ui.nvim.input("<M-]>")
    ui.wait_for(lambda: "(2/2 slow 80 ms)" in str(ui.extmarks("hexai.ghost")), what="next")


def test_a_streaming_suggestion_grows_and_typing_through_keeps_it(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    streaming = {"index": 0, "label": "fast", "status": "streaming", "text": "total",
                 "stats": "…"}
    answer(ui, [streaming, pending(1, "slow")], done=False)
    assert ghost(ui)["selected_text"] == "total"
    assert "[fast …]" in str(ui.extmarks("hexai.ghost"))
    ui.nvim.input("to")
    ui.wait_for(lambda: (ghost(ui) or {}).get("typed") == "to", what="typed through")
    answer(ui, [dict(streaming, text="total_sum(a"), pending(1, "slow")], done=False)
    assert ghost(ui)["selected_text"] == "tal_sum(a"
    answer(ui, [ok(0, "fast", "total_sum(a, b)", ms=30), pending(1, "slow")], done=False)
    assert ghost(ui)["selected_text"] == "tal_sum(a, b)"
    assert "[fast 30 ms]" in str(ui.extmarks("hexai.ghost"))


def test_one_line_left_out_reads_1_more_line(ui: NvimSession) -> None:
    ui.nvim.command("normal! 2G$")
    type_and_wait_trigger(ui, "Areturn ")
    selected = "\n".join(f"s{i}" for i in range(13))  # 12 lines shown by default
    other = "\n".join(f"o{i}" for i in range(3))  # the others show their first line
    answer(ui, [ok(0, "fast", selected), ok(1, "slow", other)])
    marks = str(ui.extmarks("hexai.ghost"))
    assert "… 1 more line'" in marks and "… 2 more lines'" in marks, marks
