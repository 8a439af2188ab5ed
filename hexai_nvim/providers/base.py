"""The small interface every provider client implements, and the values it speaks.

A provider knows one wire format and nothing of the UI: it turns a
:class:`Request` into HTTP, and the HTTP answer into a stream of
:class:`ProviderEvent` values. Failures are raised as :class:`ProviderError`
with a :class:`ErrorKind` the UI can label.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


class ErrorKind(str, enum.Enum):
    AUTH = "auth"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    BAD_RESPONSE = "bad_response"
    CANCELLED = "cancelled"
    CONFIG = "config"  # e.g. no API key found for a provider that needs one
    #: Not sent: the provider's circuit breaker is open (hexai_nvim.resilience).
    SKIPPED = "skipped"
    #: The server cannot do what was asked for this model (fill-in-the-middle);
    #: the next request asks differently (see :mod:`hexai_nvim.providers.fim`).
    UNSUPPORTED = "unsupported"
    #: The prompt does not fit the server's context (``context_limit`` says it
    #: when the server did).
    CONTEXT_LENGTH = "context_length"


class ProviderError(Exception):
    """A failed request. ``message`` is safe to show: it never holds key material."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        context_limit: int | None = None,
    ) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        #: The server's context in tokens, when a ``context_length`` error named it.
        self.context_limit = context_limit


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


#: How a fill-in-the-middle request is sent (the ``fim`` option of a provider):
#:
#: - ``completions``: OpenAI-style ``POST /completions`` with ``prompt`` + ``suffix``
#:   (DeepSeek's beta API, vLLM, llama-cpp-python, LM Studio, Ollama's ``/v1``);
#: - ``infill``: llama.cpp's ``POST /infill`` (``input_prefix``, ``input_suffix``,
#:   ``input_extra``, ``n_indent``);
#: - ``mistral``: Mistral Codestral's ``POST /fim/completions``;
#: - ``ollama``: Ollama's ``POST /api/generate`` with ``suffix``.
FIM_MODES: tuple[str, ...] = ("completions", "infill", "mistral", "ollama")
#: Values of the ``fim`` option: a mode, ``auto`` (the kind's default) or ``off``.
FIM_CHOICES: tuple[str, ...] = ("auto", "off", *FIM_MODES)


@dataclass(frozen=True)
class KindInfo:
    """What one provider ``kind`` can do, declared by the class that serves it.

    Config validation, ``hexai config show``, the config check and the
    completion surface read these (through :mod:`hexai_nvim.providers.registry`)
    instead of testing kind names.
    """

    name: str
    #: One line for the docs and ``config show`` ("OpenAI", "llama.cpp's llama-server").
    summary: str
    #: Requests fail without an API key (local servers need none).
    needs_key: bool = True
    #: Base URL a provider of this kind gets when it sets none ("": it must set one).
    base_url: str = ""
    #: The FIM mode ``fim = "auto"`` picks ("off": chat prompts only).
    fim_auto: str = "off"
    #: Modes the ``fim`` option may name for this kind (besides ``auto``/``off``).
    fim_modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FimFile:
    """Another open file, sent as extra context where the format takes it."""

    filename: str
    text: str


@dataclass(frozen=True)
class FimPrompt:
    """Fill-in-the-middle text, used where the wire format supports it.

    ``stop`` and ``max_tokens`` apply to the FIM request only (a fallback to
    chat uses the :class:`Request`'s own).
    """

    prefix: str
    suffix: str
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    #: Other open buffers (llama.cpp ``input_extra``); formats without a field ignore them.
    extra: tuple[FimFile, ...] = ()
    #: Indentation (columns) of the cursor line, for llama.cpp's ``n_indent``.
    indent: int = 0


@dataclass(frozen=True)
class Request:
    """What to ask, independent of the wire format.

    A ``system`` message (if any) comes first in ``messages``; formats that keep
    it elsewhere (Anthropic's top-level ``system``) move it there.
    """

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    #: Set by the completion surface; providers that support FIM use it
    #: instead of ``messages`` (Ollama ``/api/generate`` with ``suffix``).
    fim: FimPrompt | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class UsageReport:
    input_tokens: int | None = None
    output_tokens: int | None = None


