"""Code actions: hexai's built-in and custom actions, prompts, entries, answer cleaning."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.surfaces.code_action import (
    ActionContext,
    actions_for,
    build_action_request,
    clean_answer,
    code_action_entry,
    custom_actions,
    extra_entries_warning,
    find_action,
    render_template,
)

SPEC = ProviderSpec(name="openai", kind="openai", base_url="http://127.0.0.1:1/v1")


def entry(model: str, index: int = 0) -> Entry:
    return Entry(surface="code_action", index=index, provider=SPEC, model=model,
                 temperature=0.3, label=f"openai:{model}", max_tokens=500,
                 timeout_ms=1000, stream=True)


def config(prompts: dict[str, Any] | None = None, entries: tuple[Entry, ...] = ()) -> Config:
    return Config(
        general=General(), completion=CompletionSettings(), engine=EngineSettings(),
        providers=MappingProxyType({"openai": SPEC}),
        models=MappingProxyType({"code_action": entries}),
        prompts=MappingProxyType(prompts or {}),
    )


CUSTOM = {
    "code_action": {
        "custom": [
            {"id": "extract", "title": "Extract function", "instruction": "Extract a function"},
            {"id": "fix-lints", "title": "Fix linters", "scope": "diagnostics",
             "system": "SYS {{file}}", "user": "D:{{diagnostics}} S:{{selection}}"},
        ]
    }
}


def test_builtins_come_first_then_custom_in_config_order() -> None:
    ids = [a.id for a in actions_for(config(CUSTOM), has_diagnostics=True)]
    assert ids == ["rewrite", "document", "diagnostics", "simplify", "extract", "fix-lints"]


def test_diagnostics_scope_is_offered_only_with_diagnostics() -> None:
    ids = [a.id for a in actions_for(config(CUSTOM), has_diagnostics=False)]
    assert ids == ["rewrite", "document", "simplify", "extract"]


def test_only_rewrite_asks_for_an_instruction() -> None:
    asking = [a.id for a in actions_for(config(CUSTOM), has_diagnostics=True) if a.asks_instruction]
    assert asking == ["rewrite"]


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"title": "t", "instruction": "i"}, "missing required field id"),
        ({"id": "x", "instruction": "i"}, "missing required field title"),
        ({"id": "x", "title": "t"}, "requires instruction or user"),
        ({"id": "x", "title": "t", "instruction": "i", "user": "u"}, "not both"),
        ({"id": "x", "title": "t", "instruction": "i", "scope": "file"}, "invalid scope: file"),
        ({"id": "x", "title": 3, "instruction": "i"}, "must be a string"),
        ({"id": "Simplify", "title": "t", "instruction": "i"}, "duplicate custom action id"),
    ],
)
def test_invalid_custom_actions_are_reported_with_their_path(item: dict[str, Any],
                                                             fragment: str) -> None:
    actions, problems = custom_actions({"code_action": {"custom": [item]}})
    assert actions == ()
    assert any(fragment in p.message for p in problems), problems
    assert all(p.path.startswith("prompts.code_action.custom[0]") for p in problems)


def test_duplicate_ids_are_case_insensitive_and_the_first_one_wins() -> None:
    actions, problems = custom_actions({"code_action": {"custom": [
        {"id": "Extract", "title": "A", "instruction": "a"},
        {"id": "extract", "title": "B", "instruction": "b"},
    ]}})
    assert [a.title for a in actions] == ["A"]
    assert problems[0].path == "prompts.code_action.custom[1].id"


def test_custom_must_be_an_array() -> None:
    actions, problems = custom_actions({"code_action": {"custom": "nope"}})
    assert actions == () and "array of tables" in problems[0].message


def test_render_template_keeps_unknown_placeholders() -> None:
    assert render_template("{{ a }}-{{b}}-{{c}}", {"a": "1", "b": "2"}) == "1-2-{{c}}"


def test_rewrite_request_carries_the_instruction_and_selection() -> None:
    cfg = config()
    action = find_action(cfg, "rewrite")
    assert action is not None
    ctx = ActionContext("x = 1", instruction="use y", filetype="python")
    req = build_action_request(action, ctx, entry("m"), cfg)
    assert req.messages[0].role == "system"
    user = req.messages[1].content
    assert "use y" in user and "x = 1" in user and "python" in user
    assert req.max_tokens == 500 and req.temperature == 0.3


def test_config_templates_replace_builtin_ones() -> None:
    cfg = config({"code_action": {"document_system": "DOCSYS",
                                  "document_user": "DOC<{{selection}}>"}})
    action = find_action(cfg, "document")
    assert action is not None
    req = build_action_request(action, ActionContext("a()"), entry("m"), cfg)
    assert req.messages[0].content == "DOCSYS"
    assert req.messages[1].content == "DOC<a()>"


def test_custom_with_user_uses_its_own_templates() -> None:
    cfg = config(CUSTOM)
    action = find_action(cfg, "FIX-LINTS")
    assert action is not None
    ctx = ActionContext("code", diagnostics=("line 1: error: boom",), filename="a.py")
    req = build_action_request(action, ctx, entry("m"), cfg)
    assert req.messages[0].content == "SYS a.py"
    assert req.messages[1].content == "D:line 1: error: boom S:code"


def test_custom_with_instruction_goes_through_the_rewrite_templates() -> None:
    cfg = config({"code_action": {**CUSTOM["code_action"], "rewrite_user": "I={{instruction}}"}})
    action = find_action(cfg, "extract")
    assert action is not None
    req = build_action_request(action, ActionContext("code"), entry("m"), cfg)
    assert req.messages[1].content == "I=Extract a function"


def test_only_the_first_entry_is_used_and_extras_are_counted() -> None:
    first, extra = code_action_entry(config(entries=(entry("a"), entry("b", 1), entry("c", 2))))
    assert first is not None and first.model == "a" and extra == 2
    assert extra_entries_warning(extra) == (
        "models.code_action supports a single entry; ignoring 2 extra"
    )
    assert code_action_entry(config()) == (None, 0)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("x = 2\n", "x = 2"),
        ("```python\nx = 2\n```", "x = 2"),
        ("Here you go:\n\n```\nx = 2\ny = 3\n```\nThanks", "x = 2\ny = 3"),
        ("\n\n  indented()\n\n", "  indented()"),
        ("```\nunterminated", "unterminated"),
    ],
)
def test_clean_answer(answer: str, expected: str) -> None:
    assert clean_answer(answer) == expected
