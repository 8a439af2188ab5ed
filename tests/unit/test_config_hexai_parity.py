"""Parity with hexai 0.42.x: each rule pinned with hexai's own values and messages.

Sources: hexai's config example, docs and Go tests (see /work/shared/HEXAI-CONFIG.md,
section "hexai's newest releases").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hexai_nvim.config import default_config
from tests.unit.config_fixtures import entries, load, problems_of

# --------------------------------------------------------------------------- defaults


def test_default_provider_model_and_base_url_are_ollama_cloud() -> None:
    config = default_config()
    assert config.default_provider == "ollama"
    (entry,) = config.entries("completion")
    assert (entry.provider.name, entry.model) == ("ollama", "kimi-k2.6")
    assert entry.provider.base_url == "https://ollama.com"
    assert "OLLAMA_API_KEY" in entry.provider.api_key_env


def test_shorthand_model_belongs_to_the_default_provider(tmp_path: Path) -> None:
    config = load(tmp_path, '[models]\ncompletion = "gpt-4.1-mini"\n')
    assert [e.key for e in config.entries("completion")] == ["ollama:gpt-4.1-mini"]


def test_local_ollama_is_one_base_url_away(tmp_path: Path) -> None:
    config = load(tmp_path, '[ollama]\nbase_url = "http://localhost:11434"\n')
    assert config.providers["ollama"].base_url == "http://localhost:11434"
    assert config.providers["ollama"].default_model == "kimi-k2.6"


# --------------------------------------------------------------------------- temperature


def test_coding_temperature_comes_before_the_providers(tmp_path: Path) -> None:
    # The issue's case: hexai sends 0.2 (coding_temperature), not [openai]'s 0.7.
    config = load(tmp_path, '[openai]\ntemperature = 0.7\n[models]\ncompletion = '
                            '[{ provider = "openai", model = "gpt-4.1" }]\n')
    assert entries(config, "completion") == [("openai", "gpt-4.1", 0.2)]


def test_provider_temperature_only_when_coding_temperature_is_zero(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[general]\ncoding_temperature = 0.0\n[openai]\ntemperature = 0.7\n"
        '[[models.completion]]\nprovider = "openai"\nmodel = "gpt-4.1"\n'
        '[[models.completion]]\nprovider = "anthropic"\n'
        '[[models.completion]]\nprovider = "openai"\nmodel = "gpt-4.1"\ntemperature = 0.4\n',
    )
    # [anthropic] sets none: 0 stays 0; an entry's own temperature always wins.
    assert [e.temperature for e in config.entries("completion")] == [0.7, 0.0, 0.4]


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-mini", "GPT-5.1-codex"])
def test_openai_gpt5_models_get_temperature_one(tmp_path: Path, model: str) -> None:
    config = load(
        tmp_path,
        f'[[models.ask]]\nprovider = "openai"\nmodel = "{model}"\n'
        f'[[models.ask]]\nprovider = "openai"\nmodel = "{model}"\ntemperature = 0.3\n'
        # Only OpenAI's own API: the same name elsewhere keeps the chain.
        f'[[models.ask]]\nprovider = "openrouter"\nmodel = "{model}"\n',
    )
    assert [e.temperature for e in config.entries("ask")] == [1.0, 1.0, 0.2]
    # Where hexai is silent we say why 0.3 is not sent.
    assert any("takes only temperature 1.0; 0.3 is not sent" in w for w in config.warnings)


# --------------------------------------------------------------------------- surfaces


def test_chat_and_cli_keep_their_own_environment_variables(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        env={"HEXAI_MODEL_CHAT": "c", "HEXAI_PROVIDER_CLI": "openai", "HEXAI_MODEL_CLI": "l"},
    )
    assert [e.key for e in config.entries("chat")] == ["ollama:c"]
    assert [e.key for e in config.entries("cli")] == ["openai:l"]


# --------------------------------------------------------------------------- validation

CUSTOM_CASES = [
    # (actions, expected hexai message)
    ('id = "Fmt"\ntitle = "A"\ninstruction = "x"\n', 'id = "fmt"\ntitle = "B"\ninstruction = "y"\n',
     "duplicate custom action id: fmt"),
    ('id = "a"\ntitle = "A"\ninstruction = "x"\nhotkey = "k"\n',
     'id = "b"\ntitle = "B"\ninstruction = "y"\nhotkey = "K"\n',
     "duplicate custom action hotkey: K"),
    ('id = "a"\ntitle = "A"\ninstruction = "x"\nhotkey = "too"\n', None,
     "custom action a hotkey must be a single character"),
    ('id = "a"\ntitle = "A"\ninstruction = "x"\nscope = "file"\n', None,
     "custom action a has invalid scope: file"),
    ('title = "No ID"\ninstruction = "x"\n', None, "custom action missing required field id"),
    ('id = "no-title"\ninstruction = "x"\n', None,
     "custom action no-title missing required field title"),
    ('id = "a"\ntitle = "A"\n', None, "custom action a requires instruction or user"),
    ('id = "a"\ntitle = "A"\ninstruction = "x"\nuser = "y"\n', None,
     "custom action a must set either instruction or user, not both"),
]


@pytest.mark.parametrize(("first", "second", "message"), CUSTOM_CASES)
def test_custom_code_actions_are_refused_with_hexais_messages(
    tmp_path: Path, first: str, second: str | None, message: str
) -> None:
    text = "[[prompts.code_action.custom]]\n" + first
    if second:
        text += "[[prompts.code_action.custom]]\n" + second
    error = problems_of(tmp_path, text)
    assert any(message == p.message for p in error.problems), [str(p) for p in error.problems]
    assert all(p.path.startswith("prompts.code_action.custom[") for p in error.problems)
    assert all(p.line is not None for p in error.problems)  # file:line:col as everywhere


@pytest.mark.parametrize(
    ("hotkey", "message"),
    [
        ("r", "invalid tmux.custom_menu_hotkey: r (clashes with built-in)"),
        ("S", "invalid tmux.custom_menu_hotkey: S (clashes with built-in)"),
        ("ab", "invalid tmux.custom_menu_hotkey: ab"),
    ],
)
def test_tmux_menu_hotkey_may_not_clash(tmp_path: Path, hotkey: str, message: str) -> None:
    error = problems_of(tmp_path, f'[tmux]\ncustom_menu_hotkey = "{hotkey}"\n')
    assert [(p.path, p.message) for p in error.problems] == [("tmux.custom_menu_hotkey", message)]


def test_valid_custom_actions_and_tmux_hotkey_load(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[tmux]\ncustom_menu_hotkey = "x"\n'
        '[[prompts.code_action.custom]]\nid = "a"\ntitle = "A"\ninstruction = "x"\nhotkey = "a"\n'
        '[[prompts.code_action.custom]]\nid = "b"\ntitle = "B"\nuser = "{{selection}}"\n'
        'scope = "diagnostics"\nhotkey = "b"\n',
    )
    assert len(config.prompts["code_action"]["custom"]) == 2


# --------------------------------------------------------------------------- loads what hexai loads


def test_top_level_request_timeout_is_ignored_with_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, "request_timeout = 30\n")
    assert config.general.request_timeout == 600
    assert any("request_timeout" in w and "[general] request_timeout" in w
               for w in config.warnings)


def test_other_flat_keys_are_still_refused(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "max_tokens = 10\n")
    assert [p.path for p in error.problems] == ["max_tokens"]


def test_unknown_provider_in_a_surface_variable_fails_only_that_surface(tmp_path: Path) -> None:
    config = load(tmp_path, env={"HEXAI_PROVIDER_COMPLETION": "copilot"})
    (entry,) = config.entries("completion")
    assert entry.provider.name == "copilot"
    assert "unknown provider 'copilot'" in entry.unavailable
    assert "HEXAI_PROVIDER_COMPLETION" in entry.unavailable
    assert not config.entries("chat")[0].unavailable
    assert any("copilot" in w and "fails when used" in w for w in config.warnings)


def test_unknown_provider_in_a_file_is_still_an_error(tmp_path: Path) -> None:
    error = problems_of(tmp_path, '[[models.completion]]\nprovider = "copilot"\n')
    assert error.problems[0].path == "models.completion[0].provider"


def test_yousearch_section_and_provider_name_load(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[yousearch]\nresearch_effort = "deep"\n'
        '[[models.cli]]\nprovider = "yousearch"\nmodel = "research"\n',
    )
    (entry,) = config.entries("cli")
    assert entry.provider.name == "yousearch"
    assert "You.com" in entry.unavailable
    assert not any("yousearch" in w and "unknown section" in w for w in config.warnings)


def test_ignore_tmux_action_and_tmux_edit_sections_load(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[ignore]\ngitignore = false\nextra_patterns = ["*.pem", "secrets/"]\n'
        "lsp_notify_ignored = false\n"
        '[tmux_action]\nkey = "a"\n'
        '[tmux_edit]\npopup_width = "80%"\n[[tmux_edit.agents]]\nname = "claude"\n',
    )
    assert config.ignore.gitignore is False
    assert config.ignore.extra_patterns == ("*.pem", "secrets/")
    assert config.ignore.lsp_notify_ignored is False
    assert config.warnings == ()


def test_ignore_values_are_checked(tmp_path: Path) -> None:
    error = problems_of(tmp_path, '[ignore]\ngitignore = "yes"\n')
    assert error.problems[0].path == "ignore.gitignore"


# --------------------------------------------------------------------------- fallback keys


def test_fallback_provider_and_model_resolve_to_an_entry(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[models.completion]]\nprovider = "openai"\nmodel = "gpt-4.1"\n'
        'fallback_provider = "ollama"\nfallback_model = "qwen2.5-coder:7b"\n'
        '[[models.completion]]\nprovider = "openai"\nmodel = "gpt-4.1-mini"\n'
        'fallback_model = "gpt-4.1-nano"\n',
    )
    first, second = config.entries("completion")
    assert first.fallback is not None and first.fallback.key == "ollama:qwen2.5-coder:7b"
    assert second.fallback is not None and second.fallback.key == "openai:gpt-4.1-nano"
    assert first.fallback.fallback is None  # tried once, never a chain


def test_fallback_provider_must_be_known(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path, '[[models.completion]]\nmodel = "m"\nfallback_provider = "olama"\n'
    )
    assert error.problems[0].path == "models.completion[0].fallback_provider"
    assert "did you mean 'ollama'" in error.problems[0].message


def test_a_fallback_that_is_the_entry_itself_is_dropped_with_a_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path, '[[models.completion]]\nmodel = "kimi-k2.6"\nfallback_provider = "ollama"\n'
    )
    (entry,) = config.entries("completion")
    assert entry.fallback is None
    assert any("models.completion[0].fallback_model: the fallback is the entry itself" in w
               for w in config.warnings)
