"""The README's configuration examples are real configs."""

from __future__ import annotations

import re
from pathlib import Path

from hexai_nvim.config import load_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_example_loads_without_problems(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    block = re.search(r"```toml\n(.*?)```", section, flags=re.S)
    assert block is not None, "README's Configuration section has no TOML example"
    path = tmp_path / "readme.toml"
    path.write_text(block.group(1), encoding="utf-8")
    config = load_config(str(path), cwd=str(tmp_path), env={})
    assert config.warnings == ()
    assert [e.label for e in config.entries("completion")] == ["local", "openai:gpt-4.1-mini"]
    assert [e.key for e in config.entries("ask")] == [
        "anthropic:claude-3-5-haiku-latest",
        "lan-llama:qwen2.5-coder-32b",
    ]
    assert [e.key for e in config.entries("code_action")] == ["openai:gpt-4.1"]


def test_readme_quick_start_shows_exactly_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Quick start")
    quick = text[start : text.index("\n## ", start + 3)]
    commands = re.findall(r"^make \w+", quick, flags=re.M)
    assert commands == ["make demo", "make test"]
