"""The ask surface: prompts and context into a Request."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.surfaces.ask import (
    DEFAULT_CLI_SYSTEM,
    DEFAULT_EDITOR_SYSTEM,
    DEFAULT_EXPLAIN_SYSTEM,
    AskContext,
    build_ask_request,
    render,
)

SPEC = ProviderSpec(name="openai", kind="openai", base_url="http://127.0.0.1:9")
ENTRY = Entry(
    surface="ask",
    index=0,
    provider=SPEC,
    model="m",
    temperature=0.7,
    label="openai:m",
    max_tokens=321,
    timeout_ms=1000,
    stream=True,
)


def cfg(prompts: dict[str, Any] | None = None) -> Config:
    return Config(
        general=General(),
        completion=CompletionSettings(),
        engine=EngineSettings(),
        providers=MappingProxyType({"openai": SPEC}),
        models=MappingProxyType({"ask": (ENTRY,)}),
        prompts=MappingProxyType(prompts or {}),
    )


def test_plain_question_uses_the_cli_default_and_the_entry_settings() -> None:
    request = build_ask_request("list files", ENTRY, cfg())
    system, user = request.messages
    assert (system.role, system.content) == ("system", DEFAULT_CLI_SYSTEM)
    assert (user.role, user.content) == ("user", "list files")
    assert request.max_tokens == 321 and request.temperature == 0.7


def test_explain_picks_the_explain_system_prompt() -> None:
    request = build_ask_request("Explain tar flags", ENTRY, cfg())
    assert request.messages[0].content == DEFAULT_EXPLAIN_SYSTEM
    # "explain" must be a word, not a part of one
    request = build_ask_request("unexplained crash", ENTRY, cfg())
    assert request.messages[0].content == DEFAULT_CLI_SYSTEM


def test_hexai_cli_and_chat_templates_are_used() -> None:
    prompts = {
        "cli": {"default_system": "CLI SYS", "explain_system": "EXPLAIN SYS"},
        "chat": {"system": "CHAT SYS"},
    }
    assert build_ask_request("hi", ENTRY, cfg(prompts)).messages[0].content == "CLI SYS"
    assert build_ask_request("explain x", ENTRY, cfg(prompts)).messages[0].content == (
        "EXPLAIN SYS"
    )
    ctx = AskContext("print(1)\n", "a.py", "python")
    assert build_ask_request("hi", ENTRY, cfg(prompts), ctx).messages[0].content == "CHAT SYS"


def test_editor_context_goes_in_a_fence_that_its_backticks_cannot_close() -> None:
    ctx = AskContext("x = 1\n```\nnot the end\n", "notes.md", "markdown")
    request = build_ask_request("what is x?", ENTRY, cfg(), ctx)
    assert request.messages[0].content == DEFAULT_EDITOR_SYSTEM
    user = request.messages[1].content
    assert user.startswith(
        "File: notes.md (markdown)\n\n````markdown\nx = 1\n```\nnot the end\n````"
    )
    assert user.endswith("\n\nwhat is x?")


def test_our_ask_templates_win_and_fill_placeholders() -> None:
    prompts = {
        "ask": {
            "system": "You help with {{filetype}}.",
            "user": "{{file}}:\n{{context}}\nQ: {{prompt}} {{nope}}",
        },
        "cli": {"default_system": "ignored"},
    }
    ctx = AskContext("body {{prompt}}", "f.go", "go")
    request = build_ask_request("why?", ENTRY, cfg(prompts), ctx)
    assert request.messages[0].content == "You help with go."
    # Values are not re-expanded; unknown placeholders stay visible.
    assert request.messages[1].content == "f.go:\nbody {{prompt}}\nQ: why? {{nope}}"


def test_render_accepts_spaces_inside_braces() -> None:
    assert render("{{ a }}-{{b}}", {"a": "1", "b": "2"}) == "1-2"