class StopReason(str, enum.Enum):
    """How an answer ended, whatever the wire format said.

    - ``stop``: the model finished (or stopped at a stop sequence, a tool call);
    - ``length``: it hit the token limit (``max_tokens``, ``num_predict``);
    - ``cut``: the stream ended without the format's end signal (OpenAI-style
      ``finish_reason``, Anthropic ``message_stop``, Ollama ``done``): the
      server gave up, the answer is incomplete;
    - ``timeout``, ``cancelled``, ``error``: set by the engine for an entry
      that failed or was stopped.
    """

    STOP = "stop"
    LENGTH = "length"
    CUT = "cut"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    ERROR = "error"

    @classmethod
    def from_wire(cls, reason: str | None) -> StopReason:
        """The stop reason of a server's own word for it (None: it said nothing)."""
        if reason is not None and reason.strip().lower() in _LENGTH_WORDS:
            return cls.LENGTH
        return cls.STOP

    @property
    def ok(self) -> bool:
        """True for an answer that ended as the model or its limit meant it to."""
        return self in (StopReason.STOP, StopReason.LENGTH)


#: What OpenAI (``length``), Anthropic (``max_tokens``,
#: ``model_context_window_exceeded``) and Ollama (``length``) say for a limit.
_LENGTH_WORDS = frozenset({"length", "max_tokens", "model_context_window_exceeded"})


@dataclass(frozen=True)
class Finish:
    """The end of an answer: the server's own ``reason`` and its typed ``stop``.

    ``stop`` defaults to :meth:`StopReason.from_wire` of ``reason``; a decoder
    that saw no end signal passes :attr:`StopReason.CUT` and says in
    ``missing`` what it waited for.
    """

    reason: str | None = None
    stop: StopReason = None  # type: ignore[assignment]  # filled in __post_init__
    missing: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.stop is None:
            object.__setattr__(self, "stop", StopReason.from_wire(self.reason))


ProviderEvent = TextDelta | UsageReport | Finish


@dataclass
class Transfer:
    """Byte counters a provider updates while it talks to the server."""

    bytes_sent: int = 0
    bytes_received: int = 0
    status: int | None = None


@dataclass(frozen=True)
class Call:
    """One request of one entry, as handed to a provider."""

    model: str
    request: Request
    stream: bool = True
    #: Secret: kept out of ``repr`` (a logged or printed Call must not show it).
    api_key: str | None = field(default=None, repr=False)
    #: Deadline for establishing the TCP connection (aiohttp ``sock_connect``).
    connect_timeout_s: float = 5.0
    transfer: Transfer = field(default_factory=Transfer)


class Provider:
    """Base class of the wire-format clients (one module each)."""

    #: The kinds this class serves, with what each can do (see :class:`KindInfo`).
    kinds: tuple[KindInfo, ...] = ()
    #: Whether a missing API key is an error before any request is made
    #: (clients set it from their kind's :attr:`KindInfo.needs_key`).
    requires_key: bool = True

    @classmethod
    def kind_info(cls, kind: str) -> KindInfo:
        """The declaration of ``kind`` (``KeyError`` when this class does not serve it)."""
        for info in cls.kinds:
            if info.name == kind:
                return info
        raise KeyError(kind)

    def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        """Yield events as they arrive. Raise :class:`ProviderError` on failure.

        Cancelling the consuming task closes the HTTP connection.
        """
        raise NotImplementedError

    async def context_size(self, call: Call) -> int | None:
        """The context (in tokens) the server runs ``call.model`` with, when its
        API says (llama.cpp ``/props`` or ``/slots``, Ollama ``/api/show``);
        None when it does not. Raise :class:`ProviderError` on failure.
        """
        return None

    async def list_models(self, call: Call) -> list[str]:
        """The model names the server lists (``call.model`` and ``call.request``
        are not used). Raise :class:`ProviderError` on failure, or
        ``NotImplementedError`` when the API has no model list (see
        :func:`lists_models`).
        """
        raise NotImplementedError


def lists_models(provider: Provider) -> bool:
    """Whether ``provider``'s API can list its models (it overrides ``list_models``)."""
    return type(provider).list_models is not Provider.list_models


def model_names(items: object, keys: tuple[str, ...]) -> list[str]:
    """The string values under ``keys`` of the objects in ``items`` (a list
    answer's entries); ``bad_response`` when ``items`` is not a list."""
    if not isinstance(items, list):
        raise ProviderError(ErrorKind.BAD_RESPONSE, "unrecognised model list")
    names: list[str] = []
    for item in items:
        if isinstance(item, dict):
            names.extend(str(item[k]) for k in keys if isinstance(item.get(k), str))
    return list(dict.fromkeys(names))
