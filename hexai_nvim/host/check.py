"""Host handlers of ``:HexaiConfigCheck``, ``:checkhealth hexai`` and ``:HexaiConfigReload``.

RPC methods (Lua → host):

- ``check.run`` (notification) ``{id, probe?: bool, timeout_s?: number}``:
  run the check; answers arrive as ``require('hexai.check').on_lines(id,
  lines)`` (the static report first, then one call per probed entry as it
  finishes) and ``on_done(id, summary)``. Every line is ``{level, text,
  section}`` with ``level`` ``OK``, ``WARN`` or ``ERROR``;
- ``check.info`` (request): versions of the Python side (for the health check);
- ``config.reload`` (notification): re-read the configuration; shows hexai's
  diff summary, or the problems while the last good configuration keeps
  running. Also calls ``require('hexai.check').on_reload({ok, message})``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

from hexai_nvim import __version__
from hexai_nvim.host.rpc import Payload, method
from hexai_nvim.host.runtime import ERROR, INFO, Runtime

# hexai_nvim.surfaces.check (providers, probes) and importlib.metadata are
# imported inside the handlers: Neovim waits while the host imports this module.
if TYPE_CHECKING:
    from hexai_nvim.surfaces.check import CheckLine, ProbeResult

LUA_MODULE = "hexai.check"
#: Longest overall probe a caller may ask for.
MAX_PROBE_TIMEOUT_S = 120.0


def _timeout(value: Any) -> float:
    from hexai_nvim.surfaces.check import DEFAULT_PROBE_TIMEOUT_S

    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(min(value, MAX_PROBE_TIMEOUT_S))
    return DEFAULT_PROBE_TIMEOUT_S


def _lines(lines: list[CheckLine]) -> list[dict[str, str]]:
    return [line.to_lua() for line in lines]


@method("check.run")
def check_run(rt: Runtime, payload: Payload) -> None:
    from hexai_nvim.config.files import global_config_path
    from hexai_nvim.engine.core import Engine
    from hexai_nvim.surfaces.check import (
        key_statuses,
        probe_all,
        probe_targets,
        static_report,
        summary,
    )

    request_id = payload.get("id")
    probe = payload.get("probe", True) is not False
    timeout_s = _timeout(payload.get("timeout_s"))
    config = rt.config
    error = rt.config_error
    config_path = rt.config_path

    async def go() -> None:
        keys, _values = await asyncio.to_thread(key_statuses, config, os.environ)
        global_path = global_config_path(config_path, os.environ).path
        report = static_report(config, error, keys, global_path=global_path)
        rt.lua(LUA_MODULE, "on_lines", request_id, _lines(report))
        everything = list(report)
        if probe:
            targets = probe_targets(config)
            rt.lua(LUA_MODULE, "on_probe_start", request_id,
                   {"count": len(targets), "timeout_s": timeout_s})

            def arrived(result: ProbeResult) -> None:
                everything.extend(result.lines)
                rt.lua(LUA_MODULE, "on_lines", request_id, _lines(result.lines))

            # Its own engine: the same key policy and scrubber as every
            # request, but probes leave no stats behind.
            engine = Engine(config, env=os.environ)
            try:
                await probe_all(targets, engine, timeout_s=timeout_s, on_result=arrived)
            finally:
                await engine.close()
        rt.lua(LUA_MODULE, "on_done", request_id, summary(everything).to_lua())

    rt.spawn(go(), what="config check")


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@method("check.info")
def check_info(rt: Runtime, payload: Payload) -> dict[str, Any]:
    """Versions and paths of the Python side (no network, no aiohttp import)."""
    return {
        "hexai_nvim": __version__,
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "pynvim": _version("pynvim"),
        "aiohttp": _version("aiohttp"),
        "config_path": rt.config_path,
        "config_ok": rt.config_error is None,
    }


@method("config.reload")
def config_reload(rt: Runtime, payload: Payload) -> dict[str, Any]:
    outcome = rt.reload()
    rt.notify(outcome.message, INFO if outcome.ok else ERROR)
    answer = {"ok": outcome.ok, "message": outcome.message}
    rt.lua(LUA_MODULE, "on_reload", answer)
    return answer
