"""Completion against a real llama.cpp server (llama-cpp-python + SmolLM2-135M).

The same path as the editor's: config -> completion surface (context, request)
-> engine -> provider -> the server the suite starts on 127.0.0.1 -> cleaner.
SmolLM2 has no fill-in-the-middle tokens, so llama-cpp-python's
``/v1/completions`` ignores the suffix and continues the prefix: plain code,
not the chat answers ("The cursor marked as <|cursor|>:") a chat prompt gets
from such a small model. llama-cpp-python has no ``/infill`` at all (404, where
llama-server answers 501 for a model without FIM tokens; the simulator covers
that one): a ``llamacpp`` provider on it gets one clear error, then chat.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from hexai_nvim.config import Config, load_config
from hexai_nvim.engine.core import Engine
from hexai_nvim.engine.results import EntryResult
from hexai_nvim.providers import fim
from hexai_nvim.providers.base import ErrorKind
from hexai_nvim.surfaces.completion import (
    CURSOR_MARK,
    BufferView,
    build_context,
    build_request,
    clean_suggestion,
)
from tests.llama_server import LlamaServer

BUFFER = ("def add(a, b):", "    return ", "", "", "print(add(1, 2))")
#: What chat answers of small models start with; a suggestion must hold none of it.
PROSE_RE = re.compile(
    r"^\s*(here|sure|the |this |certainly|to complete|i |you )|cursor|<\|", re.IGNORECASE | re.M
)


def load(server: LlamaServer, tmp_path: Path, kind: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[providers.local]\nkind = "{kind}"\nbase_url = "{server.base_url}"\n'
        "max_concurrency = 1\n"
        f'[[models.completion]]\nprovider = "local"\nmodel = "{server.model}"\n'
        # Small: the shared machine decodes this model at ~1-100 tokens/s.
        "temperature = 0\nmax_tokens = 12\ntimeout_ms = 120000\n",
        encoding="utf-8",
    )
    return load_config(str(path), cwd=str(tmp_path),
                       env={"XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": str(tmp_path)})


def complete(config: Config) -> tuple[EntryResult, str]:
    ctx = build_context(
        BufferView(BUFFER, 0, 1, len(BUFFER[1]), "calc.py", "python", "# %s"), config.general
    )

    async def run() -> EntryResult:
        engine = Engine(config)
        try:
            [result] = await engine.fan_out(
                config.entries("completion"),
                lambda entry: build_request(ctx, entry, config.prompts),
            ).wait()
            return result
        finally:
            await engine.close()

    result = asyncio.run(run())
    return result, clean_suggestion(result.text, ctx)


def requests_in(server: LlamaServer, path: str) -> int:
    return server.log_path.read_text(errors="replace").count(f'"POST {path} HTTP/1.1"')


def test_openai_compatible_completion_goes_through_v1_completions_and_is_code(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    before = requests_in(llama_server, "/v1/completions")
    chats = requests_in(llama_server, "/v1/chat/completions")
    result, suggestion = complete(load(llama_server, tmp_path, "openai-compatible"))
    assert result.ok, result.error
    assert requests_in(llama_server, "/v1/completions") == before + 1
    assert requests_in(llama_server, "/v1/chat/completions") == chats
    assert suggestion.strip(), f"no suggestion from {result.text!r}"
    assert CURSOR_MARK not in result.text
    assert not PROSE_RE.search(suggestion), suggestion


def test_llamacpp_kind_on_a_server_without_infill_errs_once_then_uses_chat(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    fim.forget()
    config = load(llama_server, tmp_path, "llamacpp")
    infills = requests_in(llama_server, "/infill")
    first, _ = complete(config)
    assert first.error is not None and first.error.kind is ErrorKind.UNSUPPORTED
    assert first.error.status == 404
    assert "llama.cpp /infill cannot fill in the middle" in first.error.message
    assert "chat completions are used for it from now on" in first.error.message
    assert requests_in(llama_server, "/infill") == infills + 1

    chats = requests_in(llama_server, "/v1/chat/completions")
    second, _ = complete(config)
    assert second.error is None or second.error.kind is not ErrorKind.UNSUPPORTED, second.error
    assert requests_in(llama_server, "/infill") == infills + 1  # remembered: not tried again
    assert requests_in(llama_server, "/v1/chat/completions") == chats + 1
    fim.forget()
