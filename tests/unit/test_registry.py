"""The provider registry: classes declare their kinds; everything else reads the declarations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from hexai_nvim.config import ConfigError, load_config
from hexai_nvim.config.model import PROVIDER_KINDS, Entry, ProviderSpec
from hexai_nvim.providers import HttpPool, make_provider, registry
from hexai_nvim.providers.base import Call, Message, Request, TextDelta
from hexai_nvim.surfaces.check import key_required
from hexai_nvim.surfaces.completion import uses_fim


@pytest.fixture
def echo_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The one registry line a new wire format adds."""
    monkeypatch.setattr(
        registry, "PROVIDER_CLASSES",
        (*registry.PROVIDER_CLASSES, "tests.unit.echo_provider:EchoProvider"),
    )
    registry._classes.cache_clear()
    yield
    registry._classes.cache_clear()


def test_every_kind_is_served_and_declared() -> None:
    assert registry.kind_names() == (
        "openai", "openai-compatible", "openrouter", "llamacpp", "mistral", "anthropic", "ollama"
    )
    assert list(PROVIDER_KINDS) == list(registry.kind_names())
    for kind in registry.kind_names():
        info = registry.kind_info(kind)
        assert info.summary and info.fim_auto in ("off", *info.fim_modes)
        assert registry.lists_models(kind)  # every built-in API lists its models
    with pytest.raises(ValueError, match="unknown provider kind 'gemini'"):
        registry.kind_info("gemini")


def test_a_new_wire_format_is_one_file_and_one_registry_line(
    echo_registered: None, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[providers.e]\nkind = "echo"\n[[models.completion]]\nprovider = "e"\n'
                    'model = "echo-1"\n')
    config = load_config(str(path), cwd=str(tmp_path), env={})
    spec = config.providers["e"]
    assert spec.base_url == "http://127.0.0.1:9/echo"  # its declared default
    [entry] = config.entries("completion")
    assert uses_fim(entry)  # its fim_auto
    assert key_required(spec) is False
    assert registry.lists_models("echo")
    provider = make_provider(spec, HttpPool())
    call = Call(model="echo-1", request=Request(messages=(Message("user", "hi there"),)))

    async def answer() -> str:
        return "".join([e.text async for e in provider.stream(call) if isinstance(e, TextDelta)])

    assert asyncio.run(answer()) == "hi there"
    path.write_text('[providers.e]\nkind = "echo"\nfim = "infill"\n')
    with pytest.raises(ConfigError, match="'infill' is not available for kind 'echo'"):
        load_config(str(path), cwd=str(tmp_path), env={})


def test_without_the_line_the_kind_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[providers.e]\nkind = "echo"\n')
    with pytest.raises(ConfigError, match="kind 'echo' is not allowed"):
        load_config(str(path), cwd=str(tmp_path), env={})


def test_fim_mode_resolves_auto_and_off() -> None:
    def mode(kind: str, fim: str = "auto") -> str:
        return registry.fim_mode(ProviderSpec(name="p", kind=kind, base_url="http://x", fim=fim))

    assert [mode(k) for k in registry.kind_names()] == [
        "off", "completions", "off", "infill", "mistral", "off", "ollama"
    ]
    assert mode("openai", "completions") == "completions"
    assert mode("ollama", "off") == "off"
    entry = Entry(surface="completion", index=0, provider=ProviderSpec(
        name="p", kind="anthropic", base_url="http://x"), model="m", temperature=0.0,
        label="p:m", max_tokens=8, timeout_ms=100, stream=True)
    assert not uses_fim(entry)
