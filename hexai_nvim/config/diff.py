"""Differences between two effective configs, in hexai's reload format::

    Reloaded config (2 changes):
    - completion_configs: ollama:kimi-k2.6@0.200 → ollama:kimi-k2.6@0.200|openai:gpt-4.1@0.200
    - max_tokens: 4000 → 2000

Keys hexai has are written as hexai's store names them (bare:
``max_tokens``, ``provider``, ``openai_model``, ``completion_configs``,
``chat_configs`` ...), sorted as hexai sorts them; keys only hexai.nvim has
keep their dotted path (``engine.retries``, ``providers.gpu.base_url``,
``completion_configs[1].timeout_ms``). A surface's entries are written
``provider:model@temperature`` joined by ``|`` (as hexai does). Secrets never
appear: a changed ``api_key_cmd``, a header value or a ``base_url`` password
that changed shows as ``key: changed``; ``config show`` masks them.

``diff_configs(..., dotted=True)`` keeps our dotted paths for every key
(``hexai config diff``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hexai_nvim.config.defaults import BUILTIN
from hexai_nvim.config.keys import mask_secret, mask_url
from hexai_nvim.config.model import MODEL_LISTS, Config, Entry, ProviderSpec

_NONE = "(none)"


def entry_text(entry: Entry) -> str:
    """hexai's form of one entry: ``provider:model@0.200``."""
    return f"{entry.provider.name}:{entry.model}@{entry.temperature:.3f}"


def _fallback_text(entry: Entry) -> str:
    return entry_text(entry.fallback) if entry.fallback is not None else _NONE


def _show(value: Any) -> str:
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, str):
        return value if value.strip() == value and value else repr(value)
    return str(value)


def _provider_values(spec: ProviderSpec) -> dict[str, str]:
    values = {
        "kind": spec.kind,
        "base_url": mask_url(spec.base_url),
        "model": spec.default_model or _NONE,
        "temperature": _show(spec.temperature),
        "api_key_env": _show(spec.api_key_env),
        "api_key_cmd": "(set)" if spec.api_key_cmd else _NONE,
        "max_concurrency": _show(spec.max_concurrency),
        "timeout_ms": _show(spec.timeout_ms),
        "stream": _show(spec.stream),
    }
    for name in sorted(spec.headers):
        values[f"headers.{name}"] = mask_secret(spec.headers[name])
    return values


def _prompt_values(prompts: Mapping[str, Any], prefix: str = "prompts") -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in prompts.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            values.update(_prompt_values(value, dotted))
        else:
            shown = _show(value)
            values[dotted] = shown if len(shown) <= 60 else shown[:57] + "..."
    return values


def flatten(config: Config) -> dict[str, str]:
    """Every comparable value of ``config`` as display text, by dotted key."""
    general, completion, engine = config.general, config.completion, config.engine
    values: dict[str, str] = {
        "general.max_tokens": _show(general.max_tokens),
        "general.max_context_tokens": _show(general.max_context_tokens),
        "general.request_timeout": _show(general.request_timeout),
        "general.context_mode": _show(general.context_mode),
        "general.context_window_lines": _show(general.context_window_lines),
        "general.coding_temperature": _show(general.coding_temperature),
        "completion.completion_debounce_ms": _show(completion.debounce_ms),
        "completion.completion_throttle_ms": _show(completion.throttle_ms),
        "completion.manual_invoke_min_prefix": _show(completion.manual_invoke_min_prefix),
        "completion.completion_wait_all": _show(completion.wait_all),
        "completion.timeout_ms": _show(completion.timeout_ms),
        "triggers.trigger_characters": _show(completion.trigger_characters),
        "provider.name": config.default_provider,
        "stats.window_minutes": _show(config.stats_window_minutes),
        "engine.max_concurrency": _show(engine.max_concurrency),
        "engine.connect_timeout_ms": _show(engine.connect_timeout_ms),
        "engine.first_token_timeout_ms": _show(engine.first_token_timeout_ms),
        "engine.retries": _show(engine.retries),
        "engine.max_answer_bytes_completion": _show(engine.max_answer_bytes_completion),
        "engine.max_answer_bytes": _show(engine.max_answer_bytes),
        "engine.breaker_failures": _show(engine.breaker_failures),
        "engine.breaker_window_ms": _show(engine.breaker_window_ms),
        "engine.breaker_cooldown_ms": _show(engine.breaker_cooldown_ms),
        **{f"ignore.{key}": _show(getattr(config.ignore, key))
           for key in ("gitignore", "extra_patterns", "lsp_notify_ignored")},
        **{f"arena.{key}": _show(getattr(config.arena, key))
           for key in ("blind", "store_text", "record", "provisional_battles")},
    }
    for model, (cost_in, cost_out) in sorted(config.arena.prices.items()):
        values[f"arena.prices.{model}"] = f"{_show(cost_in)}/{_show(cost_out)}"
    for key in sorted(config.ui):
        values[f"ui.{key}"] = _show(config.ui[key])
    for name in MODEL_LISTS:
        entries = config.models.get(name)
        if entries is not None:
            values[f"models.{name}"] = "|".join(entry_text(e) for e in entries) or _NONE
    for name in sorted(config.providers):
        for key, shown in _provider_values(config.providers[name]).items():
            values[f"providers.{name}.{key}"] = shown
    values.update(_prompt_values(config.prompts))
    return values


