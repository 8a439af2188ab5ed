"""Code actions: hexai's built-in actions and its ``[[prompts.code_action.custom]]``.

A code action sends one selection to ONE entry (the first ``code_action``
entry, as hexai does) and proposes a replacement for it. This module knows the
actions and their prompts; it has no UI and no I/O.

What a caller may rely on:

- :func:`actions_for` lists what may be offered for a selection: the built-in
  actions (``rewrite``, ``document``, ``diagnostics``, ``simplify``) then the
  valid custom actions in config order. Actions of scope ``diagnostics`` are
  only offered when the range has diagnostics. Invalid custom actions are left
  out; :func:`custom_actions` says why (as :class:`Problem` values).
- Prompts follow hexai: ``[prompts.code_action]`` ``<action>_system`` /
  ``<action>_user`` replace the built-in templates; a custom action with
  ``user`` uses it (with its ``system`` or the rewrite system prompt); one with
  ``instruction`` goes through the rewrite templates. Placeholders are
  ``{{selection}}``, ``{{diagnostics}}``, ``{{instruction}}`` (hexai's) and
  ``{{file}}``, ``{{filetype}}`` (ours); unknown ones stay as written.
- :func:`clean_answer` turns a model's answer into replacement text (code
  fences removed, as hexai does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hexai_nvim.config.actions import action_problems
from hexai_nvim.config.model import Config, Entry, Problem
from hexai_nvim.providers.base import Message, Request

#: hexai's warning when ``models.code_action`` lists more than one entry.
EXTRA_ENTRIES_WARNING = "models.code_action supports a single entry; ignoring {n} extra"

SCOPES = ("selection", "diagnostics")

# Built-in prompt templates (ours, in hexai's shape: a system and a user template
# per action). Each may be replaced by `[prompts.code_action] <id>_system/_user`.
_DEFAULT_PROMPTS: Mapping[str, str] = {
    "rewrite_system": (
        "You rewrite source code exactly as instructed. Answer with the new code only: "
        "no explanations and no Markdown fences. Keep the original indentation and style "
        "unless the instruction says otherwise."
    ),
    "rewrite_user": "Instruction: {{instruction}}\n\nCode to rewrite:\n{{selection}}",
    "diagnostics_system": (
        "You fix source code so that the listed diagnostics go away. Change only what is "
        "needed, keep behaviour and style, and answer with the corrected code only: no "
        "explanations and no Markdown fences."
    ),
    "diagnostics_user": (
        "Diagnostics in the selected code:\n{{diagnostics}}\n\nSelected code:\n{{selection}}"
    ),
    "document_system": (
        "You add documentation comments to source code in the idiomatic style of its "
        "language. Do not change what the code does. Answer with the documented code "
        "only: no explanations and no Markdown fences."
    ),
    "document_user": "Document this code:\n{{selection}}",
    "simplify_system": (
        "You simplify source code without changing its behaviour: clearer names, less "
        "nesting, no dead code. Answer with the improved code only: no explanations and "
        "no Markdown fences."
    ),
    "simplify_user": "Simplify this code:\n{{selection}}",
}


@dataclass(frozen=True)
class CodeAction:
    """One action that may be offered in the menu."""

    id: str
    title: str
    #: ``selection`` (always offered) or ``diagnostics`` (only with diagnostics).
    scope: str = "selection"
    #: LSP-style kind (hexai's ``kind`` field; informational here).
    kind: str = "refactor"
    #: Fixed instruction rendered through the rewrite templates (custom actions).
    instruction: str | None = None
    #: Own templates (custom actions with ``user``).
    system: str | None = None
    user: str | None = None
    builtin: bool = False
    #: The person types the instruction (built-in ``rewrite``).
    asks_instruction: bool = False

    def to_lua(self) -> dict[str, Any]:
        """What the menu needs (ids, titles, whether to ask for an instruction)."""
        return {
            "id": self.id,
            "title": self.title,
            "scope": self.scope,
            "kind": self.kind,
            "builtin": self.builtin,
            "asks_instruction": self.asks_instruction,
        }


BUILTIN_ACTIONS: tuple[CodeAction, ...] = (
    CodeAction("rewrite", "Rewrite selection…", kind="refactor.rewrite", builtin=True,
               asks_instruction=True),
    CodeAction("document", "Document code", kind="refactor.rewrite", builtin=True),
    CodeAction("diagnostics", "Resolve diagnostics", scope="diagnostics", kind="quickfix",
               builtin=True),
    CodeAction("simplify", "Simplify and improve", kind="refactor.rewrite", builtin=True),
)


@dataclass(frozen=True)
class ActionContext:
    """The selection an action works on."""

    selection: str
    #: One line per diagnostic in the range (``line 3: error: ...``).
    diagnostics: tuple[str, ...] = ()
    filename: str = ""
    filetype: str = ""
    #: What the person typed for ``rewrite`` (empty otherwise).
    instruction: str = ""


# ---------------------------------------------------------------------------
# Custom actions
# ---------------------------------------------------------------------------

_CUSTOM_PATH = "prompts.code_action.custom"


def _code_action_prompts(prompts: Mapping[str, Any]) -> Mapping[str, Any]:
    table = prompts.get("code_action")
    return table if isinstance(table, Mapping) else {}


def custom_actions(
    prompts: Mapping[str, Any],
) -> tuple[tuple[CodeAction, ...], tuple[Problem, ...]]:
    """The valid ``[[prompts.code_action.custom]]`` actions, and what is wrong with the rest.

    Rules (hexai's): ``id`` and ``title`` are required, ids are unique
    (case-insensitive), exactly one of ``instruction`` and ``user`` is set,
    ``scope`` is ``selection`` or ``diagnostics``. An id that names a built-in
    action is refused too, so the menu never holds two actions with one id.
    """
    raw = _code_action_prompts(prompts).get("custom")
    if raw is None:
        return (), ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        message = "must be an array of tables ([[prompts.code_action.custom]])"
        return (), (Problem(_CUSTOM_PATH, message),)
    actions: list[CodeAction] = []
    problems: list[Problem] = []
    seen: set[str] = {a.id for a in BUILTIN_ACTIONS}
    for i, item in enumerate(raw):
        path = f"{_CUSTOM_PATH}[{i}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(path, "must be a table"))
            continue
        action, item_problems = _custom_action(item, path)
        if action is not None and action.id.lower() in seen:
            item_problems.append(Problem(f"{path}.id", f"duplicate custom action id: {action.id}"))
            action = None
        problems.extend(item_problems)
        if action is not None:
            seen.add(action.id.lower())
            actions.append(action)
    return tuple(actions), tuple(problems)


def _text_field(
    item: Mapping[str, Any], name: str, path: str, problems: list[Problem]
) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(Problem(f"{path}.{name}", f"must be a string, not {type(value).__name__}"))
        return None
    return value


def _custom_action(item: Mapping[str, Any], path: str) -> tuple[CodeAction | None, list[Problem]]:
    problems: list[Problem] = []
    ident = _text_field(item, "id", path, problems)
    title = _text_field(item, "title", path, problems)
    kind = _text_field(item, "kind", path, problems) or "refactor"
    scope = _text_field(item, "scope", path, problems) or "selection"
    instruction = _text_field(item, "instruction", path, problems)
    system = _text_field(item, "system", path, problems)
    user = _text_field(item, "user", path, problems)
    typed = {p.path.rsplit(".", 1)[-1] for p in problems}
    # hexai's rules, written once (the config refuses a config that breaks them).
    for name, message in action_problems(item):
        if name not in typed:
            problems.append(Problem(f"{path}.{name}" if name else path, message))
    if problems:
        return None, problems
    assert ident is not None and title is not None
    return CodeAction(ident, title, scope=scope, kind=kind, instruction=instruction or None,
                      system=system or None, user=user or None), problems


def actions_for(config: Config, *, has_diagnostics: bool) -> list[CodeAction]:
    """The actions to offer, built-in first, then the valid custom ones in config order."""
    customs, _problems = custom_actions(config.prompts)
    offered = [*BUILTIN_ACTIONS, *customs]
    return [a for a in offered if a.scope != "diagnostics" or has_diagnostics]


def find_action(config: Config, action_id: str) -> CodeAction | None:
    """The built-in or valid custom action called ``action_id`` (case-insensitive)."""
    customs, _problems = custom_actions(config.prompts)
    for action in (*BUILTIN_ACTIONS, *customs):
        if action.id.lower() == action_id.lower():
            return action
    return None


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


def code_action_entry(config: Config) -> tuple[Entry | None, int]:
    """The entry a code action uses (the first), and how many extra ones are ignored."""
    entries = config.entries("code_action")
    if not entries:
        return None, 0
    return entries[0], len(entries) - 1


def extra_entries_warning(extra: int) -> str:
    return EXTRA_ENTRIES_WARNING.format(n=extra)


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` placeholders; unknown names stay as written."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)


def _template(config: Config, name: str) -> str:
    override = _code_action_prompts(config.prompts).get(name)
    if isinstance(override, str) and override.strip():
        return override
    return _DEFAULT_PROMPTS[name]


def build_action_request(action: CodeAction, context: ActionContext, entry: Entry,
                         config: Config) -> Request:
    """The request of ``action`` on ``context`` for ``entry``."""
    values = {
        "selection": context.selection,
        "diagnostics": "\n".join(context.diagnostics) or "(none)",
        "instruction": context.instruction,
        "file": context.filename,
        "file_name": context.filename,
        "filetype": context.filetype,
    }
    if action.user:
        system = action.system or _template(config, "rewrite_system")
        user_template = action.user
    elif action.instruction is not None or action.id == "rewrite":
        system = action.system or _template(config, "rewrite_system")
        user_template = _template(config, "rewrite_user")
        if action.instruction is not None:
            values["instruction"] = action.instruction
    else:
        system = _template(config, f"{action.id}_system")
        user_template = _template(config, f"{action.id}_user")
    user = render_template(user_template, values)
    if context.filetype and "{{filetype}}" not in user_template:
        # The model writes better code when it knows the language.
        user = f"Language: {context.filetype}\n{user}"
    return Request(
        messages=(Message("system", render_template(system, values)), Message("user", user)),
        max_tokens=entry.max_tokens,
        temperature=entry.temperature,
    )


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")


def clean_answer(text: str) -> str:
    """The replacement text in a model's answer.

    A fenced block wins: the content of the first one is taken (models often
    wrap code in prose despite the prompt). Without fences the whole answer is
    used, with surrounding blank lines removed.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _FENCE.match(line)), None)
    if start is not None:
        marker = _FENCE.match(lines[start])
        assert marker is not None
        end = next((j for j in range(start + 1, len(lines))
                    if lines[j].strip().startswith(marker.group(1))), len(lines))
        lines = lines[start + 1:end]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)
