"""``[ignore]`` in the host: the one place a surface asks whether a file may be sent.

:func:`ignored` judges a file (see :mod:`hexai_nvim.ignore` for the rules) and,
for a completion nobody asked for explicitly, tells the person once per file;
:func:`refuse_ignored` is for explicit requests (an ask with a range, a code
action): it always says why nothing was sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hexai_nvim.host.rpc import per_runtime
from hexai_nvim.host.runtime import INFO, WARN
from hexai_nvim.ignore import IgnoreRules

if TYPE_CHECKING:
    from hexai_nvim.config.model import Config
    from hexai_nvim.host.runtime import Runtime


@dataclass
class _Rules:
    #: The configuration the rules were built from (a reload builds new ones).
    config: Config | None = None
    rules: IgnoreRules | None = None


_state = per_runtime(_Rules)


def ignored(rt: Runtime, path: str, *, tell: str | None = None) -> str | None:
    """Why the file at ``path`` is never sent to a model, or None when it may be.

    ``path`` is the buffer's full name; a relative one is taken from the
    editor's working directory. With ``tell`` (the file's name as shown) the
    person is told once per file, in one short line (unless ``[ignore]
    lsp_notify_ignored`` is false)."""
    if not path:
        return None
    st = _state(rt)
    if st.rules is None or st.config is not rt.config:
        st.config, st.rules = rt.config, IgnoreRules(rt.config.ignore)
    full = os.path.join(rt.cwd or os.getcwd(), os.path.expanduser(path))
    reason = st.rules.reason(full)
    if reason is not None and tell is not None and rt.config.ignore.lsp_notify_ignored:
        rt.notify(f"hexai: {os.path.basename(tell)}: not sent ([ignore] {reason})", INFO,
                  once=f"ignored:{full}")
    return reason


def refuse_ignored(rt: Runtime, context: Mapping[str, Any], what: str) -> bool:
    """True (and the person told why) when ``[ignore]`` keeps the file of an
    explicit request from every model. ``context`` has ``file`` (the full
    name) and/or ``filename`` (as shown)."""
    name = context.get("file") or context.get("filename")
    reason = ignored(rt, name) if isinstance(name, str) else None
    if reason is None:
        return False
    shown = context.get("filename") or name
    rt.notify(f"hexai: {what} not sent: {shown} is never sent to models ([ignore] {reason}; "
              ":help hexai-config-ignore)", WARN)
    return True
