"""``hexai config check|show|diff|init`` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hexai_nvim.cli import main
from hexai_nvim.config.example import EXAMPLE_TOML
from tests.unit.config_fixtures import HEXAI_GLOBAL, THREE_MISTAKES, write

SECRET = "sk-live-SECRET-0123456789-tail"
HEXAI = Path(sys.executable).parent / "hexai"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: HOME in tmp, no XDG/HEXAI/key variables, cwd outside git."""
    for name in list(os.environ):
        if name.startswith(("HEXAI_", "XDG_")) or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEXAI_", "XDG_")) and not name.endswith("_API_KEY")
    }
    return {**env, "HOME": str(home), **extra}


# -- check


def test_check_valid_config(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(home, "c.toml", HEXAI_GLOBAL)
    assert main(["config", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and str(path) in out


def test_check_reports_all_three_mistakes(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(home, "c.toml", THREE_MISTAKES)
    assert main(["config", "check", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"error: {path}:9:1: models.completion[1].provider: unknown provider 'olama'" in out
    assert f"error: {path}:2:1: general.max_tokens: expected an integer" in out
    assert f"warning: {path}:12:2: telemetry: unknown section" in out


def test_check_json_gives_problems_as_data(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(home, "c.toml", THREE_MISTAKES)
    assert main(["config", "check", "--config", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert {p["path"] for p in data["problems"]} == {
        "general.max_tokens", "models.completion[1].provider",
    }
    assert all(p["file"] == str(path) for p in data["problems"])
    assert sorted((p["line"], p["column"]) for p in data["problems"]) == [(2, 1), (9, 1)]
    assert any("telemetry" in w for w in data["warnings"])
    assert data["files"] == [str(path)]


def test_check_json_valid(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "valid": True, "problems": [], "warnings": [], "files": [],
    }


def test_check_uses_the_environment_layer(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEXAI_MAX_TOKENS", "plenty")
    assert main(["config", "check"]) == 1
    assert "HEXAI_MAX_TOKENS: expected an integer" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["config"], ["config", "check", "--bogus"], ["config", "diff", "only-one"], ["config", "x"]],
)
def test_usage_errors_exit_2(home: Path, argv: list[str]) -> None:
    assert main(argv) == 2


# -- show


def test_show_json_lists_entries_sources_and_masked_keys(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEXAI_MODELS_COMPLETION", "ollama:qwen2.5-coder:7b,openai:gpt-4.1-mini")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    write(home, ".config/hexai/config.toml", "[general]\nmax_tokens = 1234\n")
    assert main(["config", "show", "--json"]) == 0
    raw = capsys.readouterr().out
    assert SECRET not in raw
    data = json.loads(raw)
    completion = data["models"]["completion"]
    assert completion["source"] == "env"
    assert [(e["provider"], e["model"], e["label"]) for e in completion["entries"]] == [
        ("ollama", "qwen2.5-coder:7b", "ollama:qwen2.5-coder:7b"),
        ("openai", "gpt-4.1-mini", "openai:gpt-4.1-mini"),
    ]
    assert data["values"]["general.max_tokens"] == {"value": 1234, "source": "global"}
    assert data["values"]["general.max_context_tokens"]["source"] == "default"
    assert data["providers"]["openai"]["key"] == {
        "found": True, "masked": "****tail", "source": "env:OPENAI_API_KEY",
    }
    assert data["providers"]["anthropic"]["key"]["found"] is False


def test_show_text_never_prints_secrets(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        home,
        ".config/hexai/config.toml",
        f"""
        [providers.box]
        kind = "openai-compatible"
        base_url = "http://127.0.0.1:1234/v1"
        model = "m"
        api_key_cmd = "echo {SECRET}"
        headers = {{ Authorization = "Bearer {SECRET}" }}
        """,
    )
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "box: openai-compatible at http://127.0.0.1:1234/v1 [global]" in out
    assert "key ****tail from cmd" in out
    assert "Authorization=****tail" in out


def test_show_says_what_each_kind_declares_and_the_fim_mode(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(home, ".config/hexai/config.toml",
          '[providers.llama]\nkind = "llamacpp"\n[providers.quiet]\nkind = "ollama"\n'
          'fim = "off"\n')
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "llama: llamacpp at http://127.0.0.1:8080/v1" in out
    assert "completion fim infill" in out and "completion chat (fim = off)" in out
    assert main(["config", "show", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    llama = view["providers"]["llama"]
    assert (llama["needs_key"], llama["fim"], llama["fim_mode"]) == (False, "auto", "infill")
    assert view["providers"]["openai"]["needs_key"] is True
    assert view["providers"]["ollama"]["lists_models"] is True  # OllamaProvider.list_models


def test_show_invalid_config_exits_1(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(home, "c.toml", THREE_MISTAKES)
    assert main(["config", "show", "--config", str(path)]) == 1
    assert "olama" in capsys.readouterr().err


# -- diff


def test_diff_two_files(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(home, "a.toml", '[[models.completion]]\nmodel = "gpt-4.1"\n')
    b = write(home, "b.toml", '[[models.completion]]\nmodel = "gpt-4.1"\n'
                              '[[models.completion]]\nprovider = "ollama"\nmodel = "m"\n')
    assert main(["config", "diff", str(a), str(a)]) == 0
    assert capsys.readouterr().out == "Config diff (no changes detected).\n"
    assert main(["config", "diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    # The reload message's header; dotted paths (ours) in the lines.
    assert out.startswith("Config diff (1 change):\n")
    assert "- models.completion: ollama:gpt-4.1@0.200 → ollama:gpt-4.1@0.200|ollama:m@0.200" in out


def test_diff_with_a_broken_file_exits_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(home, "a.toml", "")
    assert main(["config", "diff", str(a), str(home / "missing.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


# -- init


def test_init_writes_the_example_to_the_global_path_and_never_overwrites(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = home / ".config" / "hexai" / "config.toml"
    assert main(["config", "init"]) == 0
    assert target.read_text(encoding="utf-8") == EXAMPLE_TOML
    target.write_text("# mine\n")
    assert main(["config", "init"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "# mine\n"


def test_init_to_a_path(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = home / "deep" / "new.toml"
    assert main(["config", "init", str(target)]) == 0
    assert main(["config", "check", "--config", str(target)]) == 0
    assert "0 warnings" in capsys.readouterr().out


def test_init_into_an_unwritable_place(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = write(home, "file", "")
    assert main(["config", "init", str(blocker / "sub" / "c.toml")]) == 1
    assert "cannot write" in capsys.readouterr().err


# -- the installed command, as a user runs it


def test_installed_command_show_json_acceptance(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [str(HEXAI), "config", "show", "--json"],
        cwd=tmp_path,
        env=clean_env(home, HEXAI_MODELS_COMPLETION="ollama:qwen2.5-coder:7b,openai:gpt-4.1-mini"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["models"]["completion"]["entries"]
    assert [(e["provider"], e["model"], e["label"]) for e in entries] == [
        ("ollama", "qwen2.5-coder:7b", "ollama:qwen2.5-coder:7b"),
        ("openai", "gpt-4.1-mini", "openai:gpt-4.1-mini"),
    ]


def test_installed_command_check_acceptance_no_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = write(home, ".config/hexai/config.toml", THREE_MISTAKES)
    result = subprocess.run(
        [str(HEXAI), "config", "check"],
        cwd=tmp_path,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{path}:9:1: models.completion[1].provider: unknown provider 'olama'" in result.stdout
    assert f"{path}:2:1: general.max_tokens: expected an integer" in result.stdout
    assert f"{path}:12:2: telemetry: unknown section" in result.stdout


def test_a_password_in_a_base_url_is_masked_in_show_diff_and_check(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = '[providers.box]\nkind = "ollama"\nbase_url = "http://me:{pw}@127.0.0.1:{port}"\n'
    a = write(home, "a.toml", box.format(pw=SECRET, port=1))
    b = write(home, "b.toml", box.format(pw=SECRET, port=2))
    assert main(["config", "show", "--config", str(a)]) == 0
    assert main(["config", "show", "--json", "--config", str(a)]) == 0
    assert main(["config", "diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "http://me:****@127.0.0.1:1" in out and "http://me:****@127.0.0.1:2" in out
    bad = write(home, "c.toml", box.format(pw=SECRET, port=1).replace("http:", "ftp:"))
    assert main(["config", "check", "--config", str(bad)]) == 1
    out += capsys.readouterr().out
    assert "ftp://me:****@127.0.0.1:1" in out
    assert SECRET not in out


def test_show_says_which_credentials_are_withheld_never_their_values(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(home, ".config/hexai/config.toml",
          '[providers.corp]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:1/v1"\n'
          f'api_key_env = ["CORP_KEY"]\nheaders = {{ X-Token = "{SECRET}" }}\n')
    monkeypatch.setenv("CORP_KEY", SECRET + "-key")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".hexaiconfig.toml").write_text(
        '[providers.corp]\nbase_url = "http://127.0.0.1:2/v1"\n')
    monkeypatch.chdir(repo)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "headers withheld (not sent): X-Token" in out
    assert "key ****-key from env:CORP_KEY, withheld (not sent)" in out
    assert main(["config", "show", "--json"]) == 0
    raw = capsys.readouterr().out
    assert SECRET not in raw
    corp = json.loads(raw)["providers"]["corp"]
    assert corp["withheld_headers"] == ["X-Token"] and corp["headers"] == {}
    assert "set by the project file" in corp["withheld"]
    # the user's own address: nothing withheld
    monkeypatch.chdir(home)
    assert main(["config", "show", "--json"]) == 0
    corp = json.loads(capsys.readouterr().out)["providers"]["corp"]
    assert (corp["withheld"], corp["withheld_headers"]) == (None, [])