def _derived(config: Config, entry: Entry, name: str) -> Any:
    """What ``name`` of ``entry`` would be had the entry not set it."""
    spec = entry.provider
    if name == "label":
        return entry.key
    if name == "max_tokens":
        return config.general.max_tokens
    if name == "stream":
        return spec.stream
    if name == "max_answer_bytes":
        return None
    if entry.surface == "completion":
        cap = spec.timeout_ms if spec.timeout_ms is not None else config.completion.timeout_ms
        return min(config.completion.timeout_ms, cap)
    if spec.timeout_ms is not None:
        return spec.timeout_ms
    return round(config.general.request_timeout * 1000)


def _entry_extras(old: Config, new: Config) -> dict[str, tuple[str, str]]:
    """Changes of our extra entry fields an entry sets itself, for entries that
    kept their place and ``provider:model@temperature``. Changes that follow from
    another setting (``general.max_tokens`` ...) or from a different entry show
    on those lines already."""
    changes: dict[str, tuple[str, str]] = {}
    for surface in MODEL_LISTS:
        pairs = zip(old.models.get(surface, ()), new.models.get(surface, ()), strict=False)
        for before, after in pairs:
            if entry_text(before) != entry_text(after):
                continue
            for name in ("label", "max_tokens", "timeout_ms", "stream", "max_answer_bytes"):
                was, now = getattr(before, name), getattr(after, name)
                own = was != _derived(old, before, name) or now != _derived(new, after, name)
                if was != now and own:
                    changes[f"models.{surface}[{after.index}].{name}"] = (_show(was), _show(now))
            was_fb, now_fb = (_fallback_text(e) for e in (before, after))
            if was_fb != now_fb:
                changes[f"models.{surface}[{after.index}].fallback"] = (was_fb, now_fb)
    return changes


#: Shown instead of old and new values of a secret-bearing key that changed.
CHANGED = "changed"


def secret_values(config: Config) -> dict[str, str]:
    """The real values of every secret-bearing key (``api_key_cmd``, header
    values, ``base_url`` with its password), by dotted key: compared, never shown."""
    values: dict[str, str] = {}
    for name in sorted(config.providers):
        spec = config.providers[name]
        prefix = f"providers.{name}"
        values[f"{prefix}.base_url"] = spec.base_url
        values[f"{prefix}.api_key_cmd"] = spec.api_key_cmd or ""
        for headers in (spec.headers, spec.withheld_headers):
            for header, value in headers.items():
                values[f"{prefix}.headers.{header}"] = value
    return values


#: Our dotted keys -> the names hexai's config store gives them.
HEXAI_KEYS: dict[str, str] = {
    **{f"general.{key}": key for key in (
        "max_tokens", "max_context_tokens", "request_timeout", "context_mode",
        "context_window_lines", "coding_temperature",
    )},
    **{f"completion.{key}": key for key in (
        "completion_debounce_ms", "completion_throttle_ms", "manual_invoke_min_prefix",
        "completion_wait_all",
    )},
    "triggers.trigger_characters": "trigger_characters",
    "provider.name": "provider",
    "stats.window_minutes": "stats_window_minutes",
    **{f"providers.{name}.{field}": f"{name}_{field}" for name in BUILTIN
       for field in ("model", "base_url", "temperature")},
    **{f"models.{name}": f"{name}_configs" for name in MODEL_LISTS},
}


def hexai_key(dotted: str) -> str:
    """hexai's name for a dotted key; ours keep their path (list indexes renamed too)."""
    if dotted in HEXAI_KEYS:
        return HEXAI_KEYS[dotted]
    head, bracket, rest = dotted.partition("[")
    if bracket and head in HEXAI_KEYS:
        return f"{HEXAI_KEYS[head]}[{rest}"
    return dotted


def diff_configs(old: Config, new: Config, *, dotted: bool = False) -> list[str]:
    """``["- key: old → new", ...]`` sorted by key; empty when equal.

    Keys are hexai's bare names (see the module docstring) unless ``dotted``.
    A secret-bearing value that changed while its masked form did not (a new
    ``api_key_cmd``, header value or ``base_url`` password) is
    ``- key: changed``, without old or new values.
    """
    before, after = flatten(old), flatten(new)
    secret_before, secret_after = secret_values(old), secret_values(new)
    keys = list(after) + [key for key in before if key not in after]
    keys += [key for key in secret_after if key not in after and key not in before]
    keys += [key for key in secret_before if key not in keys]
    changes: dict[str, tuple[str, str] | None] = {}
    for key in keys:
        was, now = before.get(key, _NONE), after.get(key, _NONE)
        secret_changed = secret_before.get(key) != secret_after.get(key)
        if key in secret_before or key in secret_after:
            header = ".headers." in key
            if header and (key in secret_before) != (key in secret_after):
                changes[key] = (was, now)  # added or removed: masked, as before
            elif secret_changed and (header or was == now):
                changes[key] = None
            elif was != now:
                changes[key] = (was, now)
            continue
        if was != now:
            changes[key] = (was, now)
    changes.update(_entry_extras(old, new))
    named = {(key if dotted else hexai_key(key)): change for key, change in changes.items()}
    return [
        f"- {key}: {CHANGED}" if shown is None else f"- {key}: {shown[0]} → {shown[1]}"
        for key, shown in sorted(named.items())
    ]


def changes_header(prefix: str, count: int) -> str:
    """``prefix (1 change):`` / ``prefix (N changes):`` / ``prefix (no changes detected).``

    hexai writes ``(1 changes)``; we write English (a deliberate difference).
    """
    if count == 0:
        return f"{prefix} (no changes detected)."
    return f"{prefix} ({count} {'change' if count == 1 else 'changes'}):"


def format_reload_diff(old: Config, new: Config) -> str:
    """hexai's reload message: ``Reloaded config (N changes):`` and one line each."""
    lines = diff_configs(old, new)
    return "\n".join([changes_header("Reloaded config", len(lines)), *lines])
