"""API key resolution (environment, api_key_cmd) and masking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hexai_nvim.config import ProviderSpec, mask_secret, resolve_api_key
from hexai_nvim.config import keys as keys_module
from hexai_nvim.config.keys import KeyInfo, clear_key_cache

SECRET = "sk-test-0123456789abcdefWXYZ"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_key_cache()
    yield
    clear_key_cache()


def spec(name: str = "p", *, cmd: str | None = None, env: tuple[str, ...] = ()) -> ProviderSpec:
    return ProviderSpec(name=name, kind="openai", base_url="http://127.0.0.1:9",
                        api_key_env=env, api_key_cmd=cmd)


def test_environment_variables_in_order_first_non_empty_wins() -> None:
    provider = spec(env=("HEXAI_OPENAI_API_KEY", "OPENAI_API_KEY"))
    assert resolve_api_key(provider, {"OPENAI_API_KEY": SECRET}) == KeyInfo(
        SECRET, "env:OPENAI_API_KEY"
    )
    both = {"HEXAI_OPENAI_API_KEY": "hexai-key-123456", "OPENAI_API_KEY": SECRET}
    assert resolve_api_key(provider, both).source == "env:HEXAI_OPENAI_API_KEY"
    blank = {"HEXAI_OPENAI_API_KEY": "  ", "OPENAI_API_KEY": SECRET}
    assert resolve_api_key(provider, blank).source == "env:OPENAI_API_KEY"
    assert resolve_api_key(provider, {}) == KeyInfo(None, "none")
    assert not resolve_api_key(provider, {}).found


def test_command_first_line_of_stdout_is_the_key() -> None:
    info = resolve_api_key(spec(cmd=f"printf '\\n  {SECRET}  \\nsecond line\\n'"), {})
    assert (info.value, info.source, info.found) == (SECRET, "cmd", True)


def test_command_beats_environment_variables() -> None:
    info = resolve_api_key(spec(cmd="echo from-command-key", env=("K",)), {"K": "from-env-key"})
    assert info.value == "from-command-key"


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (f"echo {SECRET}; exit 3", "cmd failed: exit status 3"),
        ("true", "cmd failed: no output"),
        ("/nonexistent/hexai-test-binary", "cmd failed: exit status 127"),
    ],
)
def test_command_failure_gives_a_reason_never_the_output(command: str, reason: str) -> None:
    info = resolve_api_key(spec(cmd=command), {"PATH": "/usr/bin:/bin"})
    assert info == KeyInfo(None, reason)
    assert SECRET not in info.source


def test_command_timeout_kills_the_whole_process_group() -> None:
    # `sleep` is a grandchild holding stdout open: only killing the group lets
    # the call return (a plain kill of the shell would wait for the sleep).
    info = resolve_api_key(spec(cmd="sleep 30 | cat; echo late"), {"PATH": "/usr/bin:/bin"},
                           timeout=0.3)
    assert info == KeyInfo(None, "cmd failed: timed out after 0.3 s")


def test_command_runs_once_and_is_cached_per_provider_and_command(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    command = f"echo run >> {counter}; echo key-from-command-1"
    env = {"PATH": "/usr/bin:/bin"}
    for _ in range(3):
        assert resolve_api_key(spec("a", cmd=command), env).value == "key-from-command-1"
    assert counter.read_text().count("run") == 1
    resolve_api_key(spec("b", cmd=command), env)  # another provider runs its own
    assert counter.read_text().count("run") == 2
    clear_key_cache()
    resolve_api_key(spec("a", cmd=command), env)
    assert counter.read_text().count("run") == 3


def test_failures_are_cached_for_a_while_then_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "ready"
    command = f"cat {flag}"
    env = {"PATH": "/usr/bin:/bin"}
    assert not resolve_api_key(spec("a", cmd=command), env).found
    flag.write_text("now-there-is-a-key\n")
    assert not resolve_api_key(spec("a", cmd=command), env).found  # failure still cached

    monkeypatch.setattr(keys_module, "FAILURE_TTL_S", 0.0)
    flag.unlink()
    assert not resolve_api_key(spec("b", cmd=command), env).found
    flag.write_text("now-there-is-a-key\n")
    assert resolve_api_key(spec("b", cmd=command), env).value == "now-there-is-a-key"


def test_key_info_repr_hides_the_key() -> None:
    info = KeyInfo(SECRET, "env:OPENAI_API_KEY")
    assert SECRET not in repr(info)
    assert SECRET not in str(info)
    assert info.masked == "****WXYZ"
    assert KeyInfo(None, "none").masked is None


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        (SECRET, "****WXYZ"),
        ("sk-…wxyz-1234567wxyz", "****wxyz"),
        ("short", "****"),
        ("elevenchars", "****"),
        ("", "****"),
        ("  twelve-chars  ", "****hars"),
    ],
)
def test_mask_secret_shows_at_most_the_last_four(secret: str, shown: str) -> None:
    assert mask_secret(secret) == shown


def test_provider_spec_and_entry_reprs_hide_key_commands_and_header_values() -> None:
    from types import MappingProxyType

    from hexai_nvim.config.model import Entry

    provider = ProviderSpec(
        name="corp",
        kind="openai-compatible",
        base_url="http://127.0.0.1:9/v1",
        api_key_cmd=f"echo {SECRET}",
        headers=MappingProxyType({"Authorization": f"Bearer {SECRET}"}),
    )
    entry = Entry("ask", 0, provider, "m", 0.2, "corp:m", 100, 1000, True)
    for shown in (repr(provider), repr(entry)):
        assert SECRET not in shown
        assert "corp" in shown  # the rest is still there to debug with
