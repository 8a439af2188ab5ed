"""Typed, immutable values produced by the config loader.

Everything a later layer (providers, engine, surfaces, host, CLI) needs from the
configuration arrives as one :class:`Config`. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, overload

#: The surfaces that run, as hexai names them: ``chat`` is ``:HexaiAsk`` in the
#: editor, ``cli`` is ``hexai ask`` in a terminal.
SURFACES: tuple[str, ...] = ("completion", "chat", "cli", "code_action")
#: The lists a config may write under ``[models]``: hexai's four plus our
#: ``ask``, which serves both ask surfaces (see :data:`ASK_LISTS`).
MODEL_LISTS: tuple[str, ...] = ("completion", "chat", "cli", "ask", "code_action")
#: Which list serves an ask surface, first present wins.
ASK_LISTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "chat": ("chat", "ask", "cli"),
        "cli": ("cli", "ask", "chat"),
        "ask": ("ask", "chat", "cli"),
    }
)

class _Registered(Sequence[str]):
    """Names the provider registry declares, read on first use.

    The registry imports the provider clients; the config layer is imported
    when the Neovim host starts and must stay cheap, so the names are looked
    up only when validation first needs them.
    """

    def __init__(self, what: str) -> None:
        self._what = what

    def _names(self) -> tuple[str, ...]:
        from hexai_nvim.providers import registry

        if self._what == "kinds":
            return registry.kind_names()
        from hexai_nvim.providers.base import FIM_CHOICES

        return FIM_CHOICES

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __repr__(self) -> str:
        return repr(self._names())


#: Wire formats a provider can speak: the kinds the provider registry declares.
PROVIDER_KINDS: Sequence[str] = _Registered("kinds")
#: Values of a provider's ``fim`` option (which ones a kind allows: the registry).
FIM_OPTIONS: Sequence[str] = _Registered("fim")

#: Providers configured by hexai's own sections (``[openai]``, ``[ollama]`` ...).
BUILTIN_PROVIDERS: tuple[str, ...] = ("openai", "openrouter", "anthropic", "ollama")

#: Where a value came from, lowest precedence first.
LAYERS: tuple[str, ...] = ("default", "global", "project", "env", "editor")


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: a built-in one (``openai`` ...) or a ``[providers.NAME]`` one."""

    name: str
    kind: str
    base_url: str
    #: The model used when an entry names none ("" when the provider has no default).
    default_model: str = ""
    temperature: float | None = None
    #: Environment variables tried in order for the API key.
    api_key_env: tuple[str, ...] = ()
    #: A shell command whose stdout is the API key (run once, cached). It and
    #: the header values may hold secrets, so ``repr`` leaves them out.
    api_key_cmd: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    max_concurrency: int | None = None
    timeout_ms: int | None = None
    stream: bool = True
    #: Why the user's credentials (API key, the user's header values) must not
    #: be sent to ``base_url`` ("" when they may): a repository's project file
    #: chose that address (see :mod:`hexai_nvim.config.trust`).
    key_withheld: str = ""
    #: The user's headers kept back from that address: never sent, but known
    #: to the scrubber.
    withheld_headers: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )
    #: Ours: how completion asks for fill-in-the-middle (``auto``, ``off`` or a
    #: mode of :data:`hexai_nvim.providers.base.FIM_MODES`).
    fim: str = "auto"


@dataclass(frozen=True)
class Entry:
    """One ``provider:model`` pair of a surface, fully resolved."""

    surface: str
    #: Position in the surface's list (0 is the primary).
    index: int
    provider: ProviderSpec
    model: str
    temperature: float
    label: str
    max_tokens: int
    #: Total deadline for one request of this entry.
    timeout_ms: int
    stream: bool
    #: The entry set ``max_tokens`` itself (False: it is ``[general] max_tokens``,
    #: and completion uses a completion-sized limit instead).
    max_tokens_set: bool = True
    #: Most bytes (UTF-8) of answer text kept; None: the surface's default
    #: (:meth:`EngineSettings.answer_cap`).
    max_answer_bytes: int | None = None
    #: hexai's ``fallback_provider``/``fallback_model``: tried once when this
    #: entry fails (see :mod:`hexai_nvim.resilience`).
    fallback: Entry | None = None
    #: Why this entry cannot run ("" when it can): a provider hexai knows and we
    #: do not, or an unknown provider from ``HEXAI_PROVIDER_<SURFACE>``. hexai
    #: loads such a config and fails only when the entry is used; so do we.
    unavailable: str = ""

    @property
    def key(self) -> str:
        """``provider:model``: the identity used in stats and default labels."""
        return f"{self.provider.name}:{self.model}"


@dataclass(frozen=True)
class General:
    max_tokens: int = 4000
    max_context_tokens: int = 4000
    request_timeout: float = 600.0
    context_mode: str = "always-full"
    context_window_lines: int = 120
    coding_temperature: float = 0.2


@dataclass(frozen=True)
class CompletionSettings:
    debounce_ms: int = 800
    throttle_ms: int = 0
    manual_invoke_min_prefix: int = 0
    wait_all: bool = True
    trigger_characters: tuple[str, ...] = ()
    #: Ours (beyond hexai): default deadline of one completion entry's request.
    #: hexai's ``general.request_timeout`` (600 s) is far too long for ghost text.
    timeout_ms: int = 4000


