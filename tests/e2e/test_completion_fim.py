"""Fill-in-the-middle end to end: real headless Neovim, the host, the simulator's FIM endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession

CONFIG = """
[completion]
completion_debounce_ms = 20

[providers.llama]
kind = "llamacpp"
base_url = "{sim}/v1"

[[models.completion]]
provider = "llama"
model = "{model}"
label = "llama"
"""


def start(nvim: NvimSession, sim: Any, tmp_path: Path, model: str) -> None:
    nvim.write_config(CONFIG.format(sim=sim.url, model=model))
    nvim.setup("{}")
    other = tmp_path / "util.py"
    other.write_text("def sub(a, b):\n    return a - b\n")
    nvim.nvim.command(f"edit {other}")
    sample = tmp_path / "calc.py"
    sample.write_text("def add(a, b):\n    \n\nprint(add(1, 2))\n")
    nvim.nvim.command(f"edit {sample}")
    nvim.nvim.command("normal! 2G$")


def done(nvim: NvimSession) -> dict[str, Any]:
    def probe() -> Any:
        snap = nvim.lua("return require('hexai.ghost').snapshot()")
        if not snap:
            return None
        raw = snap["entries"]
        items = [raw[k] for k in sorted(raw, key=int)] if isinstance(raw, dict) else list(raw)
        return items[0] if items and items[0]["status"] != "pending" else None

    result: dict[str, Any] = nvim.wait_for(probe, timeout=15, what="the llama entry")
    return result


def test_infill_carries_the_cursor_line_indent_and_the_other_open_buffer(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start(nvim, sim, tmp_path, "fim-e2e-coder")
    nvim.nvim.input("Areturn ")
    entry = done(nvim)
    assert entry["status"] == "ok" and entry["text"], entry
    [recorded] = sim.state.requests_for("fim-e2e-coder")
    assert recorded.path == "/infill"
    body = recorded.body
    assert body["input_prefix"].endswith("def add(a, b):\n")
    assert body["prompt"] == "    return "
    assert body["input_suffix"] == "\n\nprint(add(1, 2))"
    assert body["n_indent"] == 4 and body["n_predict"] == 128 and body["stop"] == ["\n\n"]
    assert body["input_extra"] == [{"filename": "util.py",
                                    "text": "def sub(a, b):\n    return a - b\n"}]


def test_infill_501_shows_one_clear_error_then_the_entry_uses_chat(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    start(nvim, sim, tmp_path, "fim-e2e-plain+nofim")
    nvim.nvim.input("Areturn ")
    first = done(nvim)
    assert first["status"] == "error" and first["error_kind"] == "unsupported", first
    marks = str(nvim.extmarks("hexai.ghost"))
    assert "cannot fill in the middle" in marks or "cannot fill in the middle" in str(first)
    nvim.nvim.input("a")
    nvim.wait_for(lambda: len(sim.state.requests_for("fim-e2e-plain")) == 2, what="second ask")
    second = done(nvim)
    assert second["status"] == "ok" and second["text"], second
    paths = [r.path for r in sim.state.requests_for("fim-e2e-plain")]
    assert paths == ["/infill", "/v1/chat/completions"]
