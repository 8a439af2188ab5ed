"""Fill-in-the-middle routing shared by the clients: try FIM, fall back to chat, remember.

A client whose kind can do FIM sends a completion request (one that carries
:attr:`Request.fim`) to its FIM endpoint. When the server answers that it
cannot do FIM for that model — Ollama's ``"... does not support insert"``,
llama.cpp's ``/infill`` answering 501 for a model without FIM tokens, a server
without ``/completions`` (404, 405) — the answer is remembered per
(kind, base URL, model, mode) for as long as the process runs (one Neovim
session), and that model gets chat prompts from then on.

What a caller may rely on:

- Ollama's "does not support insert" falls back within the same request: the
  answer comes from ``/api/chat`` and nothing is shown (many Ollama chat
  models have no suffix template; ``fim = "auto"`` is the default there).
- Every other "cannot do FIM" answer fails that one request with an
  ``unsupported`` error that says what happened, that chat is used from now on and
  how to choose (:func:`unsupported_message`); the next request goes to chat.
- Only an error raised before any text was yielded counts; a failure in the
  middle of a FIM answer is raised as it is.
- :func:`forget` clears the memory (tests; ``:HexaiConfigReload`` does not).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from hexai_nvim.providers.base import Call, ErrorKind, ProviderError, ProviderEvent

__all__ = [
    "FIM_DEFAULT_MAX_TOKENS",
    "FIM_DEFAULT_STOP",
    "chat_call",
    "forget",
    "is_unsupported",
    "remembered",
    "stream_fim_or_chat",
]

log = logging.getLogger("hexai_nvim.providers")

#: ``max_tokens`` of a FIM request when the entry sets none: a few lines.
FIM_DEFAULT_MAX_TOKENS = 128
#: Where a FIM answer stops: a blank line ends the block being written.
FIM_DEFAULT_STOP: tuple[str, ...] = ("\n\n",)

#: What servers say when a model or server cannot fill in the middle.
_UNSUPPORTED_RE = re.compile(
    r"does not support (insert|infill|fim|suffix)|not support(ed)? (for )?"
    r"(insert|infill|fill-in|fim|suffix)|infill is not supported|no fim|"
    r"fim tokens|suffix is not supported|unsupported.*suffix",
    re.IGNORECASE,
)
_OLLAMA_INSERT_RE = re.compile(r"does not support insert", re.IGNORECASE)

_lock = threading.Lock()
#: (kind, base_url, model, mode) -> why FIM is not used for it.
_memory: dict[tuple[str, str, str, str], str] = {}


def _key(kind: str, base_url: str, model: str, mode: str) -> tuple[str, str, str, str]:
    return (kind, base_url.rstrip("/"), model, mode)


def remembered(kind: str, base_url: str, model: str, mode: str) -> str | None:
    """Why FIM is off for this model (None: FIM is tried)."""
    with _lock:
        return _memory.get(_key(kind, base_url, model, mode))


def _remember(kind: str, base_url: str, model: str, mode: str, why: str) -> None:
    with _lock:
        _memory[_key(kind, base_url, model, mode)] = why


def forget() -> None:
    """Forget every remembered fallback."""
    with _lock:
        _memory.clear()


def is_unsupported(exc: ProviderError) -> bool:
    """Whether ``exc`` says FIM cannot be done (as opposed to any other failure)."""
    if exc.status in (404, 405, 501):
        # 404 from a FIM path is "no such endpoint" — unless it names a missing model,
        # which chat would not fix either.
        return exc.status != 404 or "model" not in exc.message.lower()
    return exc.status in (400, 422, 500) and bool(_UNSUPPORTED_RE.search(exc.message))


def chat_call(call: Call) -> Call:
    """``call`` without its FIM prompt: the chat messages go instead."""
    return replace(call, request=replace(call.request, fim=None))


def unsupported_message(what: str, model: str, exc: ProviderError, provider: str) -> str:
    status = f"HTTP {exc.status}: " if exc.status else ""
    return (
        f"{what} cannot fill in the middle for {model!r} ({status}{exc.message}); "
        f"chat completions are used for it from now on (set fim = \"off\" in "
        f"[providers.{provider}] to skip the attempt, or pick another fim mode)"
    )


async def stream_fim_or_chat(
    *,
    kind: str,
    base_url: str,
    provider: str,
    mode: str,
    what: str,
    call: Call,
    fim: Callable[[Call], AsyncIterator[ProviderEvent]],
    chat: Callable[[Call], AsyncIterator[ProviderEvent]],
) -> AsyncIterator[ProviderEvent]:
    """Events of ``call`` through ``fim`` (mode ``mode``), or through ``chat``
    when the call has no FIM prompt or FIM is remembered as unsupported.

    ``what`` names the endpoint in messages (``"llama.cpp /infill"``).
    """
    if call.request.fim is None or mode == "off":
        async for event in chat(chat_call(call)):
            yield event
        return
    if remembered(kind, base_url, call.model, mode) is not None:
        async for event in chat(chat_call(call)):
            yield event
        return
    yielded = False
    try:
        async for event in fim(call):
            yielded = True
            yield event
        return
    except ProviderError as exc:
        if yielded or not is_unsupported(exc):
            raise
        failure = exc
    _remember(kind, base_url, call.model, mode, failure.message)
    if mode == "ollama" and _OLLAMA_INSERT_RE.search(failure.message):
        log.info("%s: %s does not support insert; using chat", provider, call.model)
        async for event in chat(chat_call(call)):
            yield event
        return
    message = unsupported_message(what, call.model, failure, provider)
    log.warning("%s: %s", provider, message)
    raise ProviderError(ErrorKind.UNSUPPORTED, message, status=failure.status)
