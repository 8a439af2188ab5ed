"""The effective configuration as plain data, for ``hexai config show`` and the
editor: every value with the layer it came from, entries per surface in order,
and per provider whether a key was found — masked, never the key itself — and
which of the user's credentials are withheld from a project-chosen address (the
header names and why, never their values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hexai_nvim.config.keys import mask_secret, mask_url, resolve_api_key
from hexai_nvim.config.model import SURFACES, Config, Entry, ProviderSpec


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def entry_data(entry: Entry) -> dict[str, Any]:
    return {
        "index": entry.index,
        "provider": entry.provider.name,
        "model": entry.model,
        "label": entry.label,
        "temperature": entry.temperature,
        "max_tokens": entry.max_tokens,
        "timeout_ms": entry.timeout_ms,
        "stream": entry.stream,
    }


def provider_data(
    spec: ProviderSpec,
    sources: Mapping[str, str],
    env: Mapping[str, str] | None,
    resolve_keys: bool,
) -> dict[str, Any]:
    def source(key: str) -> str:
        dotted = f"providers.{spec.name}.{key}"
        found = [
            layer
            for name, layer in sources.items()
            if name == dotted or name.startswith(dotted + ".")
        ]
        return found[-1] if found else "default"

    data: dict[str, Any] = {
        "kind": spec.kind,
        "base_url": mask_url(spec.base_url),
        "model": spec.default_model or None,
        "temperature": spec.temperature,
        "api_key_env": list(spec.api_key_env),
        "api_key_cmd": bool(spec.api_key_cmd),
        "headers": {name: mask_secret(value) for name, value in spec.headers.items()},
        "max_concurrency": spec.max_concurrency,
        "timeout_ms": spec.timeout_ms,
        "stream": spec.stream,
        "fim": spec.fim,
    }
    data["sources"] = {key: source(key) for key in list(data)}
    # What the kind declares (the provider registry), and the FIM mode in use.
    from hexai_nvim.providers import registry

    data["needs_key"] = registry.kind_info(spec.kind).needs_key
    data["fim_mode"] = registry.fim_mode(spec)
    data["lists_models"] = registry.lists_models(spec.kind)
    # The user's credentials kept back from a project-chosen address: why, and
    # the header names only (a withheld value is a secret meant for elsewhere).
    data["withheld"] = spec.key_withheld or None
    data["withheld_headers"] = sorted(spec.withheld_headers)
    if resolve_keys:
        info = resolve_api_key(spec, env)
        data["key"] = {"found": info.found, "masked": info.masked, "source": info.source}
    return data


def describe_config(
    config: Config, *, env: Mapping[str, str] | None = None, resolve_keys: bool = True
) -> dict[str, Any]:
    """JSON-ready view of ``config`` (see module doc). ``resolve_keys`` looks the
    keys up (this may run ``api_key_cmd`` commands)."""
    general, completion, engine = config.general, config.completion, config.engine
    values: dict[str, Any] = {
        "general.max_tokens": general.max_tokens,
        "general.max_context_tokens": general.max_context_tokens,
        "general.request_timeout": general.request_timeout,
        "general.context_mode": general.context_mode,
        "general.context_window_lines": general.context_window_lines,
        "general.coding_temperature": general.coding_temperature,
        "completion.completion_debounce_ms": completion.debounce_ms,
        "completion.completion_throttle_ms": completion.throttle_ms,
        "completion.manual_invoke_min_prefix": completion.manual_invoke_min_prefix,
        "completion.completion_wait_all": completion.wait_all,
        "completion.timeout_ms": completion.timeout_ms,
        "triggers.trigger_characters": list(completion.trigger_characters),
        "provider.name": config.default_provider,
        "stats.window_minutes": config.stats_window_minutes,
        "engine.max_concurrency": engine.max_concurrency,
        "engine.connect_timeout_ms": engine.connect_timeout_ms,
        "engine.first_token_timeout_ms": engine.first_token_timeout_ms,
        "engine.retries": engine.retries,
        **{f"ui.{key}": _plain(value) for key, value in config.ui.items()},
    }

    def source(key: str) -> str:
        if key in config.sources:
            return config.sources[key]
        nested = [layer for name, layer in config.sources.items() if name.startswith(key + ".")]
        return nested[-1] if nested else "default"

    return {
        "files": list(config.files),
        "values": {
            key: {"value": value, "source": source(key)} for key, value in values.items()
        },
        "models": {
            surface: {
                "list": f"models.{config.list_name(surface)}",
                "source": config.sources.get(f"models.{config.list_name(surface)}", "default"),
                "entries": [entry_data(entry) for entry in config.entries(surface)],
            }
            for surface in SURFACES
        },
        "providers": {
            name: provider_data(spec, config.sources, env, resolve_keys)
            for name, spec in sorted(config.providers.items())
        },
        "prompts": _plain(config.prompts),
        "warnings": list(config.warnings),
    }
