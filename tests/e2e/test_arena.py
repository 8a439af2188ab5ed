"""The arena in a real Neovim: the :HexaiStats view, :HexaiAskExport, recorded outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hexai_nvim.arena.store import Candidate, Outcome, OutcomeStore, with_ties
from tests.e2e.harness import NvimSession
from tests.e2e.test_ask import ask_config, finished


def outcome_file(nvim: NvimSession) -> Path:
    return nvim.root / "state" / "hexai" / "arena-outcomes.jsonl"


def outcomes(nvim: NvimSession) -> list[dict[str, Any]]:
    path = outcome_file(nvim)
    if not path.exists():
        return []
    # Only whole lines: the host may be writing the last one while the test reads
    # (the store's own reader skips such a line too).
    whole = path.read_text().rpartition("\n")[0]
    return [json.loads(line) for line in whole.splitlines() if line.strip()]


def test_hexai_stats_shows_the_leaderboard_in_a_view(nvim: NvimSession, sim: Any) -> None:
    store = OutcomeStore(outcome_file(nvim))
    for t in range(4):
        cands = tuple(
            Candidate.of_text(k, k, s, f"{k}{t}", visible=True, status="ok", total_ms=120.0)
            for s, k in enumerate(("sim:fast", "sim:slow"))
        )
        store.append(Outcome(ts=1e9 + t, id=str(t), surface="completion", action="accept",
                             chosen=with_ties(cands, 0), candidates=cands))
    nvim.write_config(ask_config(sim.url, ("one", "a")))
    nvim.setup()
    nvim.nvim.command("HexaiStats")

    def view() -> Any:
        return nvim.lua(
            "for _, b in ipairs(vim.api.nvim_list_bufs()) do\n"
            "  if vim.bo[b].filetype == 'hexaistats' and vim.fn.bufwinid(b) ~= -1 then\n"
            "    return vim.api.nvim_buf_get_lines(b, 0, -1, false) end end")

    lines = nvim.wait_for(view, timeout=20, what="the stats view")
    text = "\n".join(lines)
    assert lines[0] == "arena leaderboard (all time)"
    assert "sim:fast" in lines[2] and "4/4" in lines[2]  # the winner first
    assert "120 ms" in text and "█" in text and "4 battles from 4 outcomes" in text


def test_ask_export_writes_markdown_to_a_file_and_to_a_buffer(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    nvim.write_config(ask_config(sim.url, ("quick", "exporta"), ("other", "exportb")))
    nvim.setup()
    nvim.nvim.command("HexaiAsk what is a monad?")
    nvim.wait_for(lambda: finished(nvim), timeout=20, what="both answers")
    target = tmp_path / "cmp.md"
    nvim.nvim.command(f"HexaiAskExport {target}")
    nvim.wait_for(target.exists, timeout=10, what="the export file")
    md = target.read_text()
    assert md.startswith("# hexai comparison") and "what is a monad?" in md
    assert "## quick" in md and "## other" in md and "| quick (`sim:exporta`) | done |" in md
    nvim.nvim.command("HexaiAskExport")
    lines = nvim.wait_for(
        lambda: nvim.lua("return vim.fn.tabpagenr('$') == 2 and vim.bo.filetype == 'markdown'"
                         " and vim.api.nvim_buf_get_lines(0, 0, -1, false) or nil"),
        timeout=10, what="the export buffer")
    assert lines[0] == "# hexai comparison"


# ---------------------------------------------------------------------------
# Outcomes recorded from ordinary completion
# ---------------------------------------------------------------------------

COMPLETION = """
[completion]
completion_debounce_ms = 20

[general]
context_mode = "window"
request_timeout = 20

