"""Config diffs in hexai's reload format."""

from __future__ import annotations

from pathlib import Path

from hexai_nvim.config import default_config, diff_configs, format_reload_diff
from tests.unit.config_fixtures import HEXAI_GLOBAL, load


def test_equal_configs_have_no_changes(tmp_path: Path) -> None:
    config = load(tmp_path, HEXAI_GLOBAL)
    assert diff_configs(config, config) == []
    assert format_reload_diff(config, config) == "Reloaded config (no changes detected)."


def test_reload_diff_uses_hexais_bare_key_names(tmp_path: Path) -> None:
    # hexai's own example: `- max_tokens: 64 → 128`. Its header says
    # "(1 changes)"; ours is English (a listed deliberate difference).
    old = load(tmp_path, "[general]\nmax_tokens = 64\n")
    other = tmp_path / "b"
    other.mkdir()
    new = load(other, "[general]\nmax_tokens = 128\n")
    assert format_reload_diff(old, new) == "Reloaded config (1 change):\n- max_tokens: 64 → 128"


def test_reload_diff_names_like_hexais_store(tmp_path: Path) -> None:
    old = default_config()
    new = load(
        tmp_path,
        """
        [provider]
        name = "openai"
        [openai]
        model = "gpt-4o"
        [completion]
        completion_debounce_ms = 200
        [stats]
        window_minutes = 30
        [engine]
        retries = 1
        [[models.chat]]
        model = "c"
        [[models.cli]]
        model = "l"
        """,
    )
    keys = [line.split(":", 1)[0] for line in diff_configs(old, new)]
    for key in ("- provider", "- openai_model", "- completion_debounce_ms",
                "- stats_window_minutes", "- chat_configs", "- cli_configs"):
        assert key in keys
    assert "- engine.retries" in keys  # ours keeps its dotted path
    assert keys == sorted(keys)  # hexai sorts its changes by key
    dotted = [line.split(":", 1)[0] for line in diff_configs(old, new, dotted=True)]
    assert "- provider.name" in dotted and "- models.chat" in dotted


def test_hexai_format_for_values_and_entry_lists(tmp_path: Path) -> None:
    old = default_config()
    new = load(
        tmp_path,
        """
        [general]
        max_tokens = 2000
        [[models.completion]]
        provider = "openai"
        model = "gpt-4.1"
        [[models.completion]]
        provider = "ollama"
        model = "qwen2.5-coder:7b"
        temperature = 0.35
        """,
    )
    assert diff_configs(old, new) == [
        "- completion_configs: ollama:kimi-k2.6@0.200 → "
        "openai:gpt-4.1@0.200|ollama:qwen2.5-coder:7b@0.350",
        "- max_tokens: 4000 → 2000",
    ]
    assert format_reload_diff(old, new) == (
        "Reloaded config (2 changes):\n"
        "- completion_configs: ollama:kimi-k2.6@0.200 → "
        "openai:gpt-4.1@0.200|ollama:qwen2.5-coder:7b@0.350\n"
        "- max_tokens: 4000 → 2000"
    )


def test_our_entry_fields_and_new_providers(tmp_path: Path) -> None:
    old = load(tmp_path, '[[models.ask]]\nmodel = "m"\n')
    other = tmp_path / "b"
    other.mkdir()
    new = load(
        other,
        '[[models.ask]]\nmodel = "m"\ntimeout_ms = 5000\nlabel = "main"\n'
        '[providers.box]\nkind = "ollama"\n',
    )
    lines = diff_configs(old, new)
    assert "- ask_configs[0].label: ollama:m → main" in lines
    assert "- ask_configs[0].timeout_ms: 600000 → 5000" in lines
    assert "- providers.box.kind: (none) → ollama" in lines
    assert not any(line.startswith("- ask_configs:") for line in lines)


def test_secrets_never_show_in_diffs(tmp_path: Path) -> None:
    old = default_config()
    new = load(
        tmp_path,
        '[providers.openai]\napi_key_cmd = "echo sk-inline-secret-1234567890"\n'
        'headers = { Authorization = "Bearer sk-header-secret-abcdefgh" }\n',
    )
    text = "\n".join(diff_configs(old, new))
    assert "providers.openai.api_key_cmd: (none) → (set)" in text
    assert "providers.openai.headers.Authorization: (none) → ****efgh" in text
    assert "sk-inline-secret" not in text
    assert "sk-header-secret" not in text


def test_a_secret_that_changed_behind_its_mask_is_reported_without_values(
    tmp_path: Path,
) -> None:
    """`config diff` and the reload summary said "No changes" here (they compared masks)."""
    def provider(cmd: str, header: str, password: str) -> str:
        return (
            f'[providers.corp]\nkind = "openai-compatible"\n'
            f'base_url = "http://alice:{password}@127.0.0.1:9/v1"\n'
            f'api_key_cmd = "printf %s {cmd}"\n'
            f'headers = {{ X-Proxy-Token = "{header}" }}\n'
        )

    old_secrets = ("sk-old-cmd-1111aaaa2222", "tok-old-3333bbbb4444WXYZ", "pw-old-5555cccc")
    new_secrets = ("sk-new-cmd-6666dddd7777", "tok-new-8888eeee9999WXYZ", "pw-new-0000ffff")
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = load(tmp_path / "old", provider(*old_secrets))
    new = load(tmp_path / "new", provider(*new_secrets))
    lines = diff_configs(old, new)
    assert lines == [  # sorted by key, as hexai sorts its changes
        "- providers.corp.api_key_cmd: changed",
        "- providers.corp.base_url: changed",
        "- providers.corp.headers.X-Proxy-Token: changed",
    ]
    shown = format_reload_diff(old, new)
    assert "3 changes" in shown
    for secret in old_secrets + new_secrets:
        for i in range(len(secret) - 5):
            assert secret[i : i + 6] not in shown


def test_every_setting_of_every_section_shows_in_a_reload_diff() -> None:
    # A key missing from the diff reads "no changes detected" although the
    # change takes effect ([arena] blind did). Change each field of each
    # settings section alone: the diff must name it.
    import dataclasses
    from types import MappingProxyType
    from typing import Any

    def other(value: Any) -> Any:
        if isinstance(value, bool):
            return not value
        if isinstance(value, (int, float)):
            return value + 7
        if isinstance(value, str):
            return value + "-x"
        if isinstance(value, tuple):
            return (*value, "x")
        if isinstance(value, MappingProxyType | dict):
            return MappingProxyType({**value, "m": (1.0, 2.0)})
        raise AssertionError(f"no other value for {value!r}")

    base = default_config()
    for section in ("general", "completion", "engine", "arena", "ignore"):
        settings = getattr(base, section)
        for f in dataclasses.fields(settings):
            changed = dataclasses.replace(
                base, **{section: dataclasses.replace(settings, **{f.name: other(
                    getattr(settings, f.name))})})
            assert diff_configs(base, changed, dotted=True), f"{section}.{f.name} not in the diff"
    for name in ("default_provider", "stats_window_minutes"):
        changed = dataclasses.replace(base, **{name: other(getattr(base, name))})
        assert diff_configs(base, changed), name


def test_an_arena_change_is_reported() -> None:
    import dataclasses

    base = default_config()
    blind = dataclasses.replace(base, arena=dataclasses.replace(base.arena, blind=True))
    assert format_reload_diff(base, blind) == (
        "Reloaded config (1 change):\n- arena.blind: false → true")
