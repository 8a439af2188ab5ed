"""Loading hexai's format, layers and precedence, surfaces, named providers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hexai_nvim.config import ConfigError, default_config, load_config
from tests.unit.config_fixtures import (
    HEXAI_GLOBAL,
    HEXAI_PROJECT,
    entries,
    home_env,
    load,
    make_repo,
    problems_of,
    write,
)

# --------------------------------------------------------------------------- hexai's format


def test_hexai_documented_global_file_resolves_like_hexai(tmp_path: Path) -> None:
    config = load(tmp_path, HEXAI_GLOBAL)

    assert entries(config, "completion") == [
        ("openai", "gpt-4.1-mini", 0.0),
        # no model: [ollama] model; no temperature: [ollama] has none -> coding_temperature
        ("ollama", "qwen2.5-coder:7b", 0.3),
    ]
    assert entries(config, "code_action") == [("openai", "gpt-4o", 0.4)]
    # no [models] ask list: one entry of the default provider ([provider] name)
    assert entries(config, "ask") == [("ollama", "qwen2.5-coder:7b", 0.3)]
    assert config.default_provider == "ollama"
    assert config.general.max_tokens == 2048
    assert config.general.context_mode == "window"
    assert config.completion.debounce_ms == 300
    assert config.completion.wait_all is False
    assert config.providers["ollama"].base_url == "http://127.0.0.1:11434"
    assert config.warnings == ()


def test_hexai_project_shorthand_replaces_the_completion_list(tmp_path: Path) -> None:
    config = load(tmp_path, HEXAI_GLOBAL, project_text=HEXAI_PROJECT)

    # `completion = "..."` is one entry with a model of the (now openai) default
    # provider; temperature is general.coding_temperature (0.3), which hexai
    # uses before [openai] temperature (0.1).
    assert entries(config, "completion") == [("openai", "gpt-4.1-nano", 0.3)]
    assert entries(config, "code_action") == [("openai", "gpt-4o", 0.4)]
    assert entries(config, "ask") == [("openai", "gpt-4.1", 0.3)]
    assert config.sources["models.completion"] == "project"
    assert config.sources["models.code_action"] == "global"
    assert config.sources["provider.name"] == "project"
    assert len(config.files) == 2
    assert config.files[0].endswith("config.toml")
    assert config.files[1].endswith(".hexaiconfig.toml")


def test_resolved_entry_fields_and_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, HEXAI_GLOBAL)
    first, second = config.entries("completion")

    assert (first.index, second.index) == (0, 1)
    assert first.label == "openai:gpt-4.1-mini"
    assert first.key == "openai:gpt-4.1-mini"
    assert first.max_tokens == 2048
    assert first.timeout_ms == 4000  # completion.timeout_ms, not request_timeout
    assert first.stream is True
    (ask,) = config.entries("ask")
    assert ask.timeout_ms == 120_000  # general.request_timeout seconds
    assert config.entries("chat") == config.entries("ask") == config.entries("cli")


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config == default_config()
    # hexai 0.42: Ollama Cloud with kimi-k2.6, Bearer OLLAMA_API_KEY.
    assert config.default_provider == "ollama"
    assert entries(config, "completion") == [("ollama", "kimi-k2.6", 0.2)]
    ollama = config.providers["ollama"]
    assert (ollama.base_url, ollama.default_model) == ("https://ollama.com", "kimi-k2.6")
    assert ollama.api_key_env == ("HEXAI_OLLAMA_API_KEY", "OLLAMA_API_KEY")
    assert config.general.request_timeout == 600
    assert config.engine.max_concurrency == 8
    assert config.ui["ask_layout"] == "auto"
    assert config.ui["completion_layout"] == "stack"
    assert config.ui["disabled_filetypes"] == ()
    assert all(source == "default" for source in config.sources.values())
    assert config.files == ()


def test_entry_forms_one_table_and_strings_in_arrays(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [models.ask]
        provider = "anthropic"

        [models]
        completion = ["gpt-4.1-mini", "gpt-4.1"]
        """,
    )
    assert entries(config, "ask") == [("anthropic", "claude-3-5-sonnet-20240620", 0.2)]
    # hexai's shorthand: a model of the default provider, ollama since 0.42.
    assert entries(config, "completion") == [
        ("ollama", "gpt-4.1-mini", 0.2),
        ("ollama", "gpt-4.1", 0.2),
    ]


