"""Property: whatever TOML (or editor table) comes in, the loader either returns
a Config or raises ConfigError — never another exception, never an internal error."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexai_nvim.config import Config, ConfigError, load_config
from hexai_nvim.config.example import EXAMPLE_TOML
from tests.unit.config_fixtures import HEXAI_GLOBAL, HEXAI_PROJECT, THREE_MISTAKES

WORKDIR = Path(tempfile.mkdtemp(prefix="hexai-config-property-"))
SEEDS = [EXAMPLE_TOML, HEXAI_GLOBAL, HEXAI_PROJECT, THREE_MISTAKES]

#: Keys worth hitting: every section and key we know plus near misses.
KEYS = [
    "general", "completion", "triggers", "provider", "openai", "openrouter", "anthropic",
    "ollama", "models", "prompts", "stats", "providers", "engine", "ui", "logging", "chat",
    "ask", "cli", "code_action", "max_tokens", "max_context_tokens", "request_timeout",
    "context_mode", "context_window_lines", "coding_temperature", "completion_debounce_ms",
    "completion_wait_all", "timeout_ms", "trigger_characters", "name", "model", "base_url",
    "temperature", "presets", "kind", "api_key_env", "api_key_cmd", "headers",
    "max_concurrency", "stream", "label", "window_minutes", "retries", "ask_layout",
    "disabled_filetypes", "custom", "system", "lan", "a:b", "", "genral", "modle",
]

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["openai", "ollama", "olama", "window", "stack", "http://h:1/v1", "x:y"]),
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)
tables = st.dictionaries(
    st.sampled_from(KEYS), st.dictionaries(st.sampled_from(KEYS), values, max_size=5), max_size=5
)


def structured_toml(data: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, table in data.items():
        lines.append(f"[{json.dumps(section)}]")
        lines += [f"{json.dumps(key)} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start, min(len(text), start + 30)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        noise = draw(st.text(alphabet='[]{}=."\'#,\n 0123456789abcxyz-_:', max_size=8))
        if action == "delete":
            text = text[:start] + text[end:]
        elif action == "insert":
            text = text[:start] + noise + text[start:]
        elif action == "replace":
            text = text[:start] + noise + text[end:]
        else:
            text = text[:end] + text[start:end] + text[end:]
    return text


def check_only_config_error(text: str, **kwargs: Any) -> None:
    path = WORKDIR / "config.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        result = load_config(str(path), cwd=str(WORKDIR), **{"env": {}, **kwargs})
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "internal error" not in problem.message, problem
        return
    assert isinstance(result, Config)


FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check_only_config_error(text.encode("utf-8", "replace").decode("utf-8"))


@FAST
@given(mutated())
def test_mutated_configs(text: str) -> None:
    check_only_config_error(text)


@FAST
@given(tables)
def test_structured_tables_of_known_and_unknown_keys(data: dict[str, dict[str, Any]]) -> None:
    check_only_config_error(structured_toml(data))


#: What a Lua table may turn into: also nil, integer keys, nested odd values.
editor_values = st.recursive(
    st.one_of(scalars, st.none(), st.binary(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.integers(0, 3)), inner, max_size=4),
    ),
    max_leaves=12,
)


@FAST
@given(st.dictionaries(st.sampled_from(KEYS), editor_values, max_size=5), st.text(max_size=40))
def test_editor_tables_and_env_lists(editor: dict[str, Any], models: str) -> None:
    check_only_config_error(
        "", editor=editor, env={"HEXAI_MODELS_COMPLETION": models, "HEXAI_MAX_TOKENS": models}
    )
