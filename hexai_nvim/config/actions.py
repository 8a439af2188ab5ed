"""hexai's rules for ``[[prompts.code_action.custom]]`` and ``[tmux] custom_menu_hotkey``.

A config that breaks one of them is refused, like hexai does (on a reload the
old config stays). The messages are hexai's, without its ``config:`` prefix
(our problems name the key path instead). Unlike hexai, every broken action is
reported, not only the first.

What a caller may rely on: each function returns ``(field, message)`` pairs,
``field`` being the key of the action the problem is about ("" for the whole
action); an empty list means valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hexai_nvim.config.defaults import CUSTOM_ACTION_SCOPES, TMUX_MENU_HOTKEYS

Found = tuple[str, str]


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return value.strip() if isinstance(value, str) else ""


def action_problems(item: Mapping[str, Any]) -> list[Found]:
    """What is wrong with one custom action on its own (ids and hotkeys not compared)."""
    ident = _text(item, "id")
    if not ident:
        return [("id", "custom action missing required field id")]
    shown = str(item.get("id", "")).strip()
    found: list[Found] = []
    if not _text(item, "title"):
        found.append(("title", f"custom action {shown} missing required field title"))
    scope = _text(item, "scope")
    if scope and scope not in CUSTOM_ACTION_SCOPES:
        found.append(("scope", f"custom action {shown} has invalid scope: {item.get('scope')}"))
    has_instruction, has_user = bool(_text(item, "instruction")), bool(_text(item, "user"))
    if has_instruction and has_user:
        found.append(("", f"custom action {shown} must set either instruction or user, not both"))
    elif not has_instruction and not has_user:
        found.append(("", f"custom action {shown} requires instruction or user"))
    hotkey = _text(item, "hotkey")
    if hotkey and len(hotkey) != 1:
        found.append(("hotkey", f"custom action {shown} hotkey must be a single character"))
    return found


def actions_problems(items: Sequence[Any]) -> list[tuple[int, str, str]]:
    """``(index, field, message)`` for every problem of the list, duplicates included.

    Ids and hotkeys are compared case-insensitively; the later one of a pair is
    the one reported.
    """
    found: list[tuple[int, str, str]] = []
    ids: set[str] = set()
    hotkeys: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue  # the type check reports it
        own = action_problems(item)
        found += [(index, name, message) for name, message in own]
        ident = _text(item, "id").lower()
        if ident:
            if ident in ids:
                found.append((index, "id", f"duplicate custom action id: {item['id']}"))
            ids.add(ident)
        hotkey = _text(item, "hotkey")
        if len(hotkey) == 1:
            if hotkey.lower() in hotkeys:
                found.append((index, "hotkey", f"duplicate custom action hotkey: {hotkey}"))
            hotkeys.add(hotkey.lower())
    return found


def tmux_hotkey_problem(value: Any) -> str | None:
    """hexai's check of ``[tmux] custom_menu_hotkey`` (a key of its tmux menu)."""
    hotkey = value.strip() if isinstance(value, str) else ""
    if not hotkey:
        return None
    if len(hotkey) != 1:
        return f"invalid tmux.custom_menu_hotkey: {hotkey}"
    if hotkey.lower() in TMUX_MENU_HOTKEYS:
        return f"invalid tmux.custom_menu_hotkey: {hotkey} (clashes with built-in)"
    return None