def test_our_entry_fields(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[models.completion]]
        provider = "ollama"
        model = "qwen2.5-coder:7b"
        label = "local"
        max_tokens = 256
        timeout_ms = 3000
        stream = false
        """,
    )
    (entry,) = config.entries("completion")
    assert (entry.label, entry.max_tokens, entry.timeout_ms, entry.stream) == (
        "local", 256, 3000, False,
    )


def test_temperature_falls_back_entry_provider_general(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [general]
        coding_temperature = 0.5
        [openai]
        temperature = 0.7
        [providers.lan]
        kind = "ollama"
        model = "m"
        temperature = 0.9
        [[models.ask]]
        provider = "openai"
        temperature = 0.1
        [[models.ask]]
        provider = "openai"
        [[models.ask]]
        provider = "lan"
        [[models.ask]]
        provider = "anthropic"
        """,
    )
    # hexai 0.42: entry, then coding_temperature; a provider's temperature
    # only when coding_temperature is 0 (next test).
    assert [e.temperature for e in config.entries("ask")] == [0.1, 0.5, 0.5, 0.5]


def test_quoted_temperature_loads_like_hexai_with_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, '[[models.completion]]\nmodel = "m"\ntemperature = "0.4"\n')
    assert config.entries("completion")[0].temperature == 0.4
    assert any("models.completion[0].temperature" in w for w in config.warnings)


def test_openai_presets_map_the_section_model(tmp_path: Path) -> None:
    config = load(tmp_path, '[openai]\nmodel = "fast"\npresets = { fast = "gpt-4.1-mini" }\n')
    assert config.providers["openai"].default_model == "gpt-4.1-mini"


def test_hexai_only_sections_load_silently(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [logging]
        log_preview_limit = 100
        [inline]
        inline_open = ">!"
        [chat]
        chat_suffix = ">"
        [tmux_edit]
        popup_width = "80%"
        [[tmux_edit.agents]]
        name = "cursor"
        [ignore]
        gitignore = true
        [prompts.chat]
        system = "Be brief."
        [[prompts.code_action.custom]]
        id = "x"
        title = "X"
        instruction = "do it"
        """,
    )
    assert config.warnings == ()
    assert config.prompts["chat"]["system"] == "Be brief."
    assert config.prompts["code_action"]["custom"][0]["id"] == "x"


# --------------------------------------------------------------------------- layers


LAYER_CASES = [
    ({"global": 1000}, 1000, "global"),
    ({"global": 1000, "project": 2000}, 2000, "project"),
    ({"global": 1000, "project": 2000, "env": 3000}, 3000, "env"),
    ({"global": 1000, "project": 2000, "env": 3000, "editor": 4000}, 4000, "editor"),
    ({"project": 2000, "editor": 4000}, 4000, "editor"),
    ({"env": 3000}, 3000, "env"),
    ({}, 4000, "default"),
]


@pytest.mark.parametrize(("given", "expected", "source"), LAYER_CASES)
def test_precedence_default_global_project_env_editor(
    tmp_path: Path, given: dict[str, int], expected: int, source: str
) -> None:
    config = load(
        tmp_path,
        f"[general]\nmax_tokens = {given['global']}\n" if "global" in given else None,
        project_text=(
            f"[general]\nmax_tokens = {given['project']}\n" if "project" in given else None
        ),
        env={"HEXAI_MAX_TOKENS": str(given["env"])} if "env" in given else None,
        editor={"general": {"max_tokens": given["editor"]}} if "editor" in given else None,
    )
    assert config.general.max_tokens == expected
    assert config.sources["general.max_tokens"] == source


def test_later_layer_list_replaces_whole_and_tables_merge_by_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [general]
        max_tokens = 1000
        coding_temperature = 0.6
        [[models.completion]]
        model = "a"
        [[models.completion]]
        model = "b"
        """,
        project_text='[general]\nmax_tokens = 2000\n[[models.completion]]\nmodel = "c"\n',
    )
    assert [e.model for e in config.entries("completion")] == ["c"]
    assert config.general.max_tokens == 2000
    assert config.general.coding_temperature == 0.6
    assert config.sources["general.coding_temperature"] == "global"


