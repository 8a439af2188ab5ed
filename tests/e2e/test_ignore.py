"""[ignore] end to end: a file the repository's .gitignore (or extra_patterns)
ignores is never sent to a model, from any surface, and the person is told.

Real headless Neovim, the registered host, the simulator on loopback: the
simulator's record of requests is the proof that nothing left.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession
from tests.e2e.test_code_action import pick

CONFIG = """
[completion]
completion_debounce_ms = 20

[ignore]
extra_patterns = ["*.pem"]

[providers.llama]
kind = "llamacpp"
base_url = "{sim}/v1"

[[models.completion]]
provider = "llama"
model = "{model}"
label = "llama"

[[models.ask]]
provider = "llama"
model = "{model}-ask"
label = "llama"

[[models.code_action]]
provider = "llama"
model = "{model}-action"
label = "llama"
"""


def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitignore").write_text("# local secrets\n.env\nprivate/\n")
    (repo / "private").mkdir()
    (repo / "private" / "notes.py").write_text("API_TOKEN = 'hunter2-private-notes'\n")
    (repo / ".env").write_text("DB_PASSWORD=hunter2-dotenv\n")
    (repo / "server.pem").write_text("-----BEGIN hunter2-pem-----\n")
    (repo / "app.py").write_text("def add(a, b):\n    \n")
    return repo


def start(nvim: NvimSession, sim: Any, tmp_path: Path, model: str) -> Path:
    nvim.write_config(CONFIG.format(sim=sim.url, model=model))
    nvim.setup("{}")
    return repository(tmp_path)


def sent_text(sim: Any, model: str) -> str:
    return "".join(str(r.body) for r in sim.state.requests if r.model.startswith(model))


def test_an_ignored_file_gets_no_completion_and_the_person_is_told_once(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    model = "ignore-e2e-complete"
    repo = start(nvim, sim, tmp_path, model)
    nvim.nvim.command(f"edit {repo / 'private' / 'notes.py'}")
    nvim.nvim.input("Go# x")
    nvim.wait_for(lambda: "not sent ([ignore]" in nvim.messages(), what="the notice")
    nvim.nvim.input("y<Esc>")
    nvim.nvim.command(f"edit {repo / '.env'}")
    nvim.nvim.input("GoA=")
    nvim.wait_for(lambda: nvim.messages().count("not sent ([ignore]") == 2,
                  what="the second file's notice")
    nvim.nvim.input("b<Esc>")
    time.sleep(0.5)  # typed and paused: a request would have been made by now
    messages = nvim.messages()
    assert "hexai: notes.py: not sent ([ignore] private/ in .gitignore:3)" in messages, messages
    assert "hexai: .env: not sent ([ignore] .env in .gitignore:2)" in messages
    assert messages.count("not sent ([ignore]") == 2, messages  # once per file
    assert sim.state.requests_for(model) == []
    # The same session completes in a file that is not ignored.
    nvim.nvim.command(f"edit {repo / 'app.py'}")
    nvim.nvim.command("normal! 2G$")
    nvim.nvim.input("Areturn ")
    assert sim.state.wait_for(lambda s: len(s.requests_for(model)) == 1, timeout=15)
    assert "hunter2" not in sent_text(sim, model)


def test_an_ignored_buffer_is_not_sent_as_other_file_context(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    model = "ignore-e2e-infill"
    repo = start(nvim, sim, tmp_path, model)
    for name in ("server.pem", ".env", "private/notes.py"):
        nvim.nvim.command(f"edit {repo / name}")
    helper = repo / "util.py"
    helper.write_text("def sub(a, b):\n    return a - b\n")
    nvim.nvim.command(f"edit {helper}")
    nvim.nvim.command(f"edit {repo / 'app.py'}")
    nvim.nvim.command("normal! 2G$")
    nvim.nvim.input("Areturn ")
    assert sim.state.wait_for(lambda s: len(s.requests_for(model)) == 1, timeout=15)
    [recorded] = sim.state.requests_for(model)
    assert recorded.path == "/infill"
    names = [extra.get("filename") for extra in recorded.body.get("input_extra", [])]
    assert any(str(n).endswith("util.py") for n in names), names  # not ignored: sent
    assert "hunter2" not in str(recorded.body)


def test_ask_and_code_action_refuse_an_ignored_file_and_say_why(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    model = "ignore-e2e-ask"
    repo = start(nvim, sim, tmp_path, model)
    nvim.nvim.command(f"edit {repo / 'server.pem'}")
    nvim.nvim.command("%HexaiAsk what is this?")
    nvim.wait_for(lambda: ":HexaiAsk not sent" in nvim.messages(), what="the ask refusal")
    assert "server.pem is never sent to models ([ignore] *.pem in extra_patterns" in (
        nvim.messages())
    pick(nvim, "simplify")
    nvim.nvim.command("1HexaiCodeAction")
    nvim.wait_for(lambda: "code action not sent" in nvim.messages(), what="the action refusal")
    time.sleep(0.3)
    assert sent_text(sim, model) == ""
    # Asking about a file that is not ignored still works.
    nvim.nvim.command(f"edit {repo / 'app.py'}")
    nvim.nvim.command("%HexaiAsk what is this?")
    assert sim.state.wait_for(lambda s: len(s.requests_for(model + "-ask")) == 1, timeout=15)


def test_the_notice_fits_the_echo_area_and_typing_goes_on(
    nvim: NvimSession, sim: Any, tmp_path: Path
) -> None:
    # A real screen 60 columns wide: a notice wider than the echo area would stop
    # Insert mode with "Press ENTER"; an informational one is cut to fit instead.
    nvim.attach_ui(width=60, height=12)
    repo = start(nvim, sim, tmp_path, "ignore-e2e-narrow")
    nvim.nvim.command(f"edit {repo / 'private' / 'notes.py'}")
    nvim.nvim.input("Go# x")
    nvim.wait_for(lambda: "not sent ([ignore]" in nvim.messages(), what="the notice")
    nvim.nvim.input("yz")
    nvim.wait_for(lambda: nvim.nvim.current.line == "# xyz", what="typing on")
    assert nvim.nvim.api.get_mode() == {"mode": "i", "blocking": False}
    notice = next(line for line in nvim.messages().splitlines() if "not sent ([ignore]" in line)
    echospace = nvim.nvim.eval("v:echospace")
    assert notice.endswith("…") and nvim.nvim.funcs.strdisplaywidth(notice) <= echospace
