"""Host handlers of ``:HexaiCodeAction``: one selection, one action, ONE entry.

RPC methods (Lua → host):

- ``code_action.list`` (request) ``{has_diagnostics}`` → ``{entry, actions}``:
  the label of the entry that will answer and the actions to offer;
- ``code_action.run`` (notification) ``{id, action, selection, diagnostics,
  filename, filetype, instruction}``: run one action;
- ``code_action.cancel`` (notification): stop the running action.

Host → Lua (``require('hexai.code_action')``): ``on_started(id, {label,
title})`` then ``on_result(id, result)`` where ``result`` is the entry's
state, the one every surface sends
(:class:`~hexai_nvim.surfaces.entry_state.EntryState`), and the action's
``title``: ``status`` ``ok`` with ``text`` (the replacement, fences removed)
and ``stats``; ``empty`` (the model answered with no code), ``error`` or
``cancelled`` with ``error_kind`` and ``error_message``.

Like hexai, only the first ``code_action`` entry is used; when the config
lists more, hexai's warning is shown once per session (the config loader
records it; this module repeats it under the same key when an action runs, so
it is never shown twice).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hexai_nvim.host.ignore import refuse_ignored
from hexai_nvim.host.rpc import Payload, method, per_runtime
from hexai_nvim.host.runtime import ERROR, WARN, Runtime
from hexai_nvim.surfaces.entry_state import EntryState, result_state
from hexai_nvim.surfaces.format import format_result

if TYPE_CHECKING:
    from hexai_nvim.engine.results import EntryResult

# hexai_nvim.surfaces.code_action (and the providers it imports) is imported
# inside the handlers: Neovim waits while the host imports this module.

LUA_MODULE = "hexai.code_action"


@dataclass
class _State:
    task: asyncio.Task[Any] | None = None


_state = per_runtime(_State)


def warn_extra_entries(rt: Runtime) -> None:
    """hexai's "single entry" warning, at most once per session."""
    from hexai_nvim.surfaces.code_action import (
        EXTRA_ENTRIES_WARNING,
        code_action_entry,
        extra_entries_warning,
    )

    mark = EXTRA_ENTRIES_WARNING.split("{n}", 1)[0]
    for warning in rt.config.warnings:
        if mark in warning:
            # Same key as the runtime's notice of config warnings: shown once in all.
            rt.notify(f"hexai: {warning}", WARN, once=f"warn:{warning}")
            return
    _entry, extra = code_action_entry(rt.config)
    if extra:
        warning = extra_entries_warning(extra)
        rt.notify(f"hexai: {warning}", WARN, once=f"warn:{warning}")


def result_payload(result: EntryResult, text: str, title: str) -> dict[str, Any]:
    """What Lua is told about a finished action: the entry state of ``result``
    (``text`` the cleaned answer; ``empty`` when it holds no code) and the title."""
    state = result_state(result, text=text, stats=format_result(result), full_error=True)
    if state.status == "ok" and not text.strip():
        state.status = "empty"
        state.error_kind = "bad_response"
        state.error_message = "the model answered with no code"
    return {**state.to_lua(), "title": title}


def cancelled_payload(label: str, key: str, title: str) -> dict[str, Any]:
    """What Lua is told about an action stopped before its answer."""
    state = EntryState(index=0, label=label, key=key, status="cancelled",
                       error_kind="cancelled", error_message="cancelled",
                       stop_reason="cancelled")
    return {**state.to_lua(), "title": title}


@method("code_action.list")
def list_actions(rt: Runtime, payload: Payload) -> dict[str, Any]:
    from hexai_nvim.surfaces.code_action import actions_for, code_action_entry

    entry, _extra = code_action_entry(rt.config)
    actions = actions_for(rt.config, has_diagnostics=bool(payload.get("has_diagnostics")))
    return {
        "entry": entry.label if entry is not None else None,
        "actions": [a.to_lua() for a in actions],
    }


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str))


def _text(payload: Payload, name: str) -> str:
    value = payload.get(name)
    return value if isinstance(value, str) else ""


@method("code_action.run")
def run_action(rt: Runtime, payload: Payload) -> bool:
    """Start one action; False (and a message) when it cannot run."""
    from hexai_nvim.surfaces.code_action import (
        ActionContext,
        build_action_request,
        clean_answer,
        code_action_entry,
        find_action,
    )

    request_id = payload.get("id")
    config = rt.config
    action = find_action(config, _text(payload, "action"))
    if action is None:
        rt.notify(f"hexai: unknown code action {payload.get('action')!r}", ERROR)
        return False
    entry, _extra = code_action_entry(config)
    if entry is None:
        rt.notify("hexai: no code_action entry is configured", ERROR)
        return False
    warn_extra_entries(rt)
    if refuse_ignored(rt, payload, "code action"):
        return False
    context = ActionContext(
        selection=_text(payload, "selection"),
        diagnostics=_strings(payload.get("diagnostics")),
        filename=_text(payload, "filename"),
        filetype=_text(payload, "filetype"),
        instruction=_text(payload, "instruction").strip(),
    )
    if action.asks_instruction and not context.instruction:
        rt.notify("hexai: rewriting needs an instruction", WARN)
        return False
    request = build_action_request(action, context, entry, config)
    described = {"label": entry.label, "title": action.title}
    state = _state(rt)
    if state.task is not None and not state.task.done():
        state.task.cancel()  # one action at a time: the newest wins

    async def go() -> None:
        rt.lua(LUA_MODULE, "on_started", request_id, described)
        fan = rt.engine.fan_out([entry], request)
        try:
            (result,) = await fan.wait()
        except asyncio.CancelledError:
            rt.lua(LUA_MODULE, "on_result", request_id,
                   cancelled_payload(entry.label, entry.key, action.title))
            raise
        text = clean_answer(result.text) if result.error is None else ""
        rt.lua(LUA_MODULE, "on_result", request_id, result_payload(result, text, action.title))

    state.task = rt.spawn(go(), what="code action")
    return True


@method("code_action.cancel")
def cancel(rt: Runtime, payload: Payload) -> bool:
    task = _state(rt).task
    if task is None or task.done():
        return False
    task.cancel()
    return True