def test_empty_list_keeps_the_lower_layers_list_with_a_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[models.completion]]\nmodel = "a"\n',
        project_text="[models]\ncompletion = []\n",
    )
    assert [e.model for e in config.entries("completion")] == ["a"]
    assert any("empty list" in w for w in config.warnings)


def test_editor_layer_lists_from_lua_tables(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        HEXAI_GLOBAL,
        editor={
            "models": {"completion": [{"provider": "openai", "model": "x"}]},
            "ui": {"ask_layout": "columns", "disabled_filetypes": ["help"]},
        },
    )
    assert entries(config, "completion") == [("openai", "x", 0.3)]
    assert config.ui["ask_layout"] == "columns"
    assert config.ui["disabled_filetypes"] == ("help",)
    assert config.sources["ui.ask_layout"] == "editor"


def test_global_path_order_config_arg_hexai_config_xdg_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home, ".config/hexai/config.toml", "[general]\nmax_tokens = 1\n")
    xdg = write(tmp_path, "xdg/hexai/config.toml", "[general]\nmax_tokens = 2\n")
    named = write(tmp_path, "named.toml", "[general]\nmax_tokens = 3\n")
    arg = write(tmp_path, "arg.toml", "[general]\nmax_tokens = 4\n")
    cwd = str(tmp_path)

    def tokens(config_path: str | None, **env: str) -> int:
        return load_config(config_path, cwd=cwd, env=home_env(home, **env)).general.max_tokens

    assert tokens(None) == 1
    assert tokens(None, XDG_CONFIG_HOME=str(xdg.parent.parent)) == 2
    assert tokens(None, XDG_CONFIG_HOME=str(xdg.parent.parent), HEXAI_CONFIG=str(named)) == 3
    assert tokens(str(arg), HEXAI_CONFIG=str(named)) == 4


def test_explicit_missing_file_is_a_problem_default_missing_is_not(tmp_path: Path) -> None:
    assert load_config(cwd=str(tmp_path), env=home_env(tmp_path)).files == ()
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path / "nope.toml"), cwd=str(tmp_path), env={})
    (problem,) = caught.value.problems
    assert problem.file == str(tmp_path / "nope.toml")
    assert "not found" in problem.message


def test_no_home_no_global_file(tmp_path: Path) -> None:
    # an explicit env without HOME never falls back to the real home directory
    assert load_config(cwd=str(tmp_path), env={}).files == ()


def test_project_file_found_from_a_subdirectory_and_in_worktrees(tmp_path: Path) -> None:
    for git_file in (False, True):
        repo = make_repo(tmp_path / f"repo{git_file}", "[general]\nmax_tokens = 7\n",
                         git_file=git_file)
        deep = repo / "a" / "b"
        deep.mkdir(parents=True)
        config = load_config(cwd=str(deep), env={})
        assert config.general.max_tokens == 7
        assert config.files == (str(repo / ".hexaiconfig.toml"),)


def test_project_file_only_at_the_git_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "sub", ".hexaiconfig.toml", "[general]\nmax_tokens = 7\n")
    assert load_config(cwd=str(repo / "sub"), env={}).general.max_tokens == 4000
    # outside any repository there is no project file at all
    write(tmp_path / "plain", ".hexaiconfig.toml", "[general]\nmax_tokens = 7\n")
    assert load_config(cwd=str(tmp_path / "plain"), env={}).files == ()


def test_the_same_file_as_global_and_project_is_read_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "[general]\nmax_tokens = 7\n")
    project = str(repo / ".hexaiconfig.toml")
    config = load_config(project, cwd=str(repo), env={})
    assert config.files == (project,)
    assert config.sources["general.max_tokens"] == "global"


