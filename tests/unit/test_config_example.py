"""doc/config.example.toml: the same text `hexai config init` writes, and valid."""

from __future__ import annotations

import re
from pathlib import Path

from hexai_nvim.config import default_config, load_config
from hexai_nvim.config.example import EXAMPLE_TOML

DOC_EXAMPLE = Path(__file__).resolve().parents[2] / "doc" / "config.example.toml"


def test_doc_example_is_the_packaged_example() -> None:
    # Regenerate with: python -m hexai_nvim.config.example > doc/config.example.toml
    assert DOC_EXAMPLE.read_text(encoding="utf-8") == EXAMPLE_TOML


def test_example_loads_without_problems_or_warnings(tmp_path: Path) -> None:
    config = load_config(str(DOC_EXAMPLE), cwd=str(tmp_path), env={})
    assert config.warnings == ()
    assert config.files == (str(DOC_EXAMPLE),)
    assert [e.key for e in config.entries("completion")] == ["openai:gpt-4.1-mini"]
    assert [e.key for e in config.entries("ask")] == ["openai:gpt-4.1"]
    assert [e.key for e in config.entries("code_action")] == ["openai:gpt-4.1"]


def test_example_values_match_the_built_in_defaults(tmp_path: Path) -> None:
    """The example documents the defaults, so sections it spells out must not
    change them (entries and the Ollama model are deliberate examples)."""
    config = load_config(str(DOC_EXAMPLE), cwd=str(tmp_path), env={})
    defaults = default_config()
    assert config.general == defaults.general
    assert config.engine == defaults.engine
    assert config.ui == defaults.ui
    assert config.completion.timeout_ms == defaults.completion.timeout_ms
    assert config.stats_window_minutes == defaults.stats_window_minutes
    assert config.default_provider == defaults.default_provider == "ollama"
    assert config.ignore == defaults.ignore
    for name in ("openai", "openrouter", "anthropic", "ollama"):
        assert config.providers[name] == defaults.providers[name]


def test_commented_out_examples_are_valid_too(tmp_path: Path) -> None:
    """Uncommenting the example's commented TOML blocks gives a valid config."""
    toml_line = re.compile(r'^(\[\[?[\w.\-"]+\]\]?|[\w\-]+ = .*)$')
    uncommented = []
    for line in EXAMPLE_TOML.splitlines():
        stripped = line.removeprefix("# ")
        uncommented.append(stripped if toml_line.match(stripped) else line)
    path = tmp_path / "full.toml"
    path.write_text("\n".join(uncommented) + "\n", encoding="utf-8")
    config = load_config(str(path), cwd=str(tmp_path), env={})
    assert config.warnings == ()
    assert [e.label for e in config.entries("completion")] == ["openai:gpt-4.1-mini", "local"]
    assert len(config.entries("ask")) == 2
    assert config.providers["lmstudio"].kind == "openai-compatible"
    assert config.providers["gpu-box"].base_url == "http://gpu-box.lan:11434"


def test_toml_blocks_of_doc_config_md_load_cleanly(tmp_path: Path) -> None:
    text = (DOC_EXAMPLE.parent / "config.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    path = tmp_path / "doc.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    config = load_config(str(path), cwd=str(tmp_path), env={})
    assert config.warnings == ()
    assert [e.label for e in config.entries("completion")] == ["openai:gpt-4.1-mini", "local"]
    assert [e.key for e in config.entries("ask")] == ["openai:gpt-4.1"]
    assert config.entries("completion")[1].model == "qwen2.5-coder:7b"
    assert config.providers["gpu-box"].max_concurrency == 2
