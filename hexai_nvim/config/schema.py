"""Validation of one configuration layer (a TOML file, the environment, ``setup{}``).

:class:`LayerValidator` turns the raw table of one layer into its *canonical*
form and records every problem and warning on the way, never stopping at the
first. Leaf checks are voluptuous validators with messages that say what is
wrong and what is allowed; a bad value is dropped so the rest of the layer still
gets checked (and merged, so later stages can find further problems).

Canonical form (what :mod:`hexai_nvim.config.merge` merges)::

    general / completion / triggers / provider / stats / engine / ui: {key: value}
    providers: {name: {key: value}}      # hexai's [openai] ... folded in here
    models: {surface: [entry, ...]}      # chat/cli renamed to ask; entries are tables
    prompts: {group: {key: value}}
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from hexai_nvim.config import defaults
from hexai_nvim.config.actions import actions_problems, tmux_hotkey_problem
from hexai_nvim.config.keys import mask_url
from hexai_nvim.config.model import FIM_OPTIONS, MODEL_LISTS, PROVIDER_KINDS, Problem

Validator = Callable[[Any], Any]
PathPart = str | int
Path = tuple[PathPart, ...]

#: Longest timeout we accept anywhere: one day.
MAX_MS = 86_400_000
#: Largest answer cap (bytes) a config may set.
MAX_ANSWER_BYTES = 1024 * 1024 * 1024
#: Named providers become parts of ``provider:model`` and dotted paths.
PROVIDER_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- messages


def describe(value: Any) -> str:
    """A short, type-first description of ``value`` for error messages."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (datetime.date, datetime.time)):
        return f"date/time {value.isoformat()}"
    return f"a value of type {type(value).__name__}"


def describe_kind(value: Any) -> str:
    """Like :func:`describe`, but never the value itself: for keys whose
    values may hold secrets (``headers``, ``api_key_cmd``)."""
    if isinstance(value, str):
        return "a string (its value is not shown: it may hold a secret)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return describe(value)


