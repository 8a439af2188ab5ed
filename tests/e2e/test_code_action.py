""":HexaiCodeAction end to end: one entry (the first), a warning once, a preview, one undo step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hexai_nvim.sim.text import reply_text
from tests.e2e.harness import NvimSession

CONFIG = """
[providers.sim]
kind = "openai-compatible"
base_url = "{url}/v1"

[[models.code_action]]
provider = "sim"
model = "cafirst"

[[models.code_action]]
provider = "sim"
model = "casecond"

[[prompts.code_action.custom]]
id = "shout"
title = "Shout it"
instruction = "Make every name upper case"
"""

WARNING = "models.code_action supports a single entry; ignoring 1 extra"


def pick(nvim: NvimSession, action_id: str, instruction: str | None = None) -> None:
    """Answer vim.ui.select with ``action_id`` and vim.ui.input with ``instruction``."""
    nvim.lua(
        "local want, instruction = ...\n"
        "vim.ui.select = function(items, opts, cb)\n"
        "  _G.offered = vim.tbl_map(function(a) return a.id end, items)\n"
        "  _G.menu_prompt = opts.prompt\n"
        "  for _, a in ipairs(items) do if a.id == want then return cb(a) end end\n"
        "  cb(nil)\n"
        "end\n"
        "vim.ui.input = function(opts, cb) cb(instruction) end",
        action_id, instruction,
    )


def preview(nvim: NvimSession) -> Any:
    return nvim.lua("return require('hexai.code_action').state().preview")


def test_code_action_uses_the_first_entry_warns_once_previews_and_undoes_in_one_step(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    nvim.write_config(CONFIG.format(url=sim.url))
    nvim.setup()
    source = tmp_path / "m.py"
    source.write_text("def f(a):\n    return a\n\nx = f(1)\n")
    nvim.nvim.command(f"edit {source}")
    buf = nvim.nvim.current.buffer.number
    before = list(nvim.nvim.current.buffer[:])
    seq = nvim.lua("return vim.fn.undotree().seq_last")

    pick(nvim, "simplify")
    nvim.nvim.command("1,2HexaiCodeAction")
    offered = nvim.lua("return _G.offered")
    assert offered[:3] == ["rewrite", "document", "simplify"] and "shout" in offered
    assert "diagnostics" not in offered  # no diagnostics in the range
    assert nvim.lua("return _G.menu_prompt") == "hexai code action (sim:cafirst)"
    nvim.wait_for(lambda: preview(nvim), timeout=15, what="preview")

    # Only the first entry was called; it got the selected lines.
    assert len(sim.state.requests_for("cafirst")) == 1
    assert sim.state.requests_for("casecond") == []
    prompt = sim.state.requests_for("cafirst")[0].body["messages"][-1]["content"]
    assert "def f(a):\n    return a" in prompt and "x = f(1)" not in prompt

    # The preview is a diff of the range against the model's answer.
    answer = reply_text("cafirst", prompt)
    shown = preview(nvim)
    assert shown["new_lines"] == answer.strip().split("\n")
    assert "-def f(a):" in shown["lines"] and f"+{shown['new_lines'][0]}" in shown["lines"]
    assert nvim.lua("return vim.bo.filetype") == "diff"
    assert nvim.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf) == before

    nvim.feed("a")
    nvim.wait_for(lambda: nvim.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf)
                  != before, what="applied")
    after = nvim.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf)
    assert after == shown["new_lines"] + ["", "x = f(1)"]
    assert nvim.lua("return vim.fn.undotree(...).seq_last", buf) == seq + 1
    nvim.lua("vim.api.nvim_buf_call(..., function() vim.cmd('undo') end)", buf)
    assert nvim.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf) == before

    # A second action (a custom one): still only the first entry, and no second warning.
    pick(nvim, "shout")
    nvim.nvim.command("4HexaiCodeAction")
    nvim.wait_for(lambda: preview(nvim), timeout=15, what="second preview")
    assert len(sim.state.requests_for("cafirst")) == 2
    assert sim.state.requests_for("casecond") == []
    custom_prompt = sim.state.requests_for("cafirst")[1].body["messages"][-1]["content"]
    assert "Make every name upper case" in custom_prompt and "x = f(1)" in custom_prompt
    nvim.feed("q")
    nvim.wait_for(lambda: not preview(nvim), what="discarded")
    assert nvim.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf) == before
    assert nvim.messages().count(WARNING) == 1


def test_rewrite_asks_for_the_instruction_and_a_failure_is_reported(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    nvim.write_config(
        '[providers.sim]\nkind = "openai-compatible"\nbase_url = "' + sim.url + '/v1"\n'
        '[models.code_action]\nprovider = "sim"\nmodel = "carefuse+status=500"\n'
    )
    nvim.setup()
    source = tmp_path / "r.py"
    source.write_text("a = 1\n")
    nvim.nvim.command(f"edit {source}")
    pick(nvim, "rewrite", "rename a to b")
    nvim.nvim.command("HexaiCodeAction")
    nvim.wait_for(lambda: "Rewrite selection failed" in nvim.messages(), timeout=15,
                  what="failure message")
    body = sim.state.requests_for("carefuse+status=500")[-1].body
    assert "rename a to b" in body["messages"][-1]["content"]
    assert "server" in nvim.messages()
    assert not preview(nvim)
    assert nvim.nvim.current.buffer[:] == ["a = 1"]
