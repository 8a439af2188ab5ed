"""The HEXAI_* environment layer: hexai's variables and our list syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config_fixtures import HEXAI_GLOBAL, entries, load, problems_of


def test_models_list_splits_on_the_first_colon_only(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        HEXAI_GLOBAL,
        env={"HEXAI_MODELS_COMPLETION": "ollama:qwen2.5-coder:7b, openai:gpt-4.1-mini"},
    )
    assert [(e.provider.name, e.model, e.label) for e in config.entries("completion")] == [
        ("ollama", "qwen2.5-coder:7b", "ollama:qwen2.5-coder:7b"),
        ("openai", "gpt-4.1-mini", "openai:gpt-4.1-mini"),
    ]
    assert config.sources["models.completion"] == "env"


def test_models_list_item_without_colon_is_a_model_of_the_default_provider(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, HEXAI_GLOBAL, env={"HEXAI_MODELS_ASK": "llama3.2,openai:"})
    # [provider] name = "ollama" in the file; "openai:" means openai's default model
    # coding_temperature (0.3) comes before [openai] temperature (hexai 0.42)
    assert entries(config, "ask") == [("ollama", "llama3.2", 0.3), ("openai", "gpt-4.1", 0.3)]


@pytest.mark.parametrize("surface", ["CHAT", "CLI", "ASK"])
def test_models_list_aliases_of_ask(tmp_path: Path, surface: str) -> None:
    config = load(tmp_path, env={f"HEXAI_MODELS_{surface}": "anthropic:claude-x,ollama:m"})
    assert [e.key for e in config.entries("ask")] == ["anthropic:claude-x", "ollama:m"]


def test_models_list_replaces_file_lists_and_code_action_keeps_one(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        HEXAI_GLOBAL,
        env={"HEXAI_MODELS_CODE_ACTION": "openai:a,openai:b"},
    )
    assert [e.model for e in config.entries("code_action")] == ["a"]
    assert any("ignoring 1 extra" in w for w in config.warnings)


def test_models_list_names_named_providers(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[providers.gpu]\nkind = "ollama"\nbase_url = "http://gpu:11434"\n',
        env={"HEXAI_MODELS_COMPLETION": "gpu:qwen2.5-coder:32b"},
    )
    (entry,) = config.entries("completion")
    assert (entry.provider.base_url, entry.model) == ("http://gpu:11434", "qwen2.5-coder:32b")


def test_models_list_mistakes_name_the_variable_and_item(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path, env={"HEXAI_MODELS_COMPLETION": "olama:qwen2.5-coder:7b,,:gpt-4.1"}
    )
    by_path = {p.path: p.message for p in error.problems}
    assert set(by_path) == {
        "HEXAI_MODELS_COMPLETION[0].provider",
        "HEXAI_MODELS_COMPLETION[1]",
        "HEXAI_MODELS_COMPLETION[2]",
    }
    assert "did you mean 'ollama'" in by_path["HEXAI_MODELS_COMPLETION[0].provider"]
    assert "empty item" in by_path["HEXAI_MODELS_COMPLETION[1]"]
    assert "no provider before the colon" in by_path["HEXAI_MODELS_COMPLETION[2]"]
    assert all(p.file is None for p in error.problems)


def test_hexai_single_entry_surface_variables(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        HEXAI_GLOBAL,
        env={
            "HEXAI_MODEL_COMPLETION": "gpt-4.1-nano",
            "HEXAI_PROVIDER_COMPLETION": "openai",
            "HEXAI_TEMPERATURE_COMPLETION": "0.05",
            "HEXAI_MODEL_CLI": "llama3.2",
        },
    )
    assert entries(config, "completion") == [("openai", "gpt-4.1-nano", 0.05)]
    assert entries(config, "ask") == [("ollama", "llama3.2", 0.3)]


def test_list_variable_wins_over_single_entry_variables(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        env={"HEXAI_MODELS_COMPLETION": "ollama:a", "HEXAI_MODEL_COMPLETION": "b"},
    )
    assert [e.model for e in config.entries("completion")] == ["a"]
    assert any("HEXAI_MODEL_COMPLETION: ignored" in w for w in config.warnings)


def test_hexai_general_and_provider_variables(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        HEXAI_GLOBAL,
        env={
            "HEXAI_PROVIDER": "openai",
            "HEXAI_MAX_TOKENS": " 512 ",
            "HEXAI_REQUEST_TIMEOUT": "30",
            "HEXAI_CODING_TEMPERATURE": "0.15",
            "HEXAI_CONTEXT_MODE": "minimal",
            "HEXAI_COMPLETION_DEBOUNCE_MS": "150",
            "HEXAI_TRIGGER_CHARACTERS": ".,:, ,_",
            "HEXAI_OPENAI_MODEL": "gpt-4o-mini",
            "HEXAI_OPENAI_TEMPERATURE": "0.25",
            "HEXAI_OLLAMA_BASE_URL": "http://box:11434",
            "HEXAI_MAX_CONTEXT_TOKENS": "",  # empty counts as unset
        },
    )
    assert config.default_provider == "openai"
    assert config.general.max_tokens == 512
    assert config.general.request_timeout == 30
    assert config.general.coding_temperature == 0.15
    assert config.general.context_mode == "minimal"
    assert config.completion.debounce_ms == 150
    assert config.completion.trigger_characters == (".", ":", "_")
    assert config.providers["openai"].default_model == "gpt-4o-mini"
    assert config.providers["ollama"].base_url == "http://box:11434"
    # HEXAI_CODING_TEMPERATURE before HEXAI_OPENAI_TEMPERATURE (hexai 0.42)
    assert entries(config, "ask") == [("openai", "gpt-4o-mini", 0.15)]
    assert config.sources["general.max_tokens"] == "env"
    assert config.sources["providers.openai.model"] == "env"
    assert config.sources["general.max_context_tokens"] == "default"


def test_hexai_model_and_model_force(tmp_path: Path) -> None:
    # They set the model of the default provider: ollama unless HEXAI_PROVIDER says.
    config = load(tmp_path, env={"HEXAI_MODEL": "llama3.2"})
    assert config.providers["ollama"].default_model == "llama3.2"
    assert config.providers["openai"].default_model == "gpt-4.1"
    openai = {"HEXAI_PROVIDER": "openai"}
    config = load(tmp_path, env={**openai, "HEXAI_MODEL": "gpt-x"})
    assert config.providers["openai"].default_model == "gpt-x"
    config = load(tmp_path, env={**openai, "HEXAI_MODEL": "gpt-x", "HEXAI_OPENAI_MODEL": "gpt-y"})
    assert config.providers["openai"].default_model == "gpt-y"
    config = load(
        tmp_path, env={**openai, "HEXAI_MODEL_FORCE": "gpt-z", "HEXAI_OPENAI_MODEL": "gpt-y"}
    )
    assert config.providers["openai"].default_model == "gpt-z"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("HEXAI_MAX_TOKENS", "many", "expected an integer, got 'many'"),
        ("HEXAI_MAX_TOKENS", "0", "out of range"),
        ("HEXAI_REQUEST_TIMEOUT", "soon", "expected a number"),
        ("HEXAI_CODING_TEMPERATURE", "nan", "out of range"),
        ("HEXAI_TEMPERATURE_ASK", "warm", "expected a number"),
        ("HEXAI_PROVIDER", "olama", "did you mean 'ollama'"),
        ("HEXAI_CONTEXT_MODE", "ful", "allowed: minimal, window"),
        ("HEXAI_OPENAI_BASE_URL", "api.openai.com", "not an http:// or https:// URL"),
    ],
)
def test_bad_values_name_the_variable(
    tmp_path: Path, variable: str, value: str, words: str
) -> None:
    error = problems_of(tmp_path, env={variable: value})
    assert any(p.path.startswith(variable) and words in p.message for p in error.problems), [
        str(p) for p in error.problems
    ]


def test_near_miss_variables_warn_unrelated_ones_do_not(tmp_path: Path) -> None:
    config = load(
        tmp_path, env={"HEXAI_MODELS_COMPLETON": "openai:x", "HEXAI_SOMETHING_ELSE": "1"}
    )
    assert config.warnings == (
        "HEXAI_MODELS_COMPLETON: unknown environment variable "
        "(did you mean 'HEXAI_MODELS_COMPLETION'?); ignored",
    )
    assert [e.model for e in config.entries("completion")] == ["kimi-k2.6"]


def test_environment_beats_project_and_editor_beats_environment(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        project_text='[[models.completion]]\nmodel = "p"\n',
        env={"HEXAI_MODELS_COMPLETION": "openai:e"},
    )
    assert [e.model for e in config.entries("completion")] == ["e"]
    config = load(
        tmp_path,
        env={"HEXAI_MODELS_COMPLETION": "openai:e"},
        editor={"models": {"completion": "from-editor"}},
    )
    assert [e.model for e in config.entries("completion")] == ["from-editor"]
    assert config.sources["models.completion"] == "editor"