# --------------------------------------------------------------------------- surfaces


def test_chat_serves_the_editor_cli_the_terminal_ask_both(tmp_path: Path) -> None:
    # hexai keeps chat (in-editor) and cli (terminal) apart: so do we.
    config = load(tmp_path, '[[models.cli]]\nmodel = "l"\n[[models.chat]]\nmodel = "c"\n')
    assert [e.model for e in config.entries("chat")] == ["c"]
    assert [e.model for e in config.entries("cli")] == ["l"]
    assert [e.surface for e in config.entries("chat")] == ["chat"]
    assert not any("ignored" in w for w in config.warnings)
    # One of the two set: it serves both.
    config = load(tmp_path, '[[models.chat]]\nmodel = "c"\n')
    assert [e.model for e in config.entries("cli")] == ["c"]
    config = load(tmp_path, '[[models.cli]]\nmodel = "l"\n')
    assert [e.model for e in config.entries("chat")] == ["l"]
    # Our ask serves both, and whichever of chat/cli is set wins for its surface.
    config = load(tmp_path, '[[models.ask]]\nmodel = "a"\n[[models.chat]]\nmodel = "c"\n')
    assert [e.model for e in config.entries("chat")] == ["c"]
    assert [e.model for e in config.entries("cli")] == ["a"]
    # Nothing set: the default entry serves both.
    (tmp_path / "none").mkdir()
    config = load(tmp_path / "none")
    assert config.entries("chat") == config.entries("cli") != ()


def test_ask_of_a_higher_layer_replaces_chat_and_cli_below(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[models.chat]]\nmodel = "c"\n[[models.cli]]\nmodel = "l"\n',
        env={"HEXAI_MODELS_ASK": "openai:gpt-4.1"},
    )
    assert [e.key for e in config.entries("chat")] == ["openai:gpt-4.1"]
    assert [e.key for e in config.entries("cli")] == ["openai:gpt-4.1"]
    # A project's chat replaces only the global chat; the global cli stays.
    config = load(
        tmp_path,
        '[[models.chat]]\nmodel = "c"\n[[models.cli]]\nmodel = "l"\n',
        project_text='[[models.chat]]\nmodel = "p"\n',
    )
    assert [e.model for e in config.entries("chat")] == ["p"]
    assert [e.model for e in config.entries("cli")] == ["l"]


def test_code_action_keeps_one_entry_with_hexais_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[models.code_action]]
        model = "a"
        [[models.code_action]]
        model = "b"
        [[models.code_action]]
        model = "c"
        """,
    )
    assert [e.model for e in config.entries("code_action")] == ["a"]
    assert any(
        "models.code_action supports a single entry; ignoring 2 extra" in w
        for w in config.warnings
    )


def test_duplicate_labels_warn(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[models.completion]]
        model = "a"
        temperature = 0.1
        [[models.completion]]
        model = "a"
        temperature = 0.9
        """,
    )
    assert any("label 'ollama:a' is also used by entry 0" in w for w in config.warnings)


