"""The ask surface: turn a question (and maybe some editor text) into a Request.

Used by ``hexai ask`` and by ``:HexaiAsk``. The same function serves every
entry of the ``ask`` surface; it takes the entry so that ``max_tokens`` and
``temperature`` are that entry's.

Prompts, first match wins:

1. ``[prompts.ask]`` (ours): ``system`` and ``user`` templates;
2. hexai's own tables: without editor context ``[prompts.cli]``
   (``explain_system`` when the question contains the word "explain", else
   ``default_system``); with editor context ``[prompts.chat] system``;
3. built-in defaults below.

Templates use ``{{name}}`` placeholders: ``{{prompt}}``, ``{{context}}``,
``{{file}}``/``{{filename}}``, ``{{filetype}}``. Unknown placeholders are left
as written so a typo is visible in the answer rather than silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hexai_nvim.config.model import Config, Entry
from hexai_nvim.providers.base import Message, Request

DEFAULT_CLI_SYSTEM = (
    "You answer questions from a terminal. Be brief and direct. When the answer "
    "is a command or code, give it first, without commentary unless asked."
)
DEFAULT_EXPLAIN_SYSTEM = (
    "You answer questions from a terminal. The user asked for an explanation: "
    "explain clearly and completely, with the reasoning, and include commands "
    "or code where they help."
)
DEFAULT_EDITOR_SYSTEM = (
    "You are a coding assistant inside a text editor. Answer concisely and "
    "precisely. When you show code, use fenced code blocks in the language of "
    "the file."
)

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_EXPLAIN = re.compile(r"\bexplain\b", re.IGNORECASE)


@dataclass(frozen=True)
class AskContext:
    """Editor text that goes with the question (a selection or a buffer)."""

    text: str
    filename: str = ""
    filetype: str = ""


def render(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` with ``values[name]``; unknown names stay as written."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(sub, template)


def _template(prompts: Mapping[str, Any], table: str, key: str) -> str | None:
    section = prompts.get(table)
    if isinstance(section, Mapping):
        value = section.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def build_ask_request(
    prompt: str, entry: Entry, config: Config, context: AskContext | None = None
) -> Request:
    """The request for one entry of the ask surface.

    The system message comes first; the user message holds the question and,
    when given, the editor text in a fenced block named after its filetype.
    """
    prompts = config.prompts
    values = {
        "prompt": prompt,
        "context": context.text if context else "",
        "file": context.filename if context else "",
        "filename": context.filename if context else "",
        "filetype": context.filetype if context else "",
    }
    system = _template(prompts, "ask", "system")
    if system is None:
        if context is None:
            if _EXPLAIN.search(prompt):
                system = _template(prompts, "cli", "explain_system") or DEFAULT_EXPLAIN_SYSTEM
            else:
                system = _template(prompts, "cli", "default_system") or DEFAULT_CLI_SYSTEM
        else:
            system = _template(prompts, "chat", "system") or DEFAULT_EDITOR_SYSTEM
    user_template = _template(prompts, "ask", "user")
    if user_template is not None:
        user = render(user_template, values)
    elif context is not None and context.text:
        user = _with_context(prompt, context)
    else:
        user = prompt
    return Request(
        messages=(Message("system", render(system, values)), Message("user", user)),
        max_tokens=entry.max_tokens,
        temperature=entry.temperature,
    )


def _with_context(prompt: str, context: AskContext) -> str:
    # A fence longer than any backtick run in the text, so code that itself
    # holds fenced blocks (Markdown, docstrings) cannot end ours early.
    longest = max((len(run) for run in re.findall(r"`+", context.text)), default=0)
    fence = "`" * max(3, longest + 1)
    name = context.filename or "(unnamed)"
    kind = f" ({context.filetype})" if context.filetype else ""
    body = context.text if context.text.endswith("\n") else context.text + "\n"
    return f"File: {name}{kind}\n\n{fence}{context.filetype}\n{body}{fence}\n\n{prompt}"
