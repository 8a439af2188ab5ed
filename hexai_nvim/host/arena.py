"""Host handlers of the arena: the ``:HexaiStats`` view, ``:HexaiAskExport``.

RPC methods (Lua -> host, notifications):

- ``arena.show`` ``{days?}``: read the outcome store in a worker thread (the
  editor never waits on the file) and send the leaderboard's lines to
  ``require('hexai.arena').show(lines, title)``;
- ``ask.export`` ``{path?}``: the last ask as Markdown
  (:mod:`hexai_nvim.surfaces.export`): written to ``path``, else sent to
  ``require('hexai.arena').open_markdown(lines)`` for a new buffer.
"""

from __future__ import annotations

import asyncio
import logging
import os

from hexai_nvim.host.rpc import Payload, method
from hexai_nvim.host.runtime import ERROR, INFO, WARN, Runtime

log = logging.getLogger("hexai_nvim.host.arena")

LUA_MODULE = "hexai.arena"


def _days(payload: Payload) -> float | None:
    raw = payload.get("days")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = float(raw)
        except ValueError:
            return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    return None


@method("arena.show")
def arena_show(rt: Runtime, payload: Payload) -> None:
    """Open (or refresh) the ``:HexaiStats`` view with the leaderboard."""
    days = _days(payload)
    config = rt.config

    async def go() -> None:
        from hexai_nvim.arena.report import arena_board, arena_text

        board = await asyncio.to_thread(arena_board, config, days=days)
        rt.lua(LUA_MODULE, "show", arena_text(board, days).split("\n"))

    rt.spawn(go(), what="arena leaderboard")


@method("ask.export")
def ask_export(rt: Runtime, payload: Payload) -> bool:
    """The last ask as Markdown, to ``payload['path']`` or a new buffer."""
    from hexai_nvim.host.ask import state
    from hexai_nvim.surfaces.export import ask_markdown

    run = state(rt).current
    if run is None or not run.results:
        rt.notify("hexai: nothing to export yet: ask something with :HexaiAsk first", WARN)
        return False
    results = [run.results[i] for i in sorted(run.results)]
    context = run.context.filename if run.context is not None else ""
    text = ask_markdown(run.prompt, results, vote=run.vote, context_name=context)
    if run.running:
        text += "\n_(exported while some entries were still running)_\n"
    path = payload.get("path")
    if isinstance(path, str) and path.strip():
        target = os.path.expanduser(path.strip())
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            rt.notify(f"hexai: cannot write {target}: {exc.strerror or exc}", ERROR)
            return False
        rt.notify(f"hexai: comparison written to {target}", INFO)
        return True
    rt.lua(LUA_MODULE, "open_markdown", text.split("\n"))
    return True


