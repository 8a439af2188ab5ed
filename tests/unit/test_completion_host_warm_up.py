"""After the host's ``setup``, the completion entries are warmed up in the background."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hexai_nvim.host.runtime import Runtime

CONFIG = """
[providers.local]
kind = "ollama"
base_url = "http://127.0.0.1:9"

[[models.completion]]
provider = "local"
model = "m"
"""


class FakeNvim:
    """What Runtime uses of pynvim's Nvim: the loop and asynchronous exec_lua."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def exec_lua(self, code: str, *args: Any, async_: bool = False) -> None:
        assert async_, "coroutines may only send asynchronous calls"
        self.calls.append((code, args))


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("XDG_CONFIG_HOME", "HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home"))
    monkeypatch.delenv("HEXAI_CONFIG", raising=False)
    return tmp_path


async def test_setup_warms_up_the_engine_for_the_completion_entries(isolated: Path) -> None:
    config = isolated / "config.toml"
    config.write_text(CONFIG)
    rt = Runtime(FakeNvim())
    rt.setup({"config_path": str(config), "cwd": str(isolated)})
    assert rt.config.entries("completion"), "the config has a completion entry"
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert tasks, "setup() spawned no warm-up"
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    engine = rt.engine
    try:
        # The entry's client exists and the HTTP session is open: the first
        # suggestion pays neither.
        assert "local" in engine._providers
        assert engine._http is not None and engine._http._sessions
    finally:
        await engine.close()



async def test_a_failed_warm_up_is_logged_not_shown(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = isolated / "config.toml"
    config.write_text(CONFIG)

    def broken() -> None:
        raise RuntimeError("no aiohttp here")

    monkeypatch.setattr("hexai_nvim.host.runtime._preload", broken)
    nvim = FakeNvim()
    rt = Runtime(nvim)
    rt.setup({"config_path": str(config), "cwd": str(isolated)})
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    notes = [args for code, args in nvim.calls if "'notify'" in code]
    assert notes == [], f"an optional warm-up bothered the person: {notes}"
