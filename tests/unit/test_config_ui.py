"""``[ui.completion]`` / ``[ui.ask]``: a real schema, and the options Python sends Lua."""

from __future__ import annotations

from pathlib import Path

from hexai_nvim.config.ui import completion_options
from tests.unit.config_fixtures import load, problems_of


def test_a_typo_in_ui_completion_gives_a_did_you_mean_warning(tmp_path: Path) -> None:
    config = load(tmp_path, '[ui.completion]\nlayuot = "cycle"\nmax_lines = 4\n')
    warning = next(w for w in config.warnings if "layuot" in w)
    assert "ui.completion.layuot" in warning and "did you mean 'layout'" in warning
    assert ":2:" in warning  # file:line of the key
    assert dict(config.ui["completion"]) == {"max_lines": 4}


def test_bad_values_in_ui_tables_name_the_key_and_the_allowed_values(tmp_path: Path) -> None:
    error = problems_of(tmp_path, """
        [ui.completion]
        display = "ghosts"
        max_lines = "many"
        filetypes = { python = "yes" }
        keymaps = { acept = "<M-l>" }
        [ui.ask]
        focus = 1
        """)
    by_path = {p.path: p.message for p in error.problems}
    assert "did you mean 'ghost'" in by_path["ui.completion.display"]
    assert "allowed: ghost, popup, none" in by_path["ui.completion.display"]
    assert "ui.completion.max_lines" in by_path
    assert "expected true or false" in by_path["ui.completion.filetypes.python"]
    assert "did you mean 'accept'" in by_path["ui.completion.keymaps.acept"]
    assert "ui.ask.focus" in by_path


def test_python_folds_the_flat_ui_keys_and_the_table_for_lua(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [ui]
        completion_layout = "cycle"
        ghost_text = false
        disabled_filetypes = ["markdown"]
        [ui.completion]
        layout = "stack"
        filetypes = { lua = false }
        """)
    options = completion_options(config.ui)
    assert options["layout"] == "stack"  # the table wins over the flat key
    assert options["display"] == "none"
    assert options["filetypes"] == {"markdown": False, "lua": False}
    assert "max_lines" not in options  # only what the config sets; Lua has the defaults