def suggest(word: object, options: Iterable[str], cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` for the closest option, or ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    if not close and word.lower() != word:
        close = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def listing(options: Iterable[str]) -> str:
    return ", ".join(options)


def format_path(parts: Iterable[PathPart]) -> str:
    """``("models", "completion", 1, "provider")`` -> ``models.completion[1].provider``."""
    return format_suffix(parts).removeprefix(".")


def format_suffix(parts: Iterable[PathPart]) -> str:
    """Like :func:`format_path` but every key keeps its leading dot."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = str(part)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
            key = '"' + key.replace('"', '\\"') + '"'
        out += f".{key}"
    return out


# --------------------------------------------------------------------------- validators


def integer(lo: int, hi: int) -> Validator:
    allowed = f"an integer from {lo} to {hi}"

    def check(value: Any) -> int:
        if type(value) is not int:
            raise vol.Invalid(f"expected {allowed}, got {describe(value)}")
        if not lo <= value <= hi:
            raise vol.Invalid(f"{value} is out of range; allowed: {allowed}")
        return value

    return check


def number(lo: float, hi: float, *, exclusive_lo: bool = False) -> Validator:
    low = f"greater than {lo:g}" if exclusive_lo else f"from {lo:g}"
    allowed = f"a number {low} to {hi:g}"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise vol.Invalid(f"expected {allowed}, got {describe(value)}")
        number_value = float(value)
        too_low = number_value <= lo if exclusive_lo else number_value < lo
        if not math.isfinite(number_value) or too_low or number_value > hi:
            raise vol.Invalid(f"{value!r} is out of range; allowed: {allowed}")
        return number_value

    return check


def boolean() -> Validator:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise vol.Invalid(f"expected true or false, got {describe(value)}")
        return value

    return check


def text(*, strip: bool = True, secret: bool = False) -> Validator:
    shown = describe_kind if secret else describe

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"expected a string, got {shown(value)}")
        if not value.strip():
            raise vol.Invalid("must not be empty")
        return value.strip() if strip else value

    return check


def choice(options: Collection[str], *, what: str = "value") -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"expected one of {listing(options)}, got {describe(value)}")
        if value not in options:
            raise vol.Invalid(
                f"{what} {value!r} is not allowed{suggest(value, options)}; "
                f"allowed: {listing(options)}"
            )
        return value

    return check


def provider_ref(known: Collection[str], *, lenient: bool = False) -> Validator:
    """A provider name; ``lenient`` lets an unknown one through (the resolver
    then makes its entry fail when used, as hexai does for the environment)."""
    names = sorted(known)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"expected a provider name, got {describe(value)}")
        name = value.strip()
        if not name:
            raise vol.Invalid("must not be empty")
        if name not in known and not lenient:
            raise vol.Invalid(
                f"unknown provider {value!r}{suggest(name, names)}; known: {listing(names)}"
            )
        return name

    return check


def url() -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"expected an http:// or https:// URL, got {describe(value)}")
        cleaned = value.strip()
        try:
            parts = urlsplit(cleaned)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            ok = False
        if not ok:
            raise vol.Invalid(f"{mask_url(cleaned)!r} is not an http:// or https:// URL")
        # Providers append their endpoint paths; one form avoids "//chat/...".
        return cleaned.rstrip("/")

    return check


def string_list() -> Validator:
    def check(value: Any) -> list[str]:
        if not isinstance(value, (list, tuple)):
            raise vol.Invalid(f"expected an array of strings, got {describe(value)}")
        errors = [
            vol.Invalid(f"expected a string, got {describe(item)}", path=[index])
            for index, item in enumerate(value)
            if not isinstance(item, str)
        ]
        if errors:
            raise vol.MultipleInvalid(errors)
        return list(value)

    return check


def any_table() -> Validator:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected a table, got {describe(value)}")
        return dict(value)

    return check


def _table_of(kind: type, one: str, many: str, shown: Callable[[Any], str]) -> Validator:
    """A table whose keys are strings and whose values are ``kind``; each bad
    value is its own error at its key (``expected a string, got 3``)."""

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected a table of {many}, got {shown(value)}")
        errors = [
            vol.Invalid(f"expected {one}, got {shown(item)}", path=[key])
            for key, item in value.items()
            if not isinstance(key, str) or not isinstance(item, kind)
        ]
        if errors:
            raise vol.MultipleInvalid(errors)
        return dict(value)

    return check


def string_table(*, secret: bool = False) -> Validator:
    """``{name = "text"}``; with ``secret`` a bad value is described, never shown."""
    return _table_of(str, "a string", "strings", describe_kind if secret else describe)


def looks_like_key(value: str) -> bool:
    """Whether ``value`` looks like an API key rather than a name.

    Keys are long random runs of lower- and upper-case letters and digits;
    variable names are short or upper-case words. A false alarm costs a
    renamed variable, a miss would print the key.
    """
    return len(value) >= 24 and any(c.isdigit() for c in value) and any(c.islower() for c in value)


def env_names() -> Validator:
    def check(value: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise vol.Invalid(
                f"expected an environment variable name or an array of them, got {describe(value)}"
            )
        errors = []
        for index, item in enumerate(items):
            message = None
            if isinstance(item, str) and looks_like_key(item):
                # A key pasted where its variable's name belongs: never echo it.
                message = (
                    "this looks like an API key itself (not shown); api_key_env takes the "
                    "NAME of the environment variable that holds the key"
                )
            elif not isinstance(item, str) or not ENV_NAME_RE.match(item):
                shown = describe(item)
                message = f"expected an environment variable name (letters, digits, _), got {shown}"
            if message is not None:
                errors.append(vol.Invalid(message, path=[] if isinstance(value, str) else [index]))
        if errors:
            raise vol.MultipleInvalid(errors)
        return list(items)

    return check


# --------------------------------------------------------------------------- field sets

GENERAL_FIELDS: Mapping[str, Validator] = {
    "max_tokens": integer(1, 10_000_000),
    "max_context_tokens": integer(1, 100_000_000),
    "request_timeout": number(0, 86_400, exclusive_lo=True),
    "context_mode": choice(defaults.CONTEXT_MODES, what="context mode"),
    "context_window_lines": integer(0, 10_000_000),
    "coding_temperature": number(0, 2),
}
COMPLETION_FIELDS: Mapping[str, Validator] = {
    "completion_debounce_ms": integer(0, 600_000),
    "completion_throttle_ms": integer(0, 600_000),
    "manual_invoke_min_prefix": integer(0, 10_000),
    "completion_wait_all": boolean(),
    "timeout_ms": integer(1, MAX_MS),
}
TRIGGER_FIELDS: Mapping[str, Validator] = {"trigger_characters": string_list()}
IGNORE_FIELDS: Mapping[str, Validator] = {
    "gitignore": boolean(),
    "extra_patterns": string_list(),
    "lsp_notify_ignored": boolean(),
}
STATS_FIELDS: Mapping[str, Validator] = {"window_minutes": integer(1, 1440)}


def price_table() -> Validator:
    """``{"provider:model" = {input = N, output = N}}``: USD per million tokens."""
    price = number(0, 1_000_000)

    def check(value: Any) -> dict[str, dict[str, float]]:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected a table of prices, got {describe(value)}")
        out: dict[str, dict[str, float]] = {}
        errors: list[vol.Invalid] = []
        for key, item in value.items():
            if not isinstance(item, Mapping) or set(item) != {"input", "output"}:
                errors.append(vol.Invalid(
                    "expected { input = N, output = N } (USD per million tokens), got "
                    + describe(item), path=[key]))
                continue
            try:
                out[str(key)] = {"input": price(item["input"]), "output": price(item["output"])}
            except vol.Invalid as exc:
                errors.append(vol.Invalid(exc.msg, path=[key]))
        if errors:
            raise vol.MultipleInvalid(errors)
        return out

    return check


ARENA_FIELDS: Mapping[str, Validator] = {
    "blind": boolean(),
    "store_text": boolean(),
    "record": boolean(),
    "provisional_battles": integer(1, 1_000_000),
    "prices": price_table(),
}
ENGINE_FIELDS: Mapping[str, Validator] = {
    "max_concurrency": integer(1, 1024),
    "connect_timeout_ms": integer(1, MAX_MS),
    "first_token_timeout_ms": integer(0, MAX_MS),
    "retries": integer(0, 10),
    "max_answer_bytes_completion": integer(1024, MAX_ANSWER_BYTES),
    "max_answer_bytes": integer(1024, MAX_ANSWER_BYTES),
    "breaker_failures": integer(0, 1000),
    "breaker_window_ms": integer(1, MAX_MS),
    "breaker_cooldown_ms": integer(1, MAX_MS),
}
UI_FIELDS: Mapping[str, Validator] = {
    "ask_layout": choice(defaults.ASK_LAYOUTS, what="layout"),
    "completion_layout": choice(defaults.COMPLETION_LAYOUTS, what="layout"),
    "auto_trigger": boolean(),
    "default_keymaps": boolean(),
    "disabled_filetypes": string_list(),
    "ghost_text": boolean(),
    # Option tables of the Lua modules, checked key by key (UI_TABLES).
    "completion": any_table(),
    "ask": any_table(),
}


def bool_table() -> Validator:
    """``{name = true/false}`` (``[ui.completion] filetypes``)."""
    return _table_of(bool, "true or false", "true/false", describe)


def key_table(names: Collection[str]) -> Validator:
    """``{action = "<M-l>" or false}``: known actions, a key or false each."""

    def check(value: Any) -> dict[str, str | bool]:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected a table of keys, got {describe(value)}")
        errors = []
        for key, item in value.items():
            if key not in names:
                errors.append(vol.Invalid(
                    f"unknown key action{suggest(key, names)}; known: {listing(names)}",
                    path=[key]))
            elif not (isinstance(item, str) or item is False):
                errors.append(vol.Invalid(
                    f"expected a key (\"<M-l>\") or false, got {describe(item)}", path=[key]))
        if errors:
            raise vol.MultipleInvalid(errors)
        return dict(value)

    return check


#: ``[ui.completion]``: the options of hexai.completion (also setup({ completion })).
UI_COMPLETION_FIELDS: Mapping[str, Validator] = {
    "enabled": boolean(),
    "auto_trigger": boolean(),
    "display": choice(defaults.COMPLETION_DISPLAYS, what="display"),
    "layout": choice(defaults.COMPLETION_LAYOUTS, what="layout"),
    "filetypes": bool_table(),
    "max_lines": integer(1, 1000),
    "other_max_lines": integer(1, 100),
    "keymaps": key_table(defaults.COMPLETION_KEY_ACTIONS),
}
#: ``[ui.ask]``: the options of hexai.ask (also setup({ ask })).
UI_ASK_FIELDS: Mapping[str, Validator] = {
    "layout": choice(defaults.ASK_LAYOUTS, what="layout"),
    "min_column_width": integer(10, 10_000),
    "height": number(0, 10_000, exclusive_lo=True),
    "focus": boolean(),
    "hint": boolean(),
    "keys": any_table(),
}
UI_TABLES: Mapping[str, Mapping[str, Validator]] = {
    "completion": UI_COMPLETION_FIELDS,
    "ask": UI_ASK_FIELDS,
}
#: hexai's per-provider sections ([openai] ...). ``presets`` maps model aliases.
BUILTIN_SECTION_FIELDS: Mapping[str, Validator] = {
    "model": text(),
    "base_url": url(),
    "temperature": number(0, 2),
    "presets": string_table(),
}
PROVIDER_FIELDS: Mapping[str, Validator] = {
    "kind": choice(PROVIDER_KINDS, what="kind"),
    "base_url": url(),
    "model": text(),
    "temperature": number(0, 2),
    "api_key_env": env_names(),
    "api_key_cmd": text(strip=False, secret=True),
    "headers": string_table(secret=True),
    "max_concurrency": integer(1, 1024),
    "timeout_ms": integer(1, MAX_MS),
    "stream": boolean(),
    "presets": string_table(),
    "fim": choice(FIM_OPTIONS, what="fim mode"),
}


def entry_fields(
    known_providers: Collection[str], *, lenient: bool = False
) -> dict[str, Validator]:
    return {
        "provider": provider_ref(known_providers, lenient=lenient),
        "model": text(),
        # hexai (newest): retried once on this provider/model when the entry fails.
        "fallback_provider": provider_ref(known_providers),
        "fallback_model": text(),
        "temperature": number(0, 2),
        "label": text(strip=False),
        "max_tokens": integer(1, 10_000_000),
        "timeout_ms": integer(1, MAX_MS),
        "stream": boolean(),
        "max_answer_bytes": integer(1024, MAX_ANSWER_BYTES),
    }


def provider_names_in(raw: object) -> set[str]:
    """Names of the ``[providers.NAME]`` tables of a raw layer (valid names only)."""
    if not isinstance(raw, Mapping):
        return set()
    table = raw.get("providers")
    if not isinstance(table, Mapping):
        return set()
    return {name for name in table if isinstance(name, str) and PROVIDER_NAME_RE.match(name)}


# --------------------------------------------------------------------------- the validator


@dataclass(frozen=True)
class ModelsOrigin:
    """Where a layer's list for one surface was written, for later messages."""

    #: Display path of the list, e.g. ``models.chat`` or ``HEXAI_MODELS_ASK``.
    base: str
    #: True for the one-entry forms (string shorthand or one table).
    single: bool
    #: The raw path in the layer (``("models", "chat")``), to find its line.
    raw: Path = ()

    def entry_path(self, index: int, key: str) -> str:
        return f"{self.base}.{key}" if self.single else f"{self.base}[{index}].{key}"

    def entry_raw(self, index: int, key: str) -> Path:
        return (*self.raw, key) if self.single else (*self.raw, index, key)


@dataclass
class LayerValidator:
    """Validates one layer; collects problems and warnings instead of raising."""

    layer: str
    file: str | None
    known_providers: Collection[str]
    #: Raw path prefix -> display name (the environment layer names variables).
    rename: Mapping[Path, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    model_origins: dict[str, ModelsOrigin] = field(default_factory=dict)
    #: Finds where a raw path is written in the file (line, column), if known.
    locate: Callable[[Path], tuple[int, int] | None] | None = None

    # -- reporting

    def position(self, path: Path) -> tuple[int | None, int | None]:
        found = self.locate(path) if self.locate and path else None
        return found if found else (None, None)

    def display(self, path: Path) -> str:
        for cut in range(len(path), 0, -1):
            name = self.rename.get(path[:cut])
            if name is not None:
                return name + format_suffix(path[cut:])
        return format_path(path)

    def problem(self, path: Path, message: str) -> None:
        line, column = self.position(path)
        self.problems.append(
            Problem(self.display(path), message, file=self.file, line=line, column=column)
        )

    def warn(self, path: Path, message: str) -> None:
        line, column = self.position(path)
        where = self.file or ""
        if where and line is not None:
            where += f":{line}:{column}"
        where = f"{where}: " if where else ""
        shown = self.display(path)
        self.warnings.append(f"{where}{shown}: {message}" if shown else f"{where}{message}")

    # -- generic table check

    def table(
        self, fields: Mapping[str, Validator], value: Any, path: Path, *, what: str = "key"
    ) -> dict[str, Any]:
        """Validate a table against ``fields``; unknown keys warn, bad values are dropped."""
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a table, got {describe(value)}")
            return {}
        data: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key in fields:
                data[key] = item
            else:
                self.warn((*path, str(key)), f"unknown {what}{suggest(key, fields)}; ignored")
        schema = vol.Schema({vol.Optional(key): check for key, check in fields.items()})
        while data:
            try:
                return dict(schema(data))
            except vol.MultipleInvalid as exc:
                removed = False
                for error in exc.errors:
                    self.problem(
                        (*path, *(str(p) if not isinstance(p, int) else p for p in error.path)),
                        error.msg,
                    )
                    if error.path and error.path[0] in data:
                        del data[error.path[0]]
                        removed = True
                if not removed:
                    return {}
        return {}

    # -- the layer

    def validate(self, raw: Any) -> dict[str, Any]:
        """The canonical form of ``raw`` (a whole layer)."""
        out: dict[str, Any] = {}
        if not isinstance(raw, Mapping):
            self.problem((), f"expected a table of settings, got {describe(raw)}")
            return out
        simple: dict[str, Mapping[str, Validator]] = {
            "general": GENERAL_FIELDS,
            "completion": COMPLETION_FIELDS,
            "triggers": TRIGGER_FIELDS,
            "stats": STATS_FIELDS,
            "arena": ARENA_FIELDS,
            "engine": ENGINE_FIELDS,
            "ui": UI_FIELDS,
            "ignore": IGNORE_FIELDS,
            "provider": {"name": provider_ref(self.known_providers)},
        }
        for key, value in raw.items():
            path: Path = (str(key),)
            if key in defaults.IGNORED_FLAT_KEYS and not isinstance(value, Mapping):
                self.warn(
                    path,
                    "top-level key ignored (as hexai does); write it as "
                    f"{defaults.IGNORED_FLAT_KEYS[key]}",
                )
            elif key in defaults.LEGACY_FLAT_KEYS and not isinstance(value, Mapping):
                self.problem(
                    path,
                    f"unsupported flat key {key!r}; like hexai, only sectioned tables are "
                    f"read: write it as {defaults.LEGACY_FLAT_KEYS[key]}",
                )
            elif key in simple:
                if not isinstance(value, Mapping):
                    hint = (
                        ' (to choose completion models write [models] completion = "...")'
                        if key == "completion"
                        else ""
                    )
                    self.problem(
                        path, f"expected a table ([{key}] section), got {describe(value)}{hint}"
                    )
                    continue
                out[key] = self.table(simple[key], value, path)
                if key == "ui":
                    for name, fields in UI_TABLES.items():
                        if isinstance(out[key].get(name), Mapping):
                            out[key][name] = self.table(fields, out[key][name], (*path, name))
            elif key in defaults.BUILTIN:
                fields = BUILTIN_SECTION_FIELDS
                section = self.table(fields, value, path)
                self._fold_provider(out, str(key), section, path)
            elif key == "providers":
                self._providers(out, value, path)
            elif key == "models":
                self._models(out, value, path)
            elif key == "prompts":
                self._prompts(out, value, path)
            elif key in defaults.HEXAI_ONLY_SECTIONS:
                if not isinstance(value, Mapping):
                    self.problem(path, f"expected a table ([{key}] section), got {describe(value)}")
                elif key == "tmux":
                    message = tmux_hotkey_problem(value.get("custom_menu_hotkey"))
                    if message:
                        self.problem((*path, "custom_menu_hotkey"), message)
            else:
                self.warn(path, f"unknown section or key{suggest(key, defaults.SECTIONS)}; ignored")
        return out

    def _fold_provider(
        self, out: dict[str, Any], name: str, values: Mapping[str, Any], path: Path
    ) -> None:
        """Put one provider table into ``out["providers"][name]``; both spellings
        (``[openai]`` and ``[providers.openai]``) may not set the same key."""
        target = out.setdefault("providers", {}).setdefault(name, {})
        for key, value in values.items():
            if key in target:
                self.problem(
                    (*path, key),
                    f"set both as [{name}] {key} and [providers.{name}] {key}; keep one",
                )
                continue
            target[key] = value

    def _providers(self, out: dict[str, Any], value: Any, path: Path) -> None:
        if not isinstance(value, Mapping):
            self.problem(
                path, f"expected a table of [providers.NAME] tables, got {describe(value)}"
            )
            return
        for name, table in value.items():
            here = (*path, str(name))
            if not isinstance(name, str) or not PROVIDER_NAME_RE.match(name):
                self.problem(
                    here,
                    "invalid provider name; use letters, digits, '_' and '-' "
                    "(it becomes part of provider:model)",
                )
                continue
            values = self.table(PROVIDER_FIELDS, table, here)
            builtin = defaults.BUILTIN.get(name)
            if builtin is not None and values.get("kind", builtin.kind) != builtin.kind:
                self.problem(
                    (*here, "kind"),
                    f"{name!r} is the built-in {builtin.kind} provider and keeps kind "
                    f"{builtin.kind!r}; give a {values['kind']} provider another name",
                )
                del values["kind"]
            if self.layer == "project":
                for key in defaults.PROJECT_FORBIDDEN_PROVIDER_KEYS:
                    if key in values:
                        self.problem(
                            (*here, key),
                            "not allowed in a project file (a repository must not choose "
                            "commands or secrets); set it in the global config",
                        )
                        del values[key]
            self._fold_provider(out, name, values, here)

    def _models(self, out: dict[str, Any], value: Any, path: Path) -> None:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a table ([models] section), got {describe(value)}")
            return
        for key in value:
            if key not in MODEL_LISTS:
                self.warn((*path, str(key)), f"unknown surface{suggest(key, MODEL_LISTS)}; ignored")
        fields = entry_fields(self.known_providers)
        # hexai reads an unknown provider from HEXAI_PROVIDER_<SURFACE> and fails
        # only that surface when it is used: the resolver does the failing.
        lenient = entry_fields(self.known_providers, lenient=True)
        for surface in MODEL_LISTS:
            if surface not in value:
                continue
            from_env = self.layer == "env" and not self._many_from_env(surface)
            entries = self._entries(
                lenient if from_env else fields, value[surface], (*path, surface)
            )
            if entries is not None:
                out.setdefault("models", {})[surface] = entries

    def _many_from_env(self, surface: str) -> bool:
        """Whether the env layer's list came from ``HEXAI_MODELS_<S>`` (ours, strict)."""
        return self.rename.get(("models", surface), "").startswith("HEXAI_MODELS_")

    def _entries(
        self, fields: Mapping[str, Validator], value: Any, path: Path
    ) -> list[dict[str, Any]] | None:
        single = isinstance(value, (str, Mapping))
        if single:
            items: list[Any] = [value]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            self.problem(
                path,
                "expected a model name, a table (provider, model, temperature ...) "
                f"or an array of tables, got {describe(value)}",
            )
            return None
        if not items:
            self.warn(path, "empty list ignored; the list of the layer below stays")
            return None
        self.model_origins[path_surface(path)] = ModelsOrigin(self.display(path), single, path)
        entries: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            here = path if single else (*path, index)
            if isinstance(item, str):
                if not item.strip():
                    self.problem(here, "model name must not be empty")
                    entries.append({})
                    continue
                item = {"model": item}
            if not isinstance(item, Mapping):
                self.problem(
                    here,
                    f"expected a model name or a table with provider/model, got {describe(item)}",
                )
                entries.append({})
                continue
            item = dict(item)
            temperature = item.get("temperature")
            if isinstance(temperature, str):
                # hexai accepts a quoted number here; keep loading such files.
                try:
                    parsed = float(temperature.strip())
                except ValueError:
                    parsed = math.nan
                if math.isfinite(parsed):
                    item["temperature"] = parsed
                    self.warn(
                        (*here, "temperature"),
                        f"quoted number {temperature!r}; write it without quotes",
                    )
            entries.append(self.table(fields, item, here))
        return entries

    def _prompts(self, out: dict[str, Any], value: Any, path: Path) -> None:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a table ([prompts] section), got {describe(value)}")
            return
        prompts: dict[str, Any] = {}
        for group, table in value.items():
            here = (*path, str(group))
            known = defaults.PROMPT_KEYS.get(group) if isinstance(group, str) else None
            if known is None:
                self.warn(
                    here, f"unknown prompt group{suggest(group, defaults.PROMPT_KEYS)}; ignored"
                )
                continue
            if not isinstance(table, Mapping):
                self.problem(here, f"expected a table ([prompts.{group}]), got {describe(table)}")
                continue
            fields: dict[str, Validator] = dict.fromkeys(known, text(strip=False))
            if "custom" in fields:
                fields["custom"] = custom_actions()
            prompts[str(group)] = self.table(fields, table, here, what="prompt")
        out["prompts"] = prompts


def custom_actions() -> Validator:
    """hexai's ``[[prompts.code_action.custom]]``: an array of tables of strings
    that keeps hexai's rules (:mod:`hexai_nvim.config.actions`)."""
    table = string_table()

    def check(value: Any) -> list[dict[str, str]]:
        if not isinstance(value, (list, tuple)):
            raise vol.Invalid(f"expected an array of tables, got {describe(value)}")
        result: list[dict[str, str]] = []
        errors: list[vol.Invalid] = []
        for index, item in enumerate(value):
            try:
                result.append(table(item))
            except vol.Invalid as exc:
                exc.prepend([index])
                errors.append(exc)
        for index, name, message in actions_problems(value):
            errors.append(vol.Invalid(message, path=[index, name] if name else [index]))
        if errors:
            raise vol.MultipleInvalid(errors)
        return result

    return check


def path_surface(path: Path) -> str:
    """The list a ``("models", key)`` path writes."""
    return str(path[-1])
