"""Fixtures of the end-to-end tests: a registered plugin, the simulator, a child Neovim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import NvimSession, update_remote_plugins


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rplugin manifest written by a real :UpdateRemotePlugins (done once per run)."""
    return update_remote_plugins(tmp_path_factory.mktemp("rplugin"))


@pytest.fixture(scope="session")
def sim() -> Iterator[object]:
    """The provider simulator on 127.0.0.1 (a background thread; stops by itself)."""
    from hexai_nvim.sim.thread import SimThread

    with SimThread() as running:
        yield running


@pytest.fixture
def nvim(tmp_path: Path, manifest: Path) -> Iterator[NvimSession]:
    session = NvimSession(tmp_path, manifest)
    try:
        yield session
    finally:
        session.close()
