"""The ``HEXAI_*`` environment layer.

hexai's variables map onto the TOML shape (``HEXAI_MAX_TOKENS`` ->
``[general] max_tokens`` ...), so the layer is validated like a file. Ours:

``HEXAI_MODELS_<SURFACE>="provider:model,provider:model"``
    a whole entry list for COMPLETION, CHAT, CLI, ASK (both CHAT and CLI) or
    CODE_ACTION. Each item is split on its *first* colon only, so
    ``ollama:qwen2.5-coder:7b`` is provider ``ollama``, model ``qwen2.5-coder:7b``;
    an item without a colon is a model of the default provider.

A value that cannot be parsed is a problem naming the variable, except an
unknown provider in ``HEXAI_PROVIDER_<SURFACE>``: as in hexai, the config
loads and only that surface's entry fails when it is used. Values are
trimmed and an empty variable counts as unset, as in hexai.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from hexai_nvim.config import defaults
from hexai_nvim.config.model import Problem
from hexai_nvim.config.schema import Path, suggest

_INT = re.compile(r"^[+-]?\d+$")

#: hexai variable -> (TOML path, parser name)
SIMPLE: Mapping[str, tuple[Path, str]] = {
    "HEXAI_PROVIDER": (("provider", "name"), "str"),
    "HEXAI_MAX_TOKENS": (("general", "max_tokens"), "int"),
    "HEXAI_CONTEXT_MODE": (("general", "context_mode"), "str"),
    "HEXAI_CONTEXT_WINDOW_LINES": (("general", "context_window_lines"), "int"),
    "HEXAI_MAX_CONTEXT_TOKENS": (("general", "max_context_tokens"), "int"),
    "HEXAI_REQUEST_TIMEOUT": (("general", "request_timeout"), "number"),
    "HEXAI_CODING_TEMPERATURE": (("general", "coding_temperature"), "number"),
    "HEXAI_MANUAL_INVOKE_MIN_PREFIX": (("completion", "manual_invoke_min_prefix"), "int"),
    "HEXAI_COMPLETION_DEBOUNCE_MS": (("completion", "completion_debounce_ms"), "int"),
    "HEXAI_COMPLETION_THROTTLE_MS": (("completion", "completion_throttle_ms"), "int"),
    "HEXAI_TRIGGER_CHARACTERS": (("triggers", "trigger_characters"), "csv"),
    "HEXAI_IGNORE_GITIGNORE": (("ignore", "gitignore"), "bool"),
    "HEXAI_IGNORE_EXTRA_PATTERNS": (("ignore", "extra_patterns"), "csv"),
    "HEXAI_IGNORE_LSP_NOTIFY": (("ignore", "lsp_notify_ignored"), "bool"),
    **{
        f"HEXAI_{name.upper()}_{suffix}": ((name, key), parser)
        for name in defaults.BUILTIN
        for suffix, key, parser in (
            ("BASE_URL", "base_url", "str"),
            ("MODEL", "model", "str"),
            ("TEMPERATURE", "temperature", "number"),
        )
    },
}

#: Surface names in variable names -> the key under [models] they set.
SURFACE_VARS: Mapping[str, str] = {
    "COMPLETION": "completion",
    "ASK": "ask",
    "CODE_ACTION": "code_action",
    "CHAT": "chat",
    "CLI": "cli",
}

#: Variables hexai reads for features we do not have, and other names we know,
#: so that only near-misses of known names draw a "did you mean" warning.
OTHER_KNOWN: tuple[str, ...] = (
    "HEXAI_CONFIG",
    "HEXAI_MODEL",
    "HEXAI_MODEL_FORCE",
    "HEXAI_EDITOR",
    "HEXAI_LOG_PREVIEW_LIMIT",
    "HEXAI_INLINE_OPEN",
    "HEXAI_INLINE_CLOSE",
    "HEXAI_CHAT_SUFFIX",
    "HEXAI_CHAT_PREFIXES",
    "HEXAI_MCP_PROMPTS_DIR",
    "HEXAI_MCP_SLASHCOMMAND_SYNC",
    "HEXAI_MCP_SLASHCOMMAND_DIR",
    *(name for spec in defaults.BUILTIN.values() for name in spec.api_key_env),
)


def known_variables() -> tuple[str, ...]:
    names = [*SIMPLE, *OTHER_KNOWN]
    for surface in SURFACE_VARS:
        names += [f"HEXAI_MODELS_{surface}", f"HEXAI_MODEL_{surface}"]
        names += [f"HEXAI_PROVIDER_{surface}", f"HEXAI_TEMPERATURE_{surface}"]
    return tuple(names)


@dataclass
class EnvLayer:
    """The environment as a raw TOML-shaped table, ready for validation."""

    raw: dict[str, Any] = field(default_factory=dict)
    #: Raw path -> the variable that set it (problems name the variable).
    rename: dict[Path, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def put(self, path: Path, value: Any, variable: str) -> None:
        table: dict[Any, Any] = self.raw
        for key in path[:-1]:
            table = table.setdefault(key, {})
        table[path[-1]] = value
        self.rename[path] = variable

    def bad(self, variable: str, message: str) -> None:
        self.problems.append(Problem(path=variable, message=message))


def _parse(kind: str, text: str) -> Any:
    """Parse one value; ``ValueError`` carries what was expected."""
    if kind == "int":
        if not _INT.match(text):
            raise ValueError(f"expected an integer, got {text!r}")
        return int(text)
    if kind == "number":
        try:
            return int(text) if _INT.match(text) else float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if kind == "csv":
        # hexai trims items and drops empty ones.
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def env_layer(
    env: Mapping[str, str], default_provider: str, known_providers: Collection[str]
) -> EnvLayer:
    """Read every ``HEXAI_*`` variable we understand from ``env``.

    ``default_provider`` is ``[provider] name`` of the files, used for hexai's
    ``HEXAI_MODEL``/``HEXAI_MODEL_FORCE`` when ``HEXAI_PROVIDER`` is unset.
    """
    layer = EnvLayer()
    get: Callable[[str], str] = lambda name: str(env.get(name, "") or "").strip()  # noqa: E731

    for variable, (path, kind) in SIMPLE.items():
        text = get(variable)
        if not text:
            continue
        try:
            layer.put(path, _parse(kind, text), variable)
        except ValueError as exc:
            layer.bad(variable, str(exc))

    _generic_model(layer, get, default_provider, known_providers)
    for surface_var, key in SURFACE_VARS.items():
        _surface(layer, get, surface_var, key)

    known = known_variables()
    for name in env:
        if name.startswith("HEXAI_") and name not in known:
            hint = suggest(name, known, cutoff=0.85)
            if hint:
                layer.warnings.append(f"{name}: unknown environment variable{hint}; ignored")
    return layer


def _generic_model(
    layer: EnvLayer,
    get: Callable[[str], str],
    default_provider: str,
    known_providers: Collection[str],
) -> None:
    """hexai's ``HEXAI_MODEL_FORCE`` (beats ``HEXAI_<P>_MODEL``) and ``HEXAI_MODEL``
    (loses to it), both for the default provider."""
    provider = get("HEXAI_PROVIDER") or default_provider
    if provider not in known_providers:
        return  # HEXAI_PROVIDER itself is reported as unknown
    path: Path = (
        (provider, "model")
        if provider in defaults.BUILTIN
        else (
            "providers",
            provider,
            "model",
        )
    )
    specific = f"HEXAI_{provider.upper()}_MODEL"
    forced, generic = get("HEXAI_MODEL_FORCE"), get("HEXAI_MODEL")
    if forced:
        layer.put(path, forced, "HEXAI_MODEL_FORCE")
    elif generic and not (provider in defaults.BUILTIN and get(specific)):
        layer.put(path, generic, "HEXAI_MODEL")


def _surface(layer: EnvLayer, get: Callable[[str], str], surface_var: str, key: str) -> None:
    many = f"HEXAI_MODELS_{surface_var}"
    singles = {
        field_name: f"HEXAI_{prefix}_{surface_var}"
        for field_name, prefix in (
            ("model", "MODEL"),
            ("provider", "PROVIDER"),
            ("temperature", "TEMPERATURE"),
        )
    }
    given_singles = {name: var for name, var in singles.items() if get(var)}
    if get(many):
        if given_singles:
            layer.warnings.append(
                f"{', '.join(given_singles.values())}: ignored because {many} is set"
            )
        layer.put(("models", key), _parse_models(layer, many, get(many)), many)
        return
    if not given_singles:
        return
    entry: dict[str, Any] = {}
    for field_name, variable in given_singles.items():
        text = get(variable)
        if field_name == "temperature":
            try:
                entry[field_name] = _parse("number", text)
            except ValueError as exc:
                layer.bad(variable, str(exc))
                continue
        else:
            entry[field_name] = text
        layer.rename[("models", key, 0, field_name)] = variable
    layer.raw.setdefault("models", {})[key] = [entry]
    layer.rename[("models", key)] = ", ".join(given_singles.values())


def _parse_models(layer: EnvLayer, variable: str, text: str) -> list[dict[str, Any]]:
    """``provider:model,provider:model`` -> entry tables (first colon splits).

    A malformed item is reported and kept as an empty placeholder so the other
    items keep their positions (``HEXAI_MODELS_ASK[2]``) in later messages.
    """
    entries: list[dict[str, Any]] = []
    for index, item in enumerate(text.split(",")):
        item = item.strip()
        where = f"{variable}[{index}]"
        provider, colon, model = item.partition(":")
        provider, model = provider.strip(), model.strip()
        if not item:
            layer.bad(where, "empty item; write provider:model items separated by commas")
            entries.append({})
        elif not colon:
            entries.append({"model": item})
        elif not provider:
            layer.bad(where, f"{item!r} has no provider before the colon")
            entries.append({})
        else:
            entries.append({"provider": provider, **({"model": model} if model else {})})
    return entries
