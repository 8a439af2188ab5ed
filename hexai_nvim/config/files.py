"""Finding and reading the config files (hexai's places and precedence).

* global: ``--config PATH`` > ``$HEXAI_CONFIG`` > ``$XDG_CONFIG_HOME/hexai/config.toml``
  > ``~/.config/hexai/config.toml``;
* project: ``.hexaiconfig.toml`` at the git root found by walking up from the
  working directory (a ``.git`` file counts, for worktrees).

Reading never raises: a missing, unreadable or malformed file becomes a
:class:`~hexai_nvim.config.model.Problem` with the file, line and column.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hexai_nvim.config.defaults import PROJECT_FILENAME
from hexai_nvim.config.model import Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef]


@dataclass(frozen=True)
class GlobalPath:
    path: str | None
    #: True when the user named the file (``--config``, ``HEXAI_CONFIG``): then a
    #: missing file is a problem, not just "no global config".
    explicit: bool


def global_config_path(config_path: str | None, env: Mapping[str, str]) -> GlobalPath:
    """Where the global file is, by hexai's rules plus ``HEXAI_CONFIG``.

    ``env`` is consulted for ``HEXAI_CONFIG``, ``XDG_CONFIG_HOME`` and ``HOME``
    only; without either of the last two there is no default global file.
    """
    if config_path:
        return GlobalPath(os.path.expanduser(config_path), True)
    named = env.get("HEXAI_CONFIG", "").strip()
    if named:
        return GlobalPath(os.path.expanduser(named), True)
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        return GlobalPath(os.path.join(xdg, "hexai", "config.toml"), False)
    home = env.get("HOME", "").strip()
    if home:
        return GlobalPath(os.path.join(home, ".config", "hexai", "config.toml"), False)
    return GlobalPath(None, False)


def find_git_root(cwd: str) -> str | None:
    """The nearest directory at or above ``cwd`` holding ``.git`` (dir or file)."""
    directory = os.path.abspath(cwd)
    while True:
        marker = os.path.join(directory, ".git")
        if os.path.isdir(marker) or os.path.isfile(marker):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def project_config_path(cwd: str) -> str | None:
    """``<git root>/.hexaiconfig.toml`` if that file exists."""
    root = find_git_root(cwd)
    if root is None:
        return None
    path = os.path.join(root, PROJECT_FILENAME)
    return path if os.path.isfile(path) else None


_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_END = re.compile(r"\s*\(at end of document\)\s*$")


def read_toml(path: str) -> tuple[dict[str, Any] | None, Problem | None]:
    """The parsed file, or a problem naming the file (and line/column for syntax)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None, Problem("", "file not found", file=path)
    except IsADirectoryError:
        return None, Problem("", "is a directory, not a file", file=path)
    except OSError as exc:
        return None, Problem("", f"cannot read: {exc.strerror or exc}", file=path)
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Problem("", "invalid TOML: not UTF-8 text", path, line, column)
    return parse_toml(content, path)


def parse_toml(content: str, path: str) -> tuple[dict[str, Any] | None, Problem | None]:
    try:
        return tomllib.loads(content), None
    except tomllib.TOMLDecodeError as exc:
        return None, _syntax_problem(exc, content, path)
    except (ValueError, RecursionError, OverflowError) as exc:  # defensive: odd inputs
        return None, Problem("", f"invalid TOML: {exc}", file=path)


def _syntax_problem(exc: Exception, content: str, path: str) -> Problem:
    message = str(exc.args[0]) if exc.args else str(exc)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    match = _POSITION.search(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    elif _END.search(message):
        message = _END.sub("", message) + " at end of file"
        line = content.count("\n") + 1
        column = len(content) - content.rfind("\n")
    return Problem("", f"invalid TOML: {message}", file=path, line=line, column=column)
