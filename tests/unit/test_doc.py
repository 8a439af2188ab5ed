"""doc/hexai.txt documents every configuration key and includes the completion chapter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hexai_nvim.config import defaults, schema

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "doc" / "hexai.txt").read_text()
FIELD_SETS = {
    "general": schema.GENERAL_FIELDS,
    "completion": schema.COMPLETION_FIELDS,
    "triggers": schema.TRIGGER_FIELDS,
    "ignore": schema.IGNORE_FIELDS,
    "stats": schema.STATS_FIELDS,
    "arena": schema.ARENA_FIELDS,
    "engine": schema.ENGINE_FIELDS,
    "ui": schema.UI_FIELDS,
    "openai": schema.BUILTIN_SECTION_FIELDS,
    "providers.NAME": schema.PROVIDER_FIELDS,
    "models.<surface>": schema.entry_fields(()),
}


@pytest.mark.parametrize("section", sorted(FIELD_SETS))
def test_every_key_of_every_section_is_documented(section: str) -> None:
    missing = [key for key in FIELD_SETS[section]
               if not re.search(rf"(^|[\s`\[.]){re.escape(key)}([\s`\].]|$)", DOC, re.M)]
    assert not missing, f"[{section}] keys missing from doc/hexai.txt: {missing}"


def test_every_prompt_key_and_surface_is_documented() -> None:
    for group, keys in defaults.PROMPT_KEYS.items():
        assert f"[prompts.{group}]" in DOC
        for key in keys:
            base = key.removesuffix("_system").removesuffix("_user")
            assert key in DOC or base in DOC, f"prompts.{group}.{key}"
    for surface in ("completion", "ask", "code_action", "chat", "cli"):
        assert f"`{surface}`" in DOC


def test_the_help_file_has_the_classic_sections() -> None:
    assert DOC.startswith("*hexai.txt*")
    for tag in ("hexai-contents", "hexai-introduction", "hexai-install", "hexai-install-lazy",
                "hexai-install-plug", "hexai-config", "hexai-commands", "hexai-mappings",
                "hexai-highlights", "hexai-lua", "hexai-statusline", "hexai-health",
                "hexai-troubleshooting"):
        assert f"*{tag}*" in DOC
    assert "pip install" in DOC and ":UpdateRemotePlugins" in DOC
    assert DOC.rstrip().endswith("vim:tw=78:ts=8:et:ft=help:norl:")
