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
    ASK_LISTS,
    BUILTIN_PROVIDERS,
    LAYERS,
    MODEL_LISTS,
    PROVIDER_KINDS,
    SURFACES,
    CompletionSettings,
    Config,
    ConfigError,
    EngineSettings,
    Entry,
    General,
    IgnoreSettings,
    Problem,
    ProviderSpec,
)

__all__ = [
    "ASK_LISTS",
    "BUILTIN_PROVIDERS",
    "LAYERS",
    "MODEL_LISTS",
    "PROVIDER_KINDS",
    "SURFACES",
    "CompletionSettings",
    "Config",
    "ConfigError",
    "EngineSettings",
    "Entry",
    "General",
    "IgnoreSettings",
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
