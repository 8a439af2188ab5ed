""":HexaiAsk in blind mode (``[arena] blind = true``), in a real Neovim against the simulator.

Before the vote the view shows "Answer A", "Answer B"... in an order shuffled
per question; no label, model name, timing, token count or error text is
anywhere in the view's buffers, extmarks, winbar or messages. The vote
reveals (one message, headers with names and stats) and records the real
entries with the slots they were shown in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession
from tests.e2e.test_arena import outcomes, wait_outcomes
from tests.e2e.test_ask import ask_config, finished, state

BLIND = "\n[arena]\nblind = true\n"
#: label, model: the 404 answer's message names its model ("The model 'm-gone...'").
ENTRIES = (("qwen-coder", "m-qwen+tokens=20"), ("llama-big", "m-llama+tokens=30"),
           ("mistral-x", "m-gone+status=404"))
NAMES = ("qwen-coder", "llama-big", "mistral-x", "m-qwen", "m-llama", "m-gone", "sim:")
#: What a timing, a token count or a rate looks like on screen.
TIMING = re.compile(r"\d+(\.\d+)? ?(ms|s)\b|tok/s|ttft|\d+ in / |\d+ out tok|\bfastest\b")


def everything_shown(nvim: NvimSession) -> str:
    """Every line, extmark (with its virtual text), winbar and message of the view."""
    return str(nvim.lua("""
      local v = require('hexai.ask').state().view
      local ns = vim.api.nvim_create_namespace('hexai_ask')
      local out = {}
      for _, buf in ipairs({ v.stack_buf, v.score_buf, unpack(v.col_bufs or {}) }) do
        if buf and vim.api.nvim_buf_is_valid(buf) then
          vim.list_extend(out, vim.api.nvim_buf_get_lines(buf, 0, -1, false))
          for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, -1, 0, -1, { details = true })) do
            table.insert(out, vim.inspect(m[4]))
          end
          table.insert(out, vim.api.nvim_buf_get_name(buf))
        end
      end
      for _, win in ipairs(vim.api.nvim_list_wins()) do
        table.insert(out, vim.wo[win].winbar)
        table.insert(out, vim.wo[win].statusline)
      end
      table.insert(out, vim.api.nvim_exec2('messages', { output = true }).output)
      return table.concat(out, '\\n')
    """))


def start_blind(nvim: NvimSession, sim: Any, entries: tuple[tuple[str, str], ...] = ENTRIES,
                extra: str = "") -> None:
    nvim.write_config(ask_config(sim.url, *entries) + BLIND + extra)
    nvim.setup()


def test_blind_view_shows_letters_and_hides_names_timings_and_error_texts_until_the_vote(
    nvim: NvimSession, sim: Any
) -> None:
    start_blind(nvim, sim)
    nvim.nvim.command("HexaiAsk what is a monad?")
    nvim.wait_for(lambda: finished(nvim), timeout=20, what="every answer")
    st = state(nvim)
    assert st["blind"] is True
    sections = st["sections"]
    assert [s["label"] for s in sections] == ["Answer A", "Answer B", "Answer C"]
    headers = [line for line in nvim.lua(
        "local v = require('hexai.ask').state().view\n"
        "return vim.api.nvim_buf_get_lines(v.stack_buf, 0, -1, false)") if line.startswith("## ")]
    assert [h.split(" · ")[0] for h in headers] == ["## Answer A", "## Answer B", "## Answer C"]
    # The failed entry is labelled by its letter and its kind, not its text.
    (failed,) = [s for s in sections if s["status"] == "error"]
    assert failed["error_kind"] and "until the names are shown" in failed["error_message"]
    assert sum(1 for s in sections if s["status"] == "ok" and s["text"].strip()) == 2
    shown = everything_shown(nvim)
    for name in NAMES:
        assert name not in shown, f"{name!r} is on screen before the vote"
    assert not TIMING.search(shown), TIMING.search(shown)
    assert "blind" in shown  # the winbar says why the names are missing
    # The same in the columns layout (one buffer per answer).
    nvim.lua("require('hexai.ask').set_layout('columns')")
    assert nvim.lua("return require('hexai.ask').state().view.layout") == "columns"
    shown = everything_shown(nvim)
    assert "## Answer A" in shown and "## Answer C" in shown
    for name in NAMES:
        assert name not in shown, f"{name!r} is on screen before the vote (columns)"
    assert not TIMING.search(shown), TIMING.search(shown)
    nvim.lua("require('hexai.ask').set_layout('stacked')")

    # Vote for the answer in slot B: one message reveals every letter.
    nvim.wait_for(lambda: nvim.lua("return vim.bo.filetype") != "python" or None, timeout=5)
    answered = [i for i, s in enumerate(sections) if s["status"] == "ok"]
    pick = answered[0]
    nvim.nvim.input(str(pick + 1))
    nvim.nvim.input("v")
    message = nvim.wait_for(lambda: "vote:" in nvim.messages() and nvim.messages(),
                            timeout=10, what="the reveal")
    (line,) = [m for m in message.splitlines() if "vote:" in m]
    letters = dict(re.findall(r"\b([ABC]) = ([\w-]+)", line))
    assert sorted(letters.values()) == ["llama-big", "mistral-x", "qwen-coder"], line
    voted = letters["ABC"[pick]]
    assert f"{'ABC'[pick]} = {voted} ✓" in line and line.count("✓") == 1
    assert len(line) < 80  # one line: no hit-enter prompt in an 80-column terminal

    def revealed() -> Any:
        st = state(nvim)
        return st if st and st["blind"] is False else None

    st = nvim.wait_for(revealed, timeout=10, what="the revealed view")
    by_letter = {s["label"].split(":")[0]: s for s in st["sections"]}
    for letter, label in letters.items():
        assert by_letter[letter]["label"] == f"{letter}: {label}"
    lines = nvim.lua("local v = require('hexai.ask').state().view\n"
                     "return vim.api.nvim_buf_get_lines(v.stack_buf, 0, -1, false)")
    text = "\n".join(lines)
    assert "ttft " in text and " tok" in text  # the stats are back in the headers
    # The error's own (scrubbed) text now names its model.
    gone = next(s for s in st["sections"] if s["status"] == "error")
    assert "m-gone" in gone["error_message"] and "m-gone" in text
    assert "★" in "\n".join(nvim.lua(
        "local v = require('hexai.ask').state().view\n"
        "return vim.api.nvim_buf_get_lines(v.score_buf, 0, -1, false)"))

    # The outcome: the real entries (config order) with the slots they were shown in.
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["surface"] == "ask" and rec["action"] == "vote" and rec["blind"] is True
    cands = rec["candidates"]
    assert [c["label"] for c in cands] == ["qwen-coder", "llama-big", "mistral-x"]
    slot_of = {label: "ABC".index(letter) for letter, label in letters.items()}
    assert [c["slot"] for c in cands] == [slot_of[c["label"]] for c in cands]
    assert [cands[i]["label"] for i in rec["chosen"]] == [voted]


def test_yank_before_the_vote_records_a_preference_and_reveals_nothing(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start_blind(nvim, sim, ENTRIES[:2])
    nvim.nvim.command("HexaiAsk explain a fold")
    nvim.wait_for(lambda: finished(nvim), timeout=20, what="both answers")
    nvim.wait_for(lambda: nvim.lua("return vim.bo.filetype") != "python" or None, timeout=5)
    nvim.nvim.input("2")
    nvim.nvim.input("y")
    (rec,) = wait_outcomes(nvim, 1)
    assert rec["action"] == "yank" and rec["blind"] is True
    cands = rec["candidates"]
    assert cands[rec["chosen"][0]]["slot"] == 1  # the answer shown second
    assert sorted(c["slot"] for c in cands) == [0, 1]
    # :HexaiAskExport before the vote is blind too.
    target = tmp_path / "blind.md"
    nvim.nvim.command(f"HexaiAskExport {target}")
    nvim.wait_for(target.exists, timeout=10, what="the export")
    md = target.read_text()
    assert "## Answer A" in md and "## Answer B" in md and "_Blind:" in md
    assert state(nvim)["blind"] is True
    shown = everything_shown(nvim) + md
    for name in NAMES[:2] + NAMES[3:5] + NAMES[6:]:
        assert name not in shown
    assert not TIMING.search(shown), TIMING.search(shown)
    # "All bad" reveals too; the export then names the entries.
    nvim.nvim.input("V")
    nvim.wait_for(lambda: outcomes(nvim)[-1]["action"] == "all_bad", timeout=10, what="all bad")
    nvim.wait_for(lambda: state(nvim)["blind"] is False, timeout=10, what="the reveal")
    assert "all bad · A = " in nvim.messages()
    nvim.nvim.command(f"HexaiAskExport {target}")
    nvim.wait_for(lambda: "qwen-coder" in target.read_text(), timeout=10, what="the new export")
    md = target.read_text()
    assert "`sim:m-qwen+tokens=20`" in md and "All bad." in md and "_Blind:" not in md


def test_blind_order_is_shuffled_per_question_evenly_over_slots(
    nvim: NvimSession, sim: Any
) -> None:
    # Fixed seed, 45 questions, 3 entries: each entry lands in each slot about
    # 15 times. The slots come from the outcome a yank records (no reveal).
    entries = (("one", "s-one"), ("two", "s-two"), ("three", "s-three"))
    start_blind(nvim, sim, entries)
    nvim.lua("require('hexai.rpc').notify('ask.seed', { seed = 1414 })")
    questions = 45
    counts = {label: [0, 0, 0] for label, _ in entries}
    for q in range(questions):
        nvim.lua("require('hexai.ask').ask(...)", f"question {q}?")
        nvim.wait_for(lambda q=q: (st := state(nvim)) and st["prompt"] == f"question {q}?"
                      and finished(nvim), timeout=20, what=f"question {q}")
        ask_id = state(nvim)["id"]
        nvim.lua("require('hexai.rpc').notify('ask.vote', { id = ..., index = 0,"
                 " action = 'yank' })", ask_id)
        rec = wait_outcomes(nvim, q + 1)[-1]
        for cand in rec["candidates"]:
            counts[cand["label"]][cand["slot"]] += 1
        assert rec["blind"] and sorted(c["slot"] for c in rec["candidates"]) == [0, 1, 2]
    expected = questions / 3
    for row in counts.values():
        assert sum(row) == questions
        assert all(abs(c - expected) < 9 for c in row), counts


def test_the_export_file_passes_the_scrubber(nvim: NvimSession, sim: Any, tmp_path: Path) -> None:
    # A model that repeats the key it was sent: the view is scrubbed, the file must be too.
    key = "sk-ECHOask-Z8xC6vB4nM2qW0eR"
    config = ask_config(sim.url, ("one", "echo-a"), ("two", "echo-b")).replace(
        '/v1"\n', f'/v1"\napi_key_cmd = "printf %s {key}"\n', 1)
    nvim.write_config(config)
    saved = sim.state.replies
    sim.state.replies = lambda base, prompt: f"use {key} here" if base.startswith("echo") else None
    try:
        nvim.setup()
        nvim.nvim.command("HexaiAsk which key?")
        nvim.wait_for(lambda: finished(nvim), timeout=20, what="both answers")
        assert all("Authorization" in r.headers for r in sim.state.requests_for("echo-a"))
        target = tmp_path / "scrubbed.md"
        nvim.nvim.command(f"HexaiAskExport {target}")
        nvim.wait_for(target.exists, timeout=10, what="the export")
        md = target.read_text()
    finally:
        sim.state.replies = saved
    assert "## one" in md and "use " in md
    assert key not in md and key[:12] not in md


def test_a_vote_while_an_entry_runs_reveals_it_too_and_a_retry_is_blind_again(
    nvim: NvimSession, sim: Any
) -> None:
    start_blind(nvim, sim, (("fast-one", "v-fast"), ("slow-one", "v-slow+ttft=1500")))
    nvim.nvim.command("HexaiAsk quick or slow?")

    def fast_done() -> Any:
        st = state(nvim)
        done = [i for i, s in enumerate(st["sections"]) if s["status"] == "ok"] if st else []
        return done if len(done) == 1 else None

    (fast,) = nvim.wait_for(fast_done, timeout=20, what="the fast answer")
    slow = 1 - fast
    assert state(nvim)["sections"][slow]["status"] in ("pending", "streaming")
    nvim.lua("require('hexai.ask').vote(...)", fast + 1)
    st = nvim.wait_for(lambda: (s := state(nvim)) and s["blind"] is False and s, timeout=10,
                       what="the reveal")
    letters = "AB"
    assert st["sections"][fast]["label"] == f"{letters[fast]}: fast-one"
    assert st["sections"][slow]["label"] == f"{letters[slow]}: slow-one"  # named while running
    nvim.wait_for(lambda: finished(nvim), timeout=20, what="the slow answer")
    late = state(nvim)["sections"][slow]
    assert late["label"] == f"{letters[slow]}: slow-one" and "ttft " in late["stats"]
    # Asking again shuffles again, and hides again.
    nvim.nvim.command("HexaiAskRetry")
    st = nvim.wait_for(lambda: (s := state(nvim)) and s["id"] != st["id"] and s, timeout=10,
                       what="the retry")
    assert st["blind"] is True and [s["label"] for s in st["sections"]] == ["Answer A", "Answer B"]
