""":HexaiAsk end to end: real Neovim, real host, real HTTP to the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession


def ask_config(sim_url: str, *models: tuple[str, str]) -> str:
    """A config with an openai-compatible provider on the simulator and ``ask`` entries."""
    text = f'[providers.sim]\nkind = "openai-compatible"\nbase_url = "{sim_url}/v1"\n'
    for label, model in models:
        text += f'\n[[models.ask]]\nprovider = "sim"\nmodel = "{model}"\nlabel = "{label}"\n'
    return text


def state(nvim: NvimSession) -> Any:
    return nvim.lua("return require('hexai.ask').state()")


def stack_lines(nvim: NvimSession) -> list[str]:
    return list(nvim.lua(
        "local v = require('hexai.ask').state().view\n"
        "return vim.api.nvim_buf_get_lines(v.stack_buf, 0, -1, false)"))


def finished(nvim: NvimSession) -> bool:
    st = state(nvim)
    return bool(st) and all(s["status"] not in ("pending", "streaming") for s in st["sections"])


def test_two_entries_stream_side_by_side_fast_first_then_both_with_stats(
    nvim: NvimSession, sim: Any
) -> None:
    nvim.write_config(ask_config(sim.url, ("quick", "askfast"),
                                 ("careful", "askslow+ttft=700+tps=40+tokens=24")))
    nvim.setup()
    nvim.nvim.command("HexaiAsk what is a monad?")

    # The fast answer is complete and on screen while the slow one is still going.
    def fast_done_slow_not() -> Any:
        st = state(nvim)
        if not st:
            return None
        fast, slow = st["sections"]
        if fast["status"] == "ok":
            assert slow["status"] in ("pending", "streaming"), "the slow entry finished too soon"
            return st
        return None

    st = nvim.wait_for(fast_done_slow_not, timeout=15, what="fast answer before slow one")
    fast_text = st["sections"][0]["text"]
    assert fast_text.strip()
    lines = stack_lines(nvim)
    assert lines[0].startswith("## quick · done")
    assert fast_text.split("\n")[0] in lines
    assert any(line.startswith("## careful · ") for line in lines)

    nvim.wait_for(lambda: finished(nvim), timeout=15, what="both answers")
    st = state(nvim)
    assert [s["status"] for s in st["sections"]] == ["ok", "ok"]
    lines = stack_lines(nvim)
    headers = [line for line in lines if line.startswith("## ")]
    assert [h.split(" · ")[0] for h in headers] == ["## quick", "## careful"]
    for header in headers:
        assert "ttft " in header and "total " in header and " tok" in header
    # Streamed in several batches (not one paint at the end).
    assert st["sections"][1]["updates"] >= 3
    # What was drawn is what the simulator sent.
    slow_request = sim.state.requests_for("askslow+ttft=700+tps=40+tokens=24")[-1]
    assert slow_request.body["messages"][-1]["content"] == "what is a monad?"
    assert st["sections"][1]["text"].strip()


def test_columns_layout_gives_one_window_per_entry(nvim: NvimSession, sim: Any) -> None:
    nvim.write_config(ask_config(sim.url, ("left", "colleft"), ("right", "colright"))
                      + '\n[ui]\nask_layout = "columns"\n')
    nvim.setup()
    nvim.nvim.command("HexaiAsk hello")
    nvim.wait_for(lambda: finished(nvim), timeout=15, what="answers")
    view = state(nvim)["view"]
    assert view["layout"] == "columns" and len(view["wins"]) == 2
    firsts = [nvim.lua("return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(...), 0, 1,"
                       " false)[1]", w) for w in view["wins"]]
    assert firsts[0].startswith("## left · done") and firsts[1].startswith("## right · done")


def test_a_failing_entry_shows_its_labelled_error_and_the_other_completes(
    nvim: NvimSession, sim: Any
) -> None:
    nvim.write_config(ask_config(sim.url, ("good", "okmodel"), ("broken", "badmodel+status=401")))
    nvim.setup()
    nvim.nvim.command("HexaiAsk anything")
    nvim.wait_for(lambda: finished(nvim), timeout=15, what="answers")
    good, broken = state(nvim)["sections"]
    assert good["status"] == "ok" and good["text"].strip()
    assert broken["status"] == "error" and broken["error_kind"] == "auth"
    lines = stack_lines(nvim)
    header = next(line for line in lines if line.startswith("## broken"))
    assert header.startswith("## broken · error (auth)")
    body = lines[lines.index(header) + 1:]
    assert any(line.startswith("✗ auth: HTTP 401:") for line in body)
    good_header = next(line for line in lines if line.startswith("## good"))
    assert good_header.startswith("## good · done · ttft")


def test_visual_range_ask_sends_the_selected_lines(nvim: NvimSession, sim: Any,
                                                   tmp_path: Path) -> None:
    nvim.write_config(ask_config(sim.url, ("only", "visualmodel")))
    nvim.setup()
    source = tmp_path / "calc.py"
    source.write_text("import os\n\ndef double(x):\n    return x * 2\n\nprint(double(4))\n")
    nvim.nvim.command(f"edit {source}")
    nvim.lua("vim.ui.input = function(opts, cb) cb('explain this') end")
    nvim.lua("vim.keymap.set('x', 'A', '<Plug>(hexai-ask)', {remap = true})")
    nvim.feed("3GVjA")
    nvim.wait_for(lambda: sim.state.requests_for("visualmodel"), timeout=15, what="request")
    body = sim.state.requests_for("visualmodel")[-1].body
    user = body["messages"][-1]["content"]
    assert "def double(x):\n    return x * 2\n" in user
    assert "import os" not in user and "print(double(4))" not in user
    assert "calc.py" in user and "python" in user and "explain this" in user
    nvim.wait_for(lambda: finished(nvim), timeout=15, what="answer")


def test_cancel_stops_a_running_entry_and_retry_runs_again(nvim: NvimSession, sim: Any) -> None:
    model = "cancelme+ttft=5000"
    nvim.write_config(ask_config(sim.url, ("stuck", model)))
    nvim.setup()
    nvim.nvim.command("HexaiAsk wait for it")
    nvim.wait_for(lambda: sim.state.requests_for(model), timeout=15, what="request sent")
    nvim.nvim.command("HexaiCancel")
    nvim.wait_for(lambda: finished(nvim), timeout=10, what="cancelled")
    assert state(nvim)["sections"][0]["status"] == "cancelled"
    nvim.wait_for(lambda: sim.state.requests_for(model)[-1].disconnected, timeout=10,
                  what="the simulator saw the disconnect")
    first_id = state(nvim)["id"]
    nvim.nvim.command("HexaiAskRetry")
    nvim.wait_for(lambda: state(nvim)["id"] > first_id, timeout=10, what="retry started")
    nvim.wait_for(lambda: len(sim.state.requests_for(model)) == 2, timeout=10, what="retry sent")
    assert sim.state.requests_for(model)[-1].body["messages"][-1]["content"] == "wait for it"
    nvim.nvim.command("HexaiCancel")
    nvim.wait_for(lambda: finished(nvim), timeout=10, what="cancelled again")
