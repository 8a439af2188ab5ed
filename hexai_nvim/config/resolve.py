"""Merging validated layers and resolving them into one :class:`Config`.

Merging: tables merge key by key, every other value (lists included) from a
later layer replaces the earlier one whole, so a project's
``[[models.completion]]`` list replaces the global list instead of growing it.

Resolving fills in what the user left out, the way hexai 0.42 does: an entry
without ``provider`` uses ``[provider] name``; without ``model`` that
provider's model; without ``temperature`` ``[general] coding_temperature``,
and the provider's ``temperature`` only when ``coding_temperature`` is 0.
OpenAI ``gpt-5*`` models get 1.0 whatever is configured (they refuse
anything else).

The ask lists (``chat``, ``cli``, ``ask``) are kept apart; a layer that sets
``ask`` (both ask surfaces) replaces the ``chat`` and ``cli`` lists of the
layers below it, one that sets ``chat`` or ``cli`` replaces only that list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from hexai_nvim.config import defaults, trust
from hexai_nvim.config.model import (
    MODEL_LISTS,
    PROVIDER_KINDS,
    ArenaSettings,
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    IgnoreSettings,
    Problem,
    ProviderSpec,
)
from hexai_nvim.config.schema import ModelsOrigin, Path

Locate = Callable[[Path], tuple[int, int] | None]

#: Fields of a provider as shown in ``sources`` (``providers.NAME.<field>``).
PROVIDER_FIELDS: tuple[str, ...] = (
    "kind",
    "base_url",
    "model",
    "temperature",
    "api_key_env",
    "api_key_cmd",
    "headers",
    "max_concurrency",
    "timeout_ms",
    "stream",
    "fim",
)


@dataclass
class Layer:
    """One validated layer in canonical form."""

    name: str
    #: File path; ``None`` for the environment, ``"setup{}"`` for the editor.
    file: str | None
    data: dict[str, Any]
    model_origins: dict[str, ModelsOrigin] = field(default_factory=dict)


@dataclass
class Merged:
    data: dict[str, Any] = field(default_factory=dict)
    #: Dotted key -> layer name, for every value some layer set.
    sources: dict[str, str] = field(default_factory=dict)
    #: Surface -> (layer, where it was written) of the list in effect.
    origins: dict[str, tuple[Layer, ModelsOrigin]] = field(default_factory=dict)
    layers: dict[str, Layer] = field(default_factory=dict)


def merge(layers: list[Layer]) -> Merged:
    merged = Merged()
    for layer in layers:
        merged.layers[layer.name] = layer
        if "ask" in layer.data.get("models", {}):
            # ``ask`` serves both ask surfaces: it replaces the lower layers'
            # chat and cli lists (a same-layer chat or cli still wins).
            lower = merged.data.get("models", {})
            for name in ("chat", "cli"):
                lower.pop(name, None)
                merged.origins.pop(name, None)
        _merge_table(merged.data, layer.data, "", layer.name, merged.sources)
        for surface in layer.data.get("models", {}):
            origin = layer.model_origins.get(surface, ModelsOrigin(f"models.{surface}", False))
            merged.origins[surface] = (layer, origin)
    return merged


def _merge_table(
    target: dict[str, Any],
    incoming: Mapping[str, Any],
    prefix: str,
    layer: str,
    sources: dict[str, str],
) -> None:
    for key, value in incoming.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            existing = target.get(key)
            if not isinstance(existing, dict):
                existing = target[key] = {}
            _merge_table(existing, value, dotted, layer, sources)
        else:
            target[key] = value
            sources[dotted] = layer


@dataclass
class Resolution:
    config: Config | None
    problems: list[Problem]
    warnings: list[str]


class _Resolver:
    def __init__(
        self,
        merged: Merged,
        files: tuple[str, ...],
        quiet: bool,
        reported: Collection[str],
        locators: Mapping[str, Locate],
    ) -> None:
        self.quiet = quiet
        self.reported = reported
        self.locators = locators
        self.merged = merged
        self.data = merged.data
        self.files = files
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        return value if isinstance(value, dict) else {}

    def problem(self, path: str, message: str, file: str | None, raw: Path) -> None:
        """Record a problem unless the layer check already reported that path."""
        if path in self.reported:
            return
        locate = self.locators.get(file or "")
        found = locate(raw) if locate else None
        line, column = found if found else (None, None)
        self.problems.append(Problem(path, message, file=file, line=line, column=column))

    def file_of(self, prefix: str) -> str | None:
        """The file of the last layer that set something under ``prefix``."""
        layer_name = None
        for key, name in self.merged.sources.items():
            if key == prefix or key.startswith(prefix + "."):
                layer_name = name
        layer = self.merged.layers.get(layer_name or "")
        return layer.file if layer else None

    # -- providers

    def providers(self) -> dict[str, ProviderSpec]:
        tables = self.section("providers")
        specs: dict[str, ProviderSpec] = {}
        for name, builtin in defaults.BUILTIN.items():
            table = tables.get(name, {})
            specs[name] = self.spec(
                name, builtin.kind, table, builtin.base_url, builtin.model, builtin.api_key_env
            )
        for name, table in tables.items():
            if name in defaults.BUILTIN:
                continue
            kind = table.get("kind")
            if kind is None:
                self.problem(
                    f"providers.{name}.kind",
                    f"missing; set kind to one of {', '.join(PROVIDER_KINDS)}",
                    self.file_of(f"providers.{name}"),
                    ("providers", name),
                )
                continue
            from hexai_nvim.providers import registry  # lazily: it imports the clients

            base_url = table.get("base_url") or registry.kind_info(kind).base_url
            if not base_url:
                self.problem(
                    f"providers.{name}.base_url",
                    f"required for kind {kind!r} (for example http://localhost:1234/v1)",
                    self.file_of(f"providers.{name}"),
                    ("providers", name),
                )
                continue
            specs[name] = self.spec(name, kind, table, base_url, "", ())
        for name, spec in list(specs.items()):
            if not self.fim_allowed(spec):
                specs[name] = replace(spec, fim="off")
        return {name: self.guard_key(spec) for name, spec in specs.items()}

    def fim_allowed(self, spec: ProviderSpec) -> bool:
        """Whether the provider's kind can do its ``fim`` mode (a problem when not)."""
        from hexai_nvim.providers import registry

        allowed = registry.fim_choices(spec.kind)
        if spec.fim in allowed:
            return True
        self.problem(
            f"providers.{spec.name}.fim",
            f"{spec.fim!r} is not available for kind {spec.kind!r}; allowed: "
            + ", ".join(allowed),
            self.file_of(f"providers.{spec.name}.fim"),
            ("providers", spec.name, "fim"),
        )
        return False

    def guard_key(self, spec: ProviderSpec) -> ProviderSpec:
        """The trust rule (:mod:`hexai_nvim.config.trust`): the user's
        credentials never go to an address the project file chose."""
        from hexai_nvim.providers import registry

        builtin = defaults.BUILTIN.get(spec.name)
        default = builtin.base_url if builtin else registry.kind_info(spec.kind).base_url or None
        layers = [(layer.name, layer.data) for layer in self.merged.layers.values()]
        user_url = trust.user_base_url(spec.name, layers, default)
        hint = "set base_url in your global config"
        if builtin is not None:
            hint += f" or HEXAI_{spec.name.upper()}_BASE_URL"
        guarded, reason = trust.guard(spec, self.merged.sources, user_url, hint)
        if reason is not None:
            self.warnings.append(reason)
        return guarded

    @staticmethod
    def spec(
        name: str,
        kind: str,
        table: Mapping[str, Any],
        base_url: str,
        model: str,
        key_env: tuple[str, ...],
    ) -> ProviderSpec:
        default_model = table.get("model") or model
        presets = table.get("presets") or {}
        # hexai's [openai] presets map a model alias to the real name.
        lowered = {str(k).strip().lower(): v for k, v in presets.items()}
        mapped = presets.get(default_model) or lowered.get(default_model.lower())
        if isinstance(mapped, str) and mapped.strip():
            default_model = mapped.strip()
        return ProviderSpec(
            name=name,
            kind=kind,
            base_url=table.get("base_url", base_url),
            default_model=default_model,
            temperature=table.get("temperature"),
            api_key_env=tuple(table.get("api_key_env", key_env)),
            api_key_cmd=table.get("api_key_cmd"),
            headers=MappingProxyType(dict(table.get("headers", {}))),
            max_concurrency=table.get("max_concurrency"),
            timeout_ms=table.get("timeout_ms"),
            stream=table.get("stream", True),
            fim=table.get("fim", "auto"),
        )

    # -- entries

    def entries(
        self,
        surface: str,
        specs: Mapping[str, ProviderSpec],
        default_provider: str,
        general: General,
        completion_timeout_ms: int,
    ) -> tuple[Entry, ...]:
        raw = self.section("models").get(surface)
        layer_origin = self.merged.origins.get(surface)
        if not raw or layer_origin is None:
            raw, layer_origin = [{}], None
        file = layer_origin[0].file if layer_origin else None
        prefix = f"{file}: " if file else ""
        if surface == "code_action" and len(raw) > 1:
            self.warnings.append(
                f"{prefix}models.code_action supports a single entry; ignoring {len(raw) - 1} extra"
            )
            raw = raw[:1]
        entries: list[Entry] = []
        seen_labels: dict[str, int] = {}
        for index, item in enumerate(raw):
            base = (
                layer_origin[1].entry_path(index, "_").removesuffix("._")
                if layer_origin
                else f"models.{surface}"
            )
            entry = self.entry(
                surface, len(entries), item, specs, default_provider, general,
                completion_timeout_ms, (prefix, base),
            )
            if entry is None:
                provider_name = item.get("provider") or default_provider
                if provider_name in specs:
                    self.missing_model(surface, index, provider_name, layer_origin)
                continue
            label = entry.label
            if label in seen_labels and not self.quiet:
                where = layer_origin[1].entry_path(index, "label") if layer_origin else surface
                self.warnings.append(
                    f"{prefix}{where}: label {label!r} is also used by entry "
                    f"{seen_labels[label]}; set label to tell them apart"
                )
            seen_labels.setdefault(label, index)
            entries.append(entry)
        return tuple(entries)

    def entry(
        self,
        surface: str,
        position: int,
        item: Mapping[str, Any],
        specs: Mapping[str, ProviderSpec],
        default_provider: str,
        general: General,
        completion_timeout_ms: int,
        at: tuple[str, str],
        *,
        fallback_of: str = "",
    ) -> Entry | None:
        """One resolved entry, or None when its model is missing.

        ``at`` is ``(file prefix, entry path)`` for messages.
        """
        prefix, base = at
        provider_name = item.get("provider") or default_provider
        spec = specs.get(provider_name)
        unavailable = ""
        if spec is None:
            if provider_name in defaults.UNSUPPORTED_PROVIDERS:
                unavailable = defaults.UNSUPPORTED_PROVIDERS[provider_name]
            elif item.get("provider"):
                # Only the environment can bring an unknown name this far
                # (HEXAI_PROVIDER_<SURFACE>); hexai fails that surface when used.
                unavailable = (
                    f"unknown provider {provider_name!r} (from HEXAI_PROVIDER_"
                    f"{surface.upper()}); known: {', '.join(sorted(specs))}"
                )
            else:
                return None  # the provider's own problem is already reported
            spec = ProviderSpec(name=provider_name, kind="unsupported", base_url="")
            if not self.quiet:
                self.warnings.append(
                    f"{prefix}{base}.provider: {unavailable}; this entry fails when used"
                )
        model = item.get("model") or spec.default_model
        if not model and unavailable:
            model = "default"
        if not model:
            return None
        if surface == "completion":
            cap = spec.timeout_ms if spec.timeout_ms is not None else math.inf
            default_timeout = int(min(completion_timeout_ms, cap))
        elif spec.timeout_ms is not None:
            default_timeout = spec.timeout_ms
        else:
            default_timeout = round(general.request_timeout * 1000)
        temperature = self.temperature(
            item.get("temperature"), spec, model, general, f"{prefix}{base}.temperature"
        )
        label = item.get("label") or f"{provider_name}:{model}"
        fallback = None
        if not fallback_of and (item.get("fallback_provider") or item.get("fallback_model")):
            fallback_item = {
                "provider": item.get("fallback_provider") or provider_name,
                "model": item.get("fallback_model") or "",
                "max_tokens": item.get("max_tokens"),
                "stream": item.get("stream"),
            }
            fallback_item = {k: v for k, v in fallback_item.items() if v is not None}
            fallback = self.entry(
                surface, position, fallback_item, specs, default_provider, general,
                completion_timeout_ms, (prefix, f"{base}.fallback"), fallback_of=label,
            )
            if fallback is None:
                self.problems.append(Problem(
                    f"{base}.fallback_model",
                    f"missing: fallback provider {fallback_item['provider']!r} has no "
                    "default model; set fallback_model",
                ))
            elif fallback.key == f"{provider_name}:{model}":
                self.warnings.append(
                    f"{prefix}{base}.fallback_model: the fallback is the entry itself "
                    f"({fallback.key}); set fallback_model or fallback_provider to another"
                )
                fallback = None
        return Entry(
            surface=surface,
            index=position,
            provider=spec,
            model=model,
            temperature=temperature,
            label=label,
            max_tokens=item.get("max_tokens", general.max_tokens),
            timeout_ms=item.get("timeout_ms", default_timeout),
            stream=item.get("stream", spec.stream),
            max_tokens_set="max_tokens" in item,
            max_answer_bytes=item.get("max_answer_bytes"),
            fallback=fallback,
            unavailable=unavailable,
        )

    def temperature(
        self,
        own: float | None,
        spec: ProviderSpec,
        model: str,
        general: General,
        where: str,
    ) -> float:
        """hexai's temperature chain for one entry (see the module docstring)."""
        if is_reasoning_model(spec, model):
            if own is not None and float(own) != 1.0 and not self.quiet:
                self.warnings.append(
                    f"{where}: {model} takes only temperature 1.0; "
                    f"{float(own):g} is not sent (as in hexai)"
                )
            return 1.0
        if own is not None:
            return float(own)
        if general.coding_temperature != 0:
            return general.coding_temperature
        return float(spec.temperature) if spec.temperature is not None else 0.0

    def missing_model(
        self,
        surface: str,
        index: int,
        provider: str,
        layer_origin: tuple[Layer, ModelsOrigin] | None,
    ) -> None:
        if layer_origin is None:
            self.problem(
                f"providers.{provider}.model",
                f"missing: {provider!r} is the default provider and no [models] "
                f"entry for {surface} names a model",
                self.file_of(f"providers.{provider}"),
                ("providers", provider),
            )
            return
        layer, origin = layer_origin
        self.problem(
            origin.entry_path(index, "model"),
            f"missing, and provider {provider!r} has no default model; set model here "
            f"or in [providers.{provider}]",
            layer.file,
            origin.entry_raw(index, "model"),
        )

    # -- everything

    def run(self) -> Resolution:
        general_table = {**defaults.GENERAL, **self.section("general")}
        general = General(
            max_tokens=general_table["max_tokens"],
            max_context_tokens=general_table["max_context_tokens"],
            request_timeout=float(general_table["request_timeout"]),
            context_mode=general_table["context_mode"],
            context_window_lines=general_table["context_window_lines"],
            coding_temperature=float(general_table["coding_temperature"]),
        )
        completion_table = {**defaults.COMPLETION, **self.section("completion")}
        completion = CompletionSettings(
            debounce_ms=completion_table["completion_debounce_ms"],
            throttle_ms=completion_table["completion_throttle_ms"],
            manual_invoke_min_prefix=completion_table["manual_invoke_min_prefix"],
            wait_all=completion_table["completion_wait_all"],
            trigger_characters=tuple(self.section("triggers").get("trigger_characters", ())),
            timeout_ms=completion_table["timeout_ms"],
        )
        engine = EngineSettings(**{**defaults.ENGINE, **self.section("engine")})
        # Lists become tuples; tables stay plain dicts (copies) because the host
        # sends [ui] to Lua as is and msgpack cannot encode mapping proxies.
        ui = {key: _copy(value) for key, value in {**defaults.UI, **self.section("ui")}.items()}
        specs = self.providers()
        default_provider = self.section("provider").get("name", defaults.DEFAULT_PROVIDER)
        set_lists = self.section("models")
        lists = [name for name in MODEL_LISTS if name in ("completion", "code_action")
                 or set_lists.get(name)]
        if not any(name in lists for name in ("chat", "cli", "ask")):
            lists.append("ask")  # nothing set: the default entry serves both
        models = {
            name: self.entries(name, specs, default_provider, general, completion.timeout_ms)
            for name in lists
        }
        ignore_table = {**defaults.IGNORE, **self.section("ignore")}
        ignore = IgnoreSettings(
            gitignore=ignore_table["gitignore"],
            extra_patterns=tuple(ignore_table["extra_patterns"]),
            lsp_notify_ignored=ignore_table["lsp_notify_ignored"],
        )
        if self.problems:
            return Resolution(None, self.problems, self.warnings)
        config = Config(
            general=general,
            completion=completion,
            engine=engine,
            providers=MappingProxyType(specs),
            models=MappingProxyType(models),
            default_provider=default_provider,
            stats_window_minutes=self.section("stats").get(
                "window_minutes", defaults.STATS_WINDOW_MINUTES
            ),
            prompts=freeze(self.section("prompts")),
            ui=MappingProxyType(ui),
            sources=MappingProxyType(self.all_sources(specs)),
            files=self.files,
            warnings=tuple(self.warnings),
            arena=self.arena(),
            ignore=ignore,
        )
        return Resolution(config, [], self.warnings)

    def arena(self) -> ArenaSettings:
        table = self.section("arena")
        prices = {
            key: (float(p["input"]), float(p["output"]))
            for key, p in (table.get("prices") or {}).items()
        }
        known = {k: table[k] for k in ("blind", "store_text", "record", "provisional_battles")
                 if k in table}
        return ArenaSettings(**known, prices=MappingProxyType(prices))

    def all_sources(self, specs: Mapping[str, ProviderSpec]) -> dict[str, str]:
        """Every known key -> layer, ``default`` where no layer set it."""
        known = [f"general.{key}" for key in defaults.GENERAL]
        known += [f"completion.{key}" for key in defaults.COMPLETION]
        known += ["triggers.trigger_characters", "provider.name", "stats.window_minutes"]
        known += [f"arena.{key}" for key in ("blind", "store_text", "record",
                                              "provisional_battles", "prices")]
        known += [f"engine.{key}" for key in defaults.ENGINE]
        known += [f"ui.{key}" for key in defaults.UI]
        known += [f"models.{name}" for name in MODEL_LISTS]
        known += [f"ignore.{key}" for key in defaults.IGNORE]
        known += [f"providers.{name}.{key}" for name in specs for key in PROVIDER_FIELDS]
        sources = dict.fromkeys(known, "default")
        sources.update(self.merged.sources)
        return sources


def resolve(
    merged: Merged,
    files: tuple[str, ...],
    *,
    quiet: bool = False,
    reported: Collection[str] = (),
    locators: Mapping[str, Locate] | None = None,
) -> Resolution:
    """The :class:`Config` of ``merged``, or the problems that prevent it.

    ``quiet`` (set when earlier stages found problems) skips warnings that
    placeholders of invalid entries would cause; problems at a path in
    ``reported`` are not repeated; ``locators`` (file -> function) find lines.
    """
    return _Resolver(merged, files, quiet, reported, locators or {}).run()


def is_reasoning_model(spec: ProviderSpec, model: str) -> bool:
    """OpenAI's ``gpt-5*`` models, which accept only the default temperature (1.0)."""
    return spec.kind == "openai" and model.strip().lower().startswith("gpt-5")


def freeze(value: Any) -> Any:
    """Read-only copy: tables become mapping proxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_copy(item) for item in value)
    return value

