"""The ``[ui]`` options as the Lua side uses them, folded here so Lua only draws.

``[ui]`` has hexai.nvim's flat keys (``completion_layout``, ``auto_trigger``,
``ghost_text``, ``disabled_filetypes``) and the option tables of the Lua
modules (``[ui.completion]``, ``[ui.ask]``, validated key by key in
:mod:`hexai_nvim.config.schema`). What a caller may rely on:

- :func:`completion_options` gives the options of ``hexai.completion`` that
  the configuration sets: the flat keys first, ``[ui.completion]`` over them.
  Only what is set appears; Lua puts its defaults under it and
  ``setup({ completion = ... })`` over it.
- No heavy imports: the host calls this while pushing settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def completion_options(ui: Mapping[str, Any]) -> dict[str, Any]:
    """``hexai.completion`` options from ``[ui]`` (see the module docstring)."""
    out: dict[str, Any] = {}
    if "completion_layout" in ui:
        out["layout"] = ui["completion_layout"]
    if "auto_trigger" in ui:
        out["auto_trigger"] = bool(ui["auto_trigger"])
    if ui.get("ghost_text") is False:
        out["display"] = "none"
    disabled = ui.get("disabled_filetypes") or ()
    if disabled:
        out["filetypes"] = {str(ft): False for ft in disabled}
    table = ui.get("completion")
    if isinstance(table, Mapping):
        for key, value in table.items():
            if key == "filetypes" and isinstance(value, Mapping):
                out["filetypes"] = {**out.get("filetypes", {}), **value}
            elif key == "keymaps" and isinstance(value, Mapping):
                out["keymaps"] = dict(value)
            else:
                out[str(key)] = value
    return out