def test_timeouts_completion_caps_and_provider_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [completion]
        timeout_ms = 8000
        [providers.slow]
        kind = "ollama"
        model = "m"
        timeout_ms = 90000
        [providers.quick]
        kind = "ollama"
        model = "m"
        timeout_ms = 2000
        [[models.completion]]
        provider = "slow"
        [[models.completion]]
        provider = "quick"
        [[models.completion]]
        provider = "quick"
        timeout_ms = 5000
        [[models.ask]]
        provider = "slow"
        [[models.ask]]
        provider = "openai"
        """,
    )
    assert [e.timeout_ms for e in config.entries("completion")] == [8000, 2000, 5000]
    assert [e.timeout_ms for e in config.entries("ask")] == [90000, 600_000]


# --------------------------------------------------------------------------- named providers


def test_named_providers_two_ollama_hosts_and_lm_studio(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [providers.gpu]
        kind = "ollama"
        base_url = "http://gpu.lan:11434/"
        model = "qwen2.5-coder:32b"
        max_concurrency = 2
        [providers.laptop]
        kind = "ollama"
        [providers.lmstudio]
        kind = "openai-compatible"
        base_url = "http://localhost:1234/v1"
        api_key_env = "LMSTUDIO_KEY"
        headers = { "X-Team" = "editor" }
        stream = false
        [[models.completion]]
        provider = "gpu"
        [[models.completion]]
        provider = "laptop"
        model = "qwen2.5-coder:1.5b"
        [[models.completion]]
        provider = "lmstudio"
        model = "qwen2.5-coder-7b-instruct"
        """,
    )
    gpu, laptop, studio = config.entries("completion")
    assert (gpu.key, gpu.provider.base_url, gpu.provider.max_concurrency) == (
        "gpu:qwen2.5-coder:32b", "http://gpu.lan:11434", 2,
    )
    assert laptop.provider.kind == "ollama"
    assert laptop.provider.base_url == "http://localhost:11434"
    assert laptop.provider.api_key_env == ()  # named providers get no built-in key
    assert studio.provider.kind == "openai-compatible"
    assert studio.provider.api_key_env == ("LMSTUDIO_KEY",)
    assert dict(studio.provider.headers) == {"X-Team": "editor"}
    assert studio.stream is False  # the provider's stream default


def test_providers_table_extends_a_builtin_provider(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[openai]\nmodel = "gpt-4.1-mini"\n[providers.openai]\nmax_concurrency = 3\n'
        "timeout_ms = 20000\n",
    )
    spec = config.providers["openai"]
    assert (spec.default_model, spec.max_concurrency, spec.timeout_ms) == ("gpt-4.1-mini", 3, 20000)
    assert spec.api_key_env == ("HEXAI_OPENAI_API_KEY", "OPENAI_API_KEY")
    assert config.sources["providers.openai.model"] == "global"


def test_default_provider_may_be_a_named_one(tmp_path: Path) -> None:
    config = load(
        tmp_path, '[provider]\nname = "box"\n[providers.box]\nkind = "ollama"\nmodel = "m"\n'
    )
    assert entries(config, "ask") == [("box", "m", 0.2)]


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ('[providers.x]\nbase_url = "http://h"\n', "providers.x.kind", "missing"),
        ('[providers.x]\nkind = "openai-compatible"\n', "providers.x.base_url", "required"),
        ('[providers."a:b"]\nkind = "ollama"\n', 'providers."a:b"', "invalid provider name"),
        ('[providers.openai]\nkind = "ollama"\n', "providers.openai.kind", "built-in"),
        ('[providers.x]\nkind = "ollma"\n', "providers.x.kind", "did you mean 'ollama'"),
        ('[openai]\nmodel = "a"\n[providers.openai]\nmodel = "b"\n', "", "keep one"),
        (
            '[providers.x]\nkind = "openai-compatible"\nbase_url = "http://h/v1"\n'
            '[[models.ask]]\nprovider = "x"\n',
            "models.ask[0].model",
            "has no default model",
        ),
        ('[provider]\nname = "x"\n[providers.x]\nkind = "ollama"\n', "providers.x.model",
         "default provider"),
    ],
)
def test_named_provider_mistakes(tmp_path: Path, text: str, path: str, words: str) -> None:
    error = problems_of(tmp_path, text)
    assert any(p.path.startswith(path) and words in p.message for p in error.problems), [
        str(p) for p in error.problems
    ]


def test_project_files_may_not_set_key_commands_or_key_variables(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path,
        project_text='[providers.x]\nkind = "ollama"\napi_key_cmd = "cat ~/.ssh/id_rsa"\n'
        'api_key_env = "AWS_SECRET_ACCESS_KEY"\n',
    )
    paths = sorted(p.path for p in error.problems)
    assert paths == ["providers.x.api_key_cmd", "providers.x.api_key_env"]
    # the same keys are fine in the global file
    other = tmp_path / "other"
    other.mkdir()
    config = load(other, '[providers.x]\nkind = "ollama"\napi_key_cmd = "echo k"\n')
    assert config.providers["x"].api_key_cmd == "echo k"


# --------------------------------------------------------------------------- validation


