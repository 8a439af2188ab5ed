"""Fixtures shared by every test folder: the real llama.cpp server (see tests/llama_server.py)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.llama_server import Build, BuildError, LlamaServer, ensure


@pytest.fixture(scope="session")
def llama_build(request: pytest.FixtureRequest) -> Build:
    """The cached llama-cpp-python server and SmolLM2 model; built here when missing.

    ``make test`` builds it before pytest starts; this covers a bare ``pytest``.
    A failed build fails the test (never a skip).
    """
    capture = request.config.pluginmanager.getplugin("capturemanager")
    quiet = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with quiet:
        try:
            return ensure(sys.stderr)
        except BuildError as exc:
            pytest.fail(f"the real llama.cpp server could not be built: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def llama_server(llama_build: Build, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[LlamaServer]:
    """One real server for the session, with llama-cpp-python's defaults (it interrupts a
    running stream when another request arrives). ``.base_url`` is the OpenAI base URL,
    ``.model`` the name it answers to, ``.n_ctx`` its context."""
    with LlamaServer(llama_build, log_dir=tmp_path_factory.mktemp("llama-server")) as server:
        yield server


@pytest.fixture
def llama_server_factory(llama_build: Build, tmp_path: Path
                         ) -> Iterator[Callable[..., LlamaServer]]:
    """Start a server of one's own (``factory(n_ctx=..., extra_args=(...))``); all stop at the
    end of the test."""
    servers: list[LlamaServer] = []

    def start(**kwargs: Any) -> LlamaServer:
        kwargs.setdefault("log_dir", tmp_path / f"llama-server-{len(servers)}")
        server = LlamaServer(llama_build, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