@dataclass(frozen=True)
class EngineSettings:
    """Ours (beyond hexai): limits of the fan-out engine."""

    max_concurrency: int = 8
    connect_timeout_ms: int = 5000
    first_token_timeout_ms: int = 0  # 0: no separate first-token deadline
    retries: int = 2
    #: Most bytes of answer text a completion entry keeps (then it is cut, labelled).
    max_answer_bytes_completion: int = 256 * 1024
    #: The same for ask and code action entries.
    max_answer_bytes: int = 4 * 1024 * 1024
    #: Circuit breaker per provider: this many failures within the window open
    #: it for the cooldown (no request sent); 0 turns it off.
    breaker_failures: int = 3
    breaker_window_ms: int = 60_000
    breaker_cooldown_ms: int = 30_000

    def answer_cap(self, entry: Entry) -> int:
        """The most answer bytes ``entry`` keeps: its own cap, else its surface's."""
        if entry.max_answer_bytes is not None:
            return entry.max_answer_bytes
        if entry.surface == "completion":
            return self.max_answer_bytes_completion
        return self.max_answer_bytes


@dataclass(frozen=True)
class ArenaSettings:
    """Ours: ``[arena]``, which model is better for you (see :mod:`hexai_nvim.arena`)."""

    #: Blind mode: labels A/B/C, slots shuffled, timings hidden until the choice.
    blind: bool = False
    #: Keep suggestion and prompt text in the outcome store (else hashes only).
    store_text: bool = False
    #: Record outcomes at all.
    record: bool = True
    #: Battles below which a model's score is marked provisional.
    provisional_battles: int = 30
    #: ``"provider:model"`` (or a model name) -> (input, output) USD per million tokens.
    prices: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True)
class IgnoreSettings:
    """hexai's ``[ignore]``: which files are never sent to a model."""

    #: Skip files the repository's ``.gitignore`` ignores.
    gitignore: bool = True
    #: More gitignore-style patterns (``*.pem``, ``secrets/``).
    extra_patterns: tuple[str, ...] = ()
    #: hexai tells its LSP client when a file is skipped; we notify once.
    lsp_notify_ignored: bool = True


@dataclass(frozen=True)
class Config:
    general: General
    completion: CompletionSettings
    engine: EngineSettings
    #: Every provider an entry may name, built-in and named, by name.
    providers: Mapping[str, ProviderSpec]
    #: Entries per list of :data:`MODEL_LISTS` in effect, in config order
    #: (``completion`` and ``code_action`` always; of the ask lists those set,
    #: or ``ask`` alone). Read them through :meth:`entries`.
    models: Mapping[str, tuple[Entry, ...]]
    default_provider: str = "ollama"
    stats_window_minutes: int = 60
    #: ``[prompts.*]`` tables as read (templates with ``{{...}}`` placeholders).
    prompts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: ``[ui]`` table as read (editor-only options; the Lua side interprets them).
    ui: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: Dotted key -> layer the effective value came from.
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Files read, in precedence order.
    files: tuple[str, ...] = ()
    #: Problems that did not stop loading (unknown keys, ignored entries).
    warnings: tuple[str, ...] = ()
    arena: ArenaSettings = field(default_factory=ArenaSettings)
    #: hexai's ``[ignore]``: never send files matching these to a model.
    ignore: IgnoreSettings = field(default_factory=lambda: IgnoreSettings())

    def entries(self, surface: str) -> tuple[Entry, ...]:
        """The entries serving ``surface``, in config order.

        ``chat`` (``:HexaiAsk``) reads hexai's ``chat`` list, ``cli``
        (``hexai ask``) its ``cli`` list; our ``ask`` list, or whichever of
        the two is set, serves the other.
        """
        return self.models.get(self.list_name(surface), ())

    def lists(self) -> tuple[tuple[str, tuple[Entry, ...]], ...]:
        """``(list name, entries)`` of every list in effect, in :data:`MODEL_LISTS` order."""
        return tuple((name, self.models[name]) for name in MODEL_LISTS if name in self.models)

    def list_name(self, surface: str) -> str:
        """The ``[models]`` list that serves ``surface`` (see :meth:`entries`)."""
        for key in ASK_LISTS.get(surface, (surface,)):
            if key in self.models:
                return key
        return surface


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration."""

    path: str  # dotted key path, e.g. "models.completion[1].provider"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        prefix = f"{where}: " if where else ""
        path = f"{self.path}: " if self.path else ""
        return f"{prefix}{path}{self.message}"


class ConfigError(Exception):
    """The configuration could not be loaded. Carries every problem found."""

    def __init__(
        self,
        problems: list[Problem] | tuple[Problem, ...],
        *,
        warnings: tuple[str, ...] | list[str] = (),
        files: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        #: Warnings found while loading (unknown keys ...), reported next to the problems.
        self.warnings: tuple[str, ...] = tuple(warnings)
        #: Files that were read (or tried), in precedence order.
        self.files: tuple[str, ...] = tuple(files)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid configuration")
