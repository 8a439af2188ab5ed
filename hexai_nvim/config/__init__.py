"""hexai.nvim's configuration: hexai's TOML format, unchanged, and ours on top.

Layers, lowest precedence first: built-in defaults, the global file, the
project's ``.hexaiconfig.toml``, ``HEXAI_*`` environment variables, the editor's
``setup{}`` table. The result is one immutable :class:`Config`; anything wrong
raises one :class:`ConfigError` carrying every problem found.
"""

from __future__ import annotations

from hexai_nvim.config.diff import diff_configs, format_reload_diff
from hexai_nvim.config.keys import KeyInfo, mask_secret, resolve_api_key
from hexai_nvim.config.loader import default_config, load_config
from hexai_nvim.config.model import (
    BUILTIN_PROVIDERS,
    LAYERS,
    PROVIDER_KINDS,
    SURFACE_ALIASES,
    SURFACES,
    CompletionSettings,
    Config,
    ConfigError,
    EngineSettings,
    Entry,
    General,
    Problem,
    ProviderSpec,
)

__all__ = [
    "BUILTIN_PROVIDERS",
    "LAYERS",
    "PROVIDER_KINDS",
    "SURFACES",
    "SURFACE_ALIASES",
    "CompletionSettings",
    "Config",
    "ConfigError",
    "EngineSettings",
    "Entry",
    "General",
    "KeyInfo",
    "Problem",
    "ProviderSpec",
    "default_config",
    "diff_configs",
    "format_reload_diff",
    "load_config",
    "mask_secret",
    "resolve_api_key",
]
