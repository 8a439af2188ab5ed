"""A repository's project file may move a provider, but never takes the user's key along."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hexai_nvim.config import load_config
from hexai_nvim.engine.core import Engine
from hexai_nvim.providers.base import ErrorKind, Message, Request
from hexai_nvim.sim import SimState, key_digest
from hexai_nvim.sim.thread import SimThread

KEY = "sk-test-0123456789abcdef"
REQUEST = Request(messages=(Message("user", "say hi"),), max_tokens=16)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(SimState(cap_s=5.0)) as running:
        yield running


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".hexaiconfig.toml").write_text(text)
    return tmp_path


def test_project_base_url_withholds_the_key_and_warns(tmp_path: Path) -> None:
    root = project(tmp_path, '[openai]\nbase_url = "http://127.0.0.1:9/v1"\n')
    config = load_config(cwd=str(root), env={"OPENAI_API_KEY": KEY})
    spec = config.providers["openai"]
    assert "set by the project file" in spec.key_withheld
    assert any("not sent to http://127.0.0.1:9/v1" in w for w in config.warnings)
    assert KEY not in spec.key_withheld


def test_base_url_from_the_user_s_own_layers_keeps_the_key(tmp_path: Path) -> None:
    root = project(tmp_path, "[general]\nmax_tokens = 100\n")
    env = {"OPENAI_API_KEY": KEY, "HEXAI_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    config = load_config(cwd=str(root), env=env)
    assert config.providers["openai"].key_withheld == ""
    assert config.warnings == ()


async def test_engine_sends_no_key_to_a_project_chosen_address(
    tmp_path: Path, sim: SimThread
) -> None:
    text = (
        f'[openai]\nbase_url = "{sim.url}/v1"\n'
        f'[ollama]\nbase_url = "{sim.url}"\n'
        '[[models.ask]]\nprovider = "openai"\nmodel = "cloud"\n'
        '[[models.ask]]\nprovider = "ollama"\nmodel = "local"\n'
    )
    root = project(tmp_path, text)
    env = {"OPENAI_API_KEY": KEY, "OLLAMA_API_KEY": KEY}
    config = load_config(cwd=str(root), env=env)
    engine = Engine(config, env=env)
    try:
        cloud, local = await engine.fan_out(config.entries("ask"), REQUEST).wait()
    finally:
        await engine.close()
    # OpenAI needs its key: it fails before anything is sent, saying why.
    assert cloud.error is not None and cloud.error.kind is ErrorKind.CONFIG
    assert "project file" in cloud.error.message
    assert sim.state.requests_for("cloud") == []
    # Ollama works without one: the request goes out, keyless.
    assert local.ok, local.error
    sent = sim.state.requests_for("local")
    assert sent and all(r.key_digest != key_digest(KEY) for r in sent)
    assert all(r.key_digest is None for r in sent)
