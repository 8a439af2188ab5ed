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
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True)
class TomlFile:
    """A read file: its table, or the problem that prevented reading it."""

    path: str
    data: dict[str, Any] | None
    problem: Problem | None
    text: str = ""


def read_toml(path: str) -> TomlFile:
    """The parsed file, or a problem naming the file (and line/column for syntax)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return TomlFile(path, None, Problem("", "file not found", file=path))
    except IsADirectoryError:
        return TomlFile(path, None, Problem("", "is a directory, not a file", file=path))
    except OSError as exc:
        return TomlFile(path, None, Problem("", f"cannot read: {exc.strerror or exc}", file=path))
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return TomlFile(path, None, Problem("", "invalid TOML: not UTF-8 text", path, line, column))
    data, problem = parse_toml(content, path)
    return TomlFile(path, data, problem, content)


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


# --------------------------------------------------------------------------- key positions

Position = tuple[int, int]
_BARE_KEY = r'[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY_PATH = re.compile(rf"^\s*((?:{_BARE_KEY})(?:\s*\.\s*(?:{_BARE_KEY}))*)\s*=")
_HEADER = re.compile(rf"^\s*(\[\[?)\s*((?:{_BARE_KEY})(?:\s*\.\s*(?:{_BARE_KEY}))*)\s*\]\]?")
_PART = re.compile(_BARE_KEY)


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for match in _PART.finditer(dotted):
        token = match.group(0)
        if token[0] == '"':
            token = token[1:-1].encode("utf-8").decode("unicode_escape", "replace")
        elif token[0] == "'":
            token = token[1:-1]
        parts.append(token)
    return tuple(parts)


def key_positions(content: str) -> dict[tuple[str | int, ...], Position]:
    """Best-effort map from key paths to (line, column) where they are written.

    Array-of-tables get their index (``("models", "completion", 1, "provider")``).
    Used only to point messages at a line; anything odd is simply not mapped.
    """
    positions: dict[tuple[str | int, ...], Position] = {}
    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(content.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        key = None if header else _KEY_PATH.match(line)
        if header:
            parts = _key_parts(header.group(2))
            if header.group(1) == "[[":
                counts[parts] = counts.get(parts, -1) + 1
                table = (*parts, counts[parts])
            else:
                table = parts
            positions.setdefault(table, (number, header.start(2) + 1))
        elif key:
            path = (*table, *_key_parts(key.group(1)))
            positions.setdefault(path, (number, key.start(1) + 1))
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_multiline = quote
                break
    return positions


def locator(content: str) -> Callable[[tuple[str | int, ...]], Position | None]:
    """A function giving the position of a key path, or of its nearest written parent."""
    positions = key_positions(content)

    def locate(path: tuple[str | int, ...]) -> Position | None:
        for cut in range(len(path), 0, -1):
            found = positions.get(path[:cut])
            if found is not None:
                return found
        return None

    return locate