[providers.local]
kind = "ollama"
base_url = "{sim}"
{arena}
"""
ENTRY = '\n[[models.completion]]\nprovider = "local"\nmodel = "{model}"\nlabel = "{label}"\n'


def start_completion(nvim: NvimSession, sim: Any, tmp_path: Path,
                     models: list[tuple[str, str]], arena: str = "") -> None:
    text = COMPLETION.format(sim=sim.url, arena=arena)
    for label, model in models:
        text += ENTRY.format(model=model, label=label)
    nvim.write_config(text)
    nvim.setup()
    sample = tmp_path / "sample.py"
    sample.write_text("def add(a, b):\n    \n")
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")


def all_done(nvim: NvimSession, count: int) -> list[dict[str, Any]]:
    def probe() -> Any:
        snap = nvim.lua("return require('hexai.ghost').snapshot()")
        if not snap:
            return None
        raw = snap["entries"]
        items = [raw[k] for k in sorted(raw, key=int)] if isinstance(raw, dict) else list(raw)
        if len(items) == count and all(e["status"] not in ("pending", "streaming") for e in items):
            return items
        return None

    return list(nvim.wait_for(probe, timeout=20, what="every entry"))


def wait_outcomes(nvim: NvimSession, count: int) -> list[dict[str, Any]]:
    return list(nvim.wait_for(lambda: len(outcomes(nvim)) >= count and outcomes(nvim),
                              timeout=10, what=f"{count} outcome(s)"))


def test_accept_records_the_choice_the_slots_and_no_text(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start_completion(nvim, sim, tmp_path,
                     [("fast", "ar-fast+ttft=0"), ("slow", "ar-slow+ttft=150")])
    nvim.nvim.input("Areturn ")
    fast, slow = all_done(nvim, 2)
    assert fast["text"] != slow["text"]
    nvim.nvim.input("<M-l>")  # accept the selected (first to arrive: fast) whole
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["v"] == 1 and rec["surface"] == "completion" and rec["action"] == "accept"
    cands = rec["candidates"]
    assert [c["label"] for c in cands] == ["fast", "slow"]
    assert rec["chosen"] == [0] and [c["slot"] for c in cands] == [0, 1]
    assert all(c["visible"] for c in cands) and cands[0]["chars"] == len(fast["text"])
    raw = outcome_file(nvim).read_text()
    assert fast["text"] not in raw and slow["text"] not in raw and "def add" not in raw
    assert rec["filetype"] == "python" and rec["prompt_hash"] and not rec["blind"]


def test_partial_accept_then_leaving_and_dismiss_are_recorded(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start_completion(nvim, sim, tmp_path, [("a", "ar-pa+ttft=0"), ("b", "ar-pb+ttft=100")])
    nvim.nvim.input("Areturn ")
    all_done(nvim, 2)
    nvim.nvim.input("<M-]>")  # cycle: b becomes the selection
    nvim.nvim.input("<M-w>")  # take a word of it
    nvim.nvim.input("<Esc>")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "partial" and rec["chosen"] == [1]
    nvim.nvim.input("o    x = ")
    all_done(nvim, 2)
    nvim.nvim.input("<C-]>")
    recs = wait_outcomes(nvim, 2)
    assert recs[1]["action"] == "dismiss" and recs[1]["chosen"] == []


def test_cycle_layout_records_only_the_entries_cycled_to(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start_completion(nvim, sim, tmp_path, [("a", "ar-ca+ttft=0"), ("b", "ar-cb+ttft=60"),
                                           ("c", "ar-cc+ttft=120")])
    nvim.lua("require('hexai.completion').config.layout = 'cycle'")
    nvim.nvim.input("Areturn ")
    all_done(nvim, 3)
    nvim.nvim.input("<M-]>")  # a (seen first) -> b; c is never shown
    nvim.nvim.input("<M-l>")
    (rec,) = wait_outcomes(nvim, 1)
    seen = {c["label"]: (c["visible"], c["slot"]) for c in rec["candidates"]}
    assert seen == {"a": (True, 0), "b": (True, 1), "c": (False, -1)}
    assert rec["action"] == "accept" and rec["chosen"] == [1]


def test_typing_a_suggestion_by_hand_counts_for_it(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start_completion(nvim, sim, tmp_path,
                     [("a", "ar-ta+ttft=0+tokens=2"), ("b", "ar-tb+ttft=80+tokens=2")])
    nvim.nvim.input("Areturn ")
    first, second = all_done(nvim, 2)
    target = second["text"]
    assert "\n" not in target and target != first["text"]
    nvim.nvim.input(target.replace("<", "<lt>"))
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "typed" and rec["chosen"] == [1]


def test_identical_suggestions_are_a_tie(nvim: NvimSession, sim: Any, tmp_path: Path) -> None:
    # Same base model (same words), other timing: identical suggestions from two entries.
    start_completion(nvim, sim, tmp_path, [("one", "ar-tie+ttft=0"), ("two", "ar-tie+ttft=60"),
                                           ("other", "ar-untied+ttft=120")])
    nvim.nvim.input("Areturn ")
    one, two, other = all_done(nvim, 3)
    assert one["text"] == two["text"] != other["text"]
    nvim.nvim.input("<M-l>")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "accept" and rec["chosen"] == [0, 1]
    assert rec["candidates"][0]["hash"] == rec["candidates"][1]["hash"]


def test_blind_mode_hides_names_and_timings_until_the_choice(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start_completion(nvim, sim, tmp_path,
                     [("fast", "ar-bf+ttft=0"), ("slow", "ar-bs+ttft=150"),
                      ("mid", "ar-bm+ttft=60")], arena="\n[arena]\nblind = true\n")
    nvim.nvim.input("Areturn ")
    shown = all_done(nvim, 3)
    assert sorted(e["label"] for e in shown) == ["A", "B", "C"]
    assert all("ms" not in e and e.get("key") == "" for e in shown)
    marks = str(nvim.extmarks("hexai.ghost"))
    assert "fast" not in marks and "slow" not in marks and " ms" not in marks
    assert "[A]" in marks or "[B]" in marks or "[C]" in marks
    nvim.nvim.input("<M-2>")  # accept B directly
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["blind"] and rec["action"] == "accept" and len(rec["chosen"]) == 1
    chosen = rec["candidates"][rec["chosen"][0]]["label"]
    b_text = next(e["text"] for e in shown if e["label"] == "B")
    assert "return " + b_text in "\n".join(nvim.nvim.current.buffer[:])
    message = nvim.wait_for(lambda: " = " in nvim.messages() and nvim.messages(),
                            timeout=10, what="the reveal")
    assert f"B = {chosen} ✓" in message
    assert "fast" in message and "slow" in message and "mid" in message


def drawn(nvim: NvimSession) -> tuple[list[str], int, int, int]:
    """The screen as the UI got it, the drawn cursor's row and the window's
    first and last text rows. No :redraw, which scrolls to the cursor itself."""
    rows, cursor, top, bottom = nvim.lua("""
      local out = {}
      for r = 1, vim.o.lines do
        local s = ''
        for c = 1, vim.o.columns do s = s .. vim.fn.screenstring(r, c) end
        out[#out + 1] = s
      end
      local top = vim.fn.win_screenpos(0)[1]
      return { out, vim.fn.screenrow(), top, top + vim.fn.winheight(0) - 1 }
    """)
    return list(rows), int(cursor), int(top), int(bottom)


def test_blind_answers_at_the_window_bottom_keep_the_typed_line_in_view(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    # The report: 80x24, the last line on the last row, `y = 2<Enter>` twice.
    start_completion(nvim, sim, tmp_path, [("fast", "bb-f+ttft=0+tokens=10"),
                                           ("slow", "bb-s+ttft=120+tokens=10")],
                     arena="\n[arena]\nblind = true\n")
    nvim.attach_ui(80, 24)
    indent = " " * 11
    nvim.nvim.current.buffer[:] = [f"x{i} = {i}" for i in range(28)] + [indent]
    nvim.nvim.command("normal! G$")
    assert nvim.lua("return vim.fn.winline() == vim.fn.winheight(0)")
    nvim.nvim.input("A")
    for line in (30, 31):
        nvim.nvim.input("y = 2<CR>")
        nvim.wait_for(lambda n=line: nvim.lua("return vim.fn.line('.')") == n, what="the new line")
        shown = all_done(nvim, 2)
        selected = nvim.lua("return require('hexai.ghost').snapshot().selected")
        rows, cursor, top, bottom = nvim.wait_for(
            lambda tag=f"[{selected}]": (d := drawn(nvim)) and tag in "".join(d[0]) and d,
            what="the suggestions drawn")
        text = "\n".join(rows)
        # The cursor is drawn inside the window, on the line being typed (its label at the end).
        assert top <= cursor <= bottom, text
        assert f"[{selected}]" in rows[cursor - 1], text
        assert nvim.lua("return vim.fn.winline() <= vim.fn.winheight(0)"), text
        # The line typed above it and every entry are in view.
        assert indent + "y = 2" in text
        for e in shown:
            assert f"[{e['label']}]" in text, text

# ---------------------------------------------------------------------------
# The ask view: the vote keys, yank and put
# ---------------------------------------------------------------------------


def test_ask_vote_key_and_yank_record_preferences(nvim: NvimSession, sim: Any) -> None:
    nvim.write_config(ask_config(sim.url, ("first", "votea"), ("second", "voteb")))
    nvim.setup()
    nvim.nvim.command("HexaiAsk what is a monad?")
    nvim.wait_for(lambda: finished(nvim), timeout=20, what="both answers")
    nvim.wait_for(lambda: nvim.lua("return vim.bo.filetype") != "python" or None, timeout=5)
    nvim.nvim.input("1")
    nvim.nvim.input("y")  # yank the first answer: a preference for it
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["surface"] == "ask" and rec["action"] == "yank" and rec["chosen"] == [0]
    assert [c["label"] for c in rec["candidates"]] == ["first", "second"]
    assert "what is a monad" not in outcome_file(nvim).read_text()
    nvim.nvim.input("2")
    nvim.nvim.input("v")  # the explicit vote replaces the yank (same outcome id)
    nvim.wait_for(lambda: len(outcomes(nvim)) == 2, timeout=10, what="the vote")
    last = outcomes(nvim)[-1]
    assert last["action"] == "vote" and last["chosen"] == [1] and last["id"] == rec["id"]
    stored = OutcomeStore(outcome_file(nvim)).read()
    assert len(stored) == 1 and stored[0].action == "vote"
    assert "vote: second is the best" in nvim.wait_for(
        lambda: "vote:" in nvim.messages() and nvim.messages(), timeout=10, what="message")
    nvim.nvim.input("V")  # all bad: nothing chosen
    nvim.wait_for(lambda: outcomes(nvim)[-1]["action"] == "all_bad", timeout=10, what="all bad")
    assert outcomes(nvim)[-1]["chosen"] == []
    assert "vote: every answer is bad (replaces your earlier vote)" in nvim.wait_for(
        lambda: "every answer" in nvim.messages() and nvim.messages(), timeout=10, what="message")
    assert "second is the best (replaces" not in nvim.messages()  # the first vote said nothing