def test_every_problem_at_once_with_paths_and_allowed_values(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path,
        """
        [general]
        max_tokens = "lots"
        context_mode = "windw"
        coding_temperature = 7
        [completion]
        completion_wait_all = "yes"
        [ui]
        ask_layout = "colums"
        [[models.completion]]
        provider = "openai"
        [[models.completion]]
        provider = "olama"
        max_tokens = -1
        """,
    )
    by_path = {p.path: p.message for p in error.problems}
    assert set(by_path) == {
        "general.max_tokens",
        "general.context_mode",
        "general.coding_temperature",
        "completion.completion_wait_all",
        "ui.ask_layout",
        "models.completion[1].provider",
        "models.completion[1].max_tokens",
    }
    assert "got string 'lots'" in by_path["general.max_tokens"]
    assert "did you mean 'window'" in by_path["general.context_mode"]
    assert "allowed: a number from 0 to 2" in by_path["general.coding_temperature"]
    assert "expected true or false" in by_path["completion.completion_wait_all"]
    assert "did you mean 'columns'" in by_path["ui.ask_layout"]
    assert "did you mean 'ollama'" in by_path["models.completion[1].provider"]
    assert all(p.file and p.file.endswith("config.toml") for p in error.problems)


def test_unknown_keys_and_sections_warn_with_suggestions(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [genral]
        max_tokens = 1
        [general]
        max_tokns = 1
        [[models.completion]]
        modle = "x"
        [models]
        complection = "y"
        [telemetry]
        on = true
        """,
    )
    text = "\n".join(config.warnings)
    assert "genral: unknown section or key (did you mean 'general'?)" in text
    assert "general.max_tokns: unknown key (did you mean 'max_tokens'?)" in text
    assert "models.completion[0].modle: unknown key (did you mean 'model'?)" in text
    assert "models.complection: unknown surface (did you mean 'completion'?)" in text
    assert "telemetry: unknown section or key; ignored" in text


def test_hexai_flat_keys_are_rejected_with_the_hint(tmp_path: Path) -> None:
    error = problems_of(tmp_path, 'max_tokens = 10\nprovider = "openai"\nopenai_model = "x"\n')
    messages = {p.path: p.message for p in error.problems}
    assert "write it as [general] max_tokens" in messages["max_tokens"]
    assert "write it as [provider] name" in messages["provider"]
    assert "write it as [openai] model" in messages["openai_model"]
    assert all("sectioned tables" in m for m in messages.values())


def test_section_given_as_a_value(tmp_path: Path) -> None:
    error = problems_of(tmp_path, 'completion = "gpt-4.1"\n')
    (problem,) = error.problems
    assert problem.path == "completion"
    assert '[models] completion = "..."' in problem.message


def test_invalid_toml_names_file_line_and_column(tmp_path: Path) -> None:
    error = problems_of(tmp_path, '[general]\nmax_tokens = 1\ncontext_mode = "window\n')
    (problem,) = error.problems
    assert problem.file and problem.file.endswith("config.toml")
    assert (problem.line, problem.column) == (3, 23)
    assert problem.message.startswith("invalid TOML: ")
    assert f"{problem.file}:3:23: invalid TOML" in str(problem)


def test_unreadable_and_non_utf8_files_are_problems(tmp_path: Path) -> None:
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(str(directory), cwd=str(tmp_path), env={})
    assert "not a file" in caught.value.problems[0].message

    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"[general]\nmax_tokens = 1 # \xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(binary), cwd=str(tmp_path), env={})
    problem = caught.value.problems[0]
    assert (problem.line, "UTF-8" in problem.message) == (2, True)

    if os.geteuid() != 0:  # root reads anything
        locked = write(tmp_path, "locked.toml", "")
        locked.chmod(0)
        with pytest.raises(ConfigError) as caught:
            load_config(str(locked), cwd=str(tmp_path), env={})
        assert "cannot read" in caught.value.problems[0].message


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path,
        "[general]\nmax_tokens = 0\n",
        project_text="[general\n",
        env={"HEXAI_REQUEST_TIMEOUT": "soon"},
        editor={"ui": {"ghost_text": "yes"}},
    )
    assert {p.path for p in error.problems} == {
        "general.max_tokens", "", "HEXAI_REQUEST_TIMEOUT", "ui.ghost_text",
    }
    assert any(p.file == "setup{}" for p in error.problems)


def test_editor_layer_that_is_not_a_table(tmp_path: Path) -> None:
    error = problems_of(tmp_path, editor=["not", "a", "table"])  # type: ignore[arg-type]
    assert "expected a table of settings" in error.problems[0].message


def test_config_is_immutable(tmp_path: Path) -> None:
    config = load(tmp_path, HEXAI_GLOBAL)
    with pytest.raises(AttributeError):
        config.general.max_tokens = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.models["completion"] = ()  # type: ignore[index]
    assert isinstance(config.entries("completion"), tuple)


def test_value_problems_point_at_the_line_of_the_key(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path,
        """
        [general]
        max_tokens = 0

        [providers.box]
        kind = "ollma"
        headers = { "X-A" = 1 }

        [[models.ask]]
        model = "a"
        [[models.ask]]
          temperature = 9
        [models]
        code_action = 5
        """,
    )
    where = {p.path: (p.line, p.column) for p in error.problems}
    assert where == {
        "general.max_tokens": (3, 1),
        "providers.box.kind": (6, 1),
        "providers.box.headers.X-A": (7, 1),
        "models.ask[1].temperature": (12, 3),
        "models.code_action": (14, 1),
    }


@pytest.mark.parametrize(
    "pasted",
    [
        "sk-proj-Abc123def456GHI789jkl012MNO345",  # not a variable name at all
        "gsk_Abc123def456GHI789jkl012MNO345pqr",  # a valid name, but a key
    ],
)
def test_a_key_pasted_into_api_key_env_is_a_problem_that_never_shows_it(
    tmp_path: Path, pasted: str
) -> None:
    table = '[providers.x]\nkind = "openai"\nbase_url = "http://h/v1"\n'
    error = problems_of(tmp_path, f'{table}api_key_env = "{pasted}"\n')
    assert [p.path for p in error.problems] == ["providers.x.api_key_env"]
    assert "looks like an API key" in error.problems[0].message
    shown = "\n".join([str(error), *map(str, error.problems), *error.warnings])
    assert pasted[:12] not in shown
    # real variable names, lower-case ones included, still load
    (tmp_path / "ok").mkdir()
    config = load(tmp_path / "ok", f'{table}api_key_env = ["MY_KEY_2", "work_token"]\n')
    assert config.providers["x"].api_key_env == ("MY_KEY_2", "work_token")


def test_fim_option_is_validated_against_the_kind(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[providers.local]\nkind = "llamacpp"\nfim = "completions"\n'
        '[providers.cloud]\nkind = "anthropic"\nfim = "infill"\n'
        '[providers.typo]\nkind = "ollama"\nfim = "inflil"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(str(path), cwd=str(tmp_path), env={})
    messages = [str(p) for p in info.value.problems]
    assert any(
        "providers.cloud.fim: 'infill' is not available for kind 'anthropic'; allowed: auto, off"
        in m for m in messages
    ), messages
    assert any("providers.typo.fim" in m and "did you mean 'infill'" in m for m in messages)
    assert not any("providers.local" in m for m in messages)


def test_new_kinds_get_their_declared_base_url_and_fim(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[providers.ls]\nkind = "llamacpp"\n[providers.cs]\nkind = "mistral"\n'
        '[providers.ol]\nkind = "ollama"\nfim = "off"\n'
        '[[models.completion]]\nprovider = "ls"\nmodel = "m"\n'
    )
    config = load_config(str(path), cwd=str(tmp_path), env={})
    assert config.providers["ls"].base_url == "http://127.0.0.1:8080/v1"
    assert config.providers["cs"].base_url == "https://api.mistral.ai/v1"
    assert config.providers["ls"].fim == "auto" and config.providers["ol"].fim == "off"
    assert config.sources["providers.ol.fim"] == "global"
    [entry] = config.entries("completion")
    assert entry.max_tokens_set is False
