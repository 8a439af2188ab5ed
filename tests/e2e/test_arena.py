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
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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
