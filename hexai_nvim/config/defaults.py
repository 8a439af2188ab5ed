"""Built-in facts of the configuration: hexai's defaults, its section names, ours.

Everything here is data. The loader (:mod:`hexai_nvim.config.loader`) reads it to
fill in what a user did not write, to tell known keys from typos, and to reject
hexai's old flat keys with the hint hexai gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class BuiltinProvider:
    """A provider configured by one of hexai's sections (``[openai]`` ...)."""

    kind: str
    base_url: str
    #: hexai's built-in model for the provider, used when neither the provider
    #: section nor the entry names one.
    model: str
    api_key_env: tuple[str, ...]


#: hexai's four providers. Base URLs and models are hexai's built-in defaults
#: (0.42.x): OpenAI ``gpt-4.1``, OpenRouter ``openrouter/auto``, Anthropic
#: ``claude-3-5-sonnet-20240620``, and Ollama *Cloud* (``https://ollama.com``,
#: ``kimi-k2.6``, Bearer ``OLLAMA_API_KEY``). A local Ollama is one line away:
#: ``[ollama] base_url = "http://localhost:11434"``.
BUILTIN: Mapping[str, BuiltinProvider] = MappingProxyType(
    {
        "openai": BuiltinProvider(
            "openai",
            "https://api.openai.com/v1",
            "gpt-4.1",
            ("HEXAI_OPENAI_API_KEY", "OPENAI_API_KEY"),
        ),
        "openrouter": BuiltinProvider(
            "openrouter",
            "https://openrouter.ai/api/v1",
            "openrouter/auto",
            ("HEXAI_OPENROUTER_API_KEY", "OPENROUTER_API_KEY"),
        ),
        "anthropic": BuiltinProvider(
            "anthropic",
            "https://api.anthropic.com/v1",
            "claude-3-5-sonnet-20240620",
            ("HEXAI_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        ),
        "ollama": BuiltinProvider(
            "ollama",
            "https://ollama.com",
            "kimi-k2.6",
            ("HEXAI_OLLAMA_API_KEY", "OLLAMA_API_KEY"),
        ),
    }
)

#: ``[provider] name`` when nobody sets it (hexai 0.42.x: Ollama Cloud).
DEFAULT_PROVIDER = "ollama"

#: Providers hexai knows that hexai.nvim cannot talk to. A config naming them
#: still loads (as in hexai); an entry using one fails when it is used, with
#: this reason in its own slot.
UNSUPPORTED_PROVIDERS: Mapping[str, str] = MappingProxyType(
    {
        "yousearch": "provider 'yousearch' (You.com's research API) is hexai-only; "
        "hexai.nvim does not support it",
    }
)

#: hexai's ``[general]`` defaults.
GENERAL: Mapping[str, Any] = MappingProxyType(
    {
        "max_tokens": 4000,
        "max_context_tokens": 4000,
        "request_timeout": 600,
        "context_mode": "always-full",
        "context_window_lines": 120,
        "coding_temperature": 0.2,
    }
)
CONTEXT_MODES: tuple[str, ...] = ("minimal", "window", "file-on-new-func", "always-full")

#: hexai's ``[completion]`` defaults plus ours (``timeout_ms``).
COMPLETION: Mapping[str, Any] = MappingProxyType(
    {
        "completion_debounce_ms": 800,
        "completion_throttle_ms": 0,
        "manual_invoke_min_prefix": 0,
        "completion_wait_all": True,
        "timeout_ms": 4000,
    }
)

STATS_WINDOW_MINUTES = 60

#: Ours: ``[engine]`` (see :class:`hexai_nvim.config.model.EngineSettings`).
ENGINE: Mapping[str, Any] = MappingProxyType(
    {
        "max_concurrency": 8,
        "connect_timeout_ms": 5000,
        "first_token_timeout_ms": 0,
        "retries": 2,
        "max_answer_bytes_completion": 256 * 1024,
        "max_answer_bytes": 4 * 1024 * 1024,
        "breaker_failures": 3,
        "breaker_window_ms": 60_000,
        "breaker_cooldown_ms": 30_000,
    }
)

#: Ours: ``[ui]``, read by the Lua side.
UI: Mapping[str, Any] = MappingProxyType(
    {
        "ask_layout": "auto",
        "completion_layout": "stack",
        "auto_trigger": True,
        "default_keymaps": True,
        "disabled_filetypes": (),
        "ghost_text": True,
    }
)
#: ``auto``: columns when every entry gets 60 cells side by side, else stacked.
ASK_LAYOUTS: tuple[str, ...] = ("auto", "stacked", "columns")
COMPLETION_LAYOUTS: tuple[str, ...] = ("stack", "cycle")
COMPLETION_DISPLAYS: tuple[str, ...] = ("ghost", "popup", "none")
#: Actions of ``[ui.completion] keymaps`` (hexai.startup's completion_keys).
COMPLETION_KEY_ACTIONS: tuple[str, ...] = (
    "complete", "menu", "accept", "accept_word", "accept_line", "next", "prev", "dismiss",
)

#: Keys hexai knows below ``[prompts.*]``; anything else there is a warning.
PROMPT_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "completion": (
            "system_general",
            "system_params",
            "system_inline",
            "user_general",
            "user_params",
            "additional_context",
        ),
        "provider_native": ("completion",),
        "chat": ("system",),
        "code_action": (
            "rewrite_system",
            "diagnostics_system",
            "document_system",
            "rewrite_user",
            "diagnostics_user",
            "document_user",
            "go_test_system",
            "go_test_user",
            "simplify_system",
            "simplify_user",
            "fix_typos_system",
            "fix_typos_user",
            "custom",
        ),
        "cli": ("default_system", "explain_system"),
    }
)

