"""The commented example config: the one source of ``hexai config init`` and of
``doc/config.example.toml`` (regenerate that with
``python -m hexai_nvim.config.example > doc/config.example.toml``; a test checks
the two are equal and that the example loads without problems or warnings).
"""

from __future__ import annotations

import sys

EXAMPLE_TOML = """\
# hexai.nvim configuration — also a valid config for the Go tool hexai.
#
# Global file: $XDG_CONFIG_HOME/hexai/config.toml (usually ~/.config/hexai/config.toml),
#   or the file named by $HEXAI_CONFIG or `hexai config ... --config PATH`.
# Project file: .hexaiconfig.toml at the root of a git repository; it overrides
#   the global file for that repository (same format, write only what differs).
# Precedence, lowest first: built-in defaults < global file < project file
#   < HEXAI_* environment variables < the editor's require("hexai").setup{...}.
# Tables merge key by key; lists (such as [[models.completion]]) replace whole.
#
# Check it with `hexai config check`, see the effective values and where each
# came from with `hexai config show`.

[general]
max_tokens = 4000              # default max_tokens of every entry
max_context_tokens = 4000
request_timeout = 600          # seconds; default deadline of ask/code_action entries
context_mode = "always-full"   # minimal | window | file-on-new-func | always-full
context_window_lines = 120
coding_temperature = 0.2       # temperature of entries that set none (before a provider's
                               # own temperature, which is used only when this is 0;
                               # OpenAI gpt-5* models always get 1.0)

[completion]
completion_debounce_ms = 800   # idle ms before completion requests go out
completion_throttle_ms = 0     # min ms between requests (0: off)
manual_invoke_min_prefix = 0
completion_wait_all = true     # hexai (LSP): wait for all; hexai.nvim shows each answer as it comes
timeout_ms = 4000              # hexai.nvim: deadline of one completion entry (ms)

[triggers]
trigger_characters = [".", ":", "/", "_"]

[provider]
name = "ollama"                # default provider: ollama | openai | openrouter | anthropic
                               # (or the name of a [providers.NAME] table)

# hexai's provider sections: default model, base URL and temperature.
# API keys come from the environment: HEXAI_OPENAI_API_KEY or OPENAI_API_KEY,
# likewise OPENROUTER, ANTHROPIC and OLLAMA (Ollama Cloud needs OLLAMA_API_KEY,
# a local Ollama none).
[openai]
model = "gpt-4.1"
base_url = "https://api.openai.com/v1"

[openrouter]
model = "openrouter/auto"
base_url = "https://openrouter.ai/api/v1"

[anthropic]
model = "claude-3-5-sonnet-20240620"
base_url = "https://api.anthropic.com/v1"

[ollama]
model = "kimi-k2.6"
base_url = "https://ollama.com"   # Ollama Cloud; a local Ollama: "http://localhost:11434"

# Entries per surface: completion, chat (:HexaiAsk in the editor), cli (`hexai ask`
# in a terminal), ask (hexai.nvim: both of those) and code_action (one entry only).
# :HexaiAsk uses chat, `hexai ask` uses cli; ask, or whichever of the two is set,
# serves the other.
# Three forms:   completion = "gpt-4.1-mini"           (a model of the default provider)
#                [models.code_action] provider = ...    (one table)
#                [[models.completion]] ...              (several; order kept, first is primary)
# Entry keys: provider, model, temperature, fallback_provider, fallback_model (tried
# once when the entry fails), and ours: label (default "provider:model"),
# max_tokens, timeout_ms, stream (true/false).
[[models.completion]]
provider = "openai"
model = "gpt-4.1-mini"
# fallback_provider = "ollama"             # when openai fails: once on ollama:gpt-oss:20b
# fallback_model = "gpt-oss:20b"

# A second completion entry runs side by side with the first:
# [[models.completion]]
# provider = "ollama"
# model = "qwen2.5-coder:7b"
# label = "local"
# timeout_ms = 4000

[[models.ask]]
provider = "openai"
model = "gpt-4.1"

# [[models.ask]]
# provider = "anthropic"
# temperature = 0.4

[models.code_action]
provider = "openai"
model = "gpt-4.1"

# hexai.nvim: named providers, so one kind can run twice (two Ollama hosts,
# llama.cpp next to LM Studio ...). Kinds: openai, openai-compatible, openrouter,
# llamacpp, mistral, anthropic, ollama. An entry names them like a
# built-in one: provider = "lmstudio".
# [providers.lmstudio]
# kind = "openai-compatible"
# base_url = "http://localhost:1234/v1"     # required for openai-compatible
# model = "qwen2.5-coder-7b-instruct"       # default model of this provider
# api_key_env = "LMSTUDIO_API_KEY"          # or a list; tried in order
# # api_key_cmd = "pass show lmstudio"      # or: first line of this command's output
# headers = { "X-Team" = "editor" }
# max_concurrency = 1                       # requests in flight to this provider
# timeout_ms = 30000
# stream = true
# fim = "auto"                              # completion: auto | off | completions | infill
#                                           # | mistral | ollama (auto: the kind's own)
#
# [providers.llama]
# kind = "llamacpp"                         # llama-server; FIM through /infill
# base_url = "http://127.0.0.1:8080/v1"
#
# [providers.gpu-box]
# kind = "ollama"
# base_url = "http://gpu-box.lan:11434"
# model = "qwen2.5-coder:32b"

# hexai.nvim: limits of the engine that runs the entries side by side.
[engine]
max_concurrency = 8            # requests in flight overall
connect_timeout_ms = 5000
first_token_timeout_ms = 0     # 0: no separate deadline for the first token
retries = 2                    # on connection errors and HTTP 429/5xx, with back-off
max_answer_bytes_completion = 262144  # a completion answer is cut (labelled) past this
max_answer_bytes = 4194304     # the same for ask and code action (an entry may set its own)
breaker_failures = 3           # a provider failing this often within breaker_window_ms ...
breaker_window_ms = 60000
breaker_cooldown_ms = 30000    # ... is skipped (no request sent) for this long (0 failures: off)

# hexai's [ignore]: files matching are never sent to a model (no completion there;
# :HexaiAsk with a range and code actions from them are refused).
[ignore]
gitignore = true               # skip what the repository's .gitignore files ignore
extra_patterns = []            # more gitignore-style patterns, e.g. ["*.pem", "secrets/"]
lsp_notify_ignored = true      # say so (once per file) when a file is skipped

# hexai.nvim: editor options (read by the Lua side).
[ui]
ask_layout = "auto"            # auto (columns when each gets 60 cells) | stacked | columns
completion_layout = "stack"    # stack | cycle
auto_trigger = true
default_keymaps = true
disabled_filetypes = []
ghost_text = true

[stats]
window_minutes = 60

# hexai.nvim: the arena, which model is better for you (:help hexai-arena).
[arena]
record = true                  # record what you choose among 2+ different suggestions
blind = false                  # labels A/B/C, shuffled, timings hidden until you choose
store_text = false             # also keep suggestion/prompt text (else hashes and lengths)
provisional_battles = 30       # fewer battles: the score is marked "?"

# USD per million input/output tokens; overrides the shipped table (2025-06 list prices).
# [arena.prices]
# "openai:gpt-4.1-mini" = { input = 0.40, output = 1.60 }

# Environment (beats the files):
#   HEXAI_PROVIDER, HEXAI_MAX_TOKENS, HEXAI_REQUEST_TIMEOUT, HEXAI_CODING_TEMPERATURE,
#   HEXAI_COMPLETION_DEBOUNCE_MS, HEXAI_TRIGGER_CHARACTERS=".,:" ...
#   HEXAI_OPENAI_MODEL / _BASE_URL / _TEMPERATURE (likewise OPENROUTER, ANTHROPIC, OLLAMA)
#   HEXAI_MODEL_<S>, HEXAI_PROVIDER_<S>, HEXAI_TEMPERATURE_<S>: one entry for surface <S>
#   HEXAI_MODELS_<S>="ollama:qwen2.5-coder:7b,openai:gpt-4.1-mini": a whole list
#     (<S>: COMPLETION, CHAT, CLI, ASK, CODE_ACTION; ASK sets both CHAT and CLI)
#   HEXAI_IGNORE_GITIGNORE, HEXAI_IGNORE_EXTRA_PATTERNS, HEXAI_IGNORE_LSP_NOTIFY
"""


def main() -> int:
    sys.stdout.write(EXAMPLE_TOML)
    return 0


if __name__ == "__main__":
    sys.exit(main())