#: Sections hexai reads for features hexai.nvim does not have (tmux, MCP ...).
#: They are accepted as they are so a hexai config loads unchanged.
HEXAI_ONLY_SECTIONS: tuple[str, ...] = (
    "logging",
    "inline",
    "chat",
    "tmux",
    "tmux_action",
    "tmux_edit",
    "mcp",
    "yousearch",
)

#: Every top-level section we understand (for "did you mean").
SECTIONS: tuple[str, ...] = (
    "general",
    "completion",
    "triggers",
    "provider",
    *BUILTIN,
    "models",
    "prompts",
    "stats",
    "arena",
    "providers",
    "engine",
    "ui",
    "ignore",
    *HEXAI_ONLY_SECTIONS,
)

#: hexai's old flat top-level keys -> the section they belong in now.
LEGACY_FLAT_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "max_tokens": "[general] max_tokens",
        "context_mode": "[general] context_mode",
        "context_window_lines": "[general] context_window_lines",
        "max_context_tokens": "[general] max_context_tokens",
        "coding_temperature": "[general] coding_temperature",
        "log_preview_limit": "[logging] log_preview_limit",
        "completion_debounce_ms": "[completion] completion_debounce_ms",
        "completion_throttle_ms": "[completion] completion_throttle_ms",
        "manual_invoke_min_prefix": "[completion] manual_invoke_min_prefix",
        "trigger_characters": "[triggers] trigger_characters",
        "inline_open": "[inline] inline_open",
        "inline_close": "[inline] inline_close",
        "chat_suffix": "[chat] chat_suffix",
        "chat_prefixes": "[chat] chat_prefixes",
        "provider": "[provider] name",
        "openai_model": "[openai] model",
        "openai_base_url": "[openai] base_url",
        "openai_temperature": "[openai] temperature",
        "openrouter_model": "[openrouter] model",
        "openrouter_base_url": "[openrouter] base_url",
        "openrouter_temperature": "[openrouter] temperature",
        "ollama_model": "[ollama] model",
        "ollama_base_url": "[ollama] base_url",
        "ollama_temperature": "[ollama] temperature",
        "anthropic_model": "[anthropic] model",
        "anthropic_base_url": "[anthropic] base_url",
        "anthropic_temperature": "[anthropic] temperature",
    }
)

#: hexai's flat top-level keys that hexai itself ignores (not in its list of
#: rejected keys): loaded with a warning instead of refused.
IGNORED_FLAT_KEYS: Mapping[str, str] = MappingProxyType(
    {"request_timeout": "[general] request_timeout"}
)

#: ``[ignore]`` (hexai 0.42): files matching are never sent to a model.
IGNORE: Mapping[str, Any] = MappingProxyType(
    {"gitignore": True, "extra_patterns": (), "lsp_notify_ignored": True}
)

#: ``[tmux] custom_menu_hotkey`` may not take these keys of hexai's tmux menu.
TMUX_MENU_HOTKEYS: tuple[str, ...] = ("r", "i", "c", "t", "p", "s")
#: ``scope`` values of a custom code action ("" means selection).
CUSTOM_ACTION_SCOPES: tuple[str, ...] = ("selection", "diagnostics")

#: Project files come from whatever repository you open; they may not run
#: commands or pick environment variables to send to a server.
PROJECT_FORBIDDEN_PROVIDER_KEYS: tuple[str, ...] = ("api_key_cmd", "api_key_env")

PROJECT_FILENAME = ".hexaiconfig.toml"
