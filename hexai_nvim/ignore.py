"""hexai's ``[ignore]``: which files are never sent to a model.

A file is ignored when the repository's ignore files ignore it (``gitignore``:
every ``.gitignore`` from the repository root down to the file's directory,
and ``.git/info/exclude``) or when one of ``extra_patterns`` matches it. Both
use gitignore's pattern rules: ``#`` comments, ``!`` re-includes, a trailing
``/`` matches directories only, a ``/`` at the start or in the middle anchors
the pattern to the ignore file's directory, ``*``, ``?``, ``[a-z]`` and
``**`` as a whole path component. As in git, a file inside an ignored
directory cannot be re-included.

``extra_patterns`` are anchored at the repository root (the nearest directory
up from the file that holds ``.git``); outside a repository at the
filesystem root, so ``"/home/me/private/"`` works there too. The user's global
git excludes (``core.excludesFile``) are not read: git's config is never run
or parsed, so a hostile repository cannot make this code execute anything.

Matching never backtracks exponentially (a hostile ``.gitignore`` cannot
stall the host): paths are matched component by component, each component
with a linear-time wildcard match. Ignore files are read once and read again
when their size or modification time changes (checked at most once per
:data:`RESTAT_S`).
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hexai_nvim.config.model import IgnoreSettings

#: How long a directory's ignore file (or the absence of one) is trusted without a stat.
RESTAT_S = 1.0
#: Ignore files bigger than this are read only up to it; longer lines are skipped.
MAX_FILE_BYTES = 1 << 20
MAX_LINE_CHARS = 4096


# -- one component: * ? [..] \x --------------------------------------------------

class _Wild(enum.Enum):
    STAR = "*"
    ANY = "?"


_STAR, _ANY = _Wild.STAR, _Wild.ANY


@dataclass(frozen=True)
class _CharClass:
    negate: bool
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        return any(lo <= char <= hi for lo, hi in self.ranges) != self.negate


#: A token of one component: a wildcard, a literal character or a class.
_Token = _Wild | str | _CharClass


def _tokens(component: str) -> tuple[_Token, ...]:
    out: list[_Token] = []
    i, n = 0, len(component)
    while i < n:
        c = component[i]
        if c == "\\" and i + 1 < n:
            out.append(component[i + 1])
            i += 2
        elif c == "*":
            if not out or out[-1] is not _STAR:  # ** inside a component is one *
                out.append(_STAR)
            i += 1
        elif c == "?":
            out.append(_ANY)
            i += 1
        elif c == "[":
            parsed = _char_class(component, i)
            if parsed is None:  # no closing bracket: a literal [
                out.append("[")
                i += 1
            else:
                cls, i = parsed
                out.append(cls)
        else:
            out.append(c)
            i += 1
    return tuple(out)


def _char_class(text: str, start: int) -> tuple[_CharClass, int] | None:
    i = start + 1
    negate = i < len(text) and text[i] in "!^"
    if negate:
        i += 1
    ranges: list[tuple[str, str]] = []
    first = True
    while i < len(text):
        c = text[i]
        if c == "]" and not first:
            return _CharClass(negate, tuple(ranges)), i + 1
        if c == "\\" and i + 1 < len(text):
            i += 1
            c = text[i]
        if i + 2 < len(text) and text[i + 1] == "-" and text[i + 2] != "]":
            ranges.append((c, text[i + 2]))
            i += 3
        else:
            ranges.append((c, c))
            i += 1
        first = False
    return None


def _one(token: _Token, char: str) -> bool:
    if token is _ANY:
        return char != "/"
    if isinstance(token, str):
        return token == char
    return isinstance(token, _CharClass) and token.matches(char)


def _match_component(tokens: Sequence[_Token], name: str) -> bool:
    """Wildcard match in O(len(tokens) * len(name)): one remembered star."""
    t = i = 0
    star, mark = -1, 0
    while i < len(name):
        if t < len(tokens) and tokens[t] is _STAR:
            star, mark = t, i
            t += 1
        elif t < len(tokens) and _one(tokens[t], name[i]):
            t += 1
            i += 1
        elif star >= 0:
            t, mark = star + 1, mark + 1
            i = mark
        else:
            return False
    while t < len(tokens) and tokens[t] is _STAR:
        t += 1
    return t == len(tokens)


# -- one pattern ------------------------------------------------------------------

_GLOBSTAR = ("**",)  # a whole component "**": zero or more components


@dataclass(frozen=True)
class Rule:
    """One pattern line of an ignore file (or one of ``extra_patterns``)."""

    #: Where it came from, for the message: ``".gitignore:3"``, ``"extra_patterns"``.
    source: str
    text: str
    negate: bool
    dir_only: bool
    #: Directory the pattern is relative to, as components from the anchor.
    base: tuple[str, ...]
    parts: tuple[tuple[_Token, ...], ...]

    def matches(self, path: Sequence[str], is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if tuple(path[: len(self.base)]) != self.base or len(path) == len(self.base):
            return False
        return _match_parts(self.parts, tuple(path[len(self.base):]))


def _match_parts(parts: Sequence[tuple[_Token, ...]], path: Sequence[str]) -> bool:
    """``**`` components match zero or more path components; O(parts * path)."""
    # reach[j]: the first ``p`` pattern parts can match the first j path components.
    reach = [True] + [False] * len(path)
    for part in parts:
        nxt = [False] * (len(path) + 1)
        if part == _GLOBSTAR:
            seen = False
            for j in range(len(path) + 1):
                seen = seen or reach[j]
                nxt[j] = seen
        else:
            for j in range(len(path)):
                if reach[j] and _match_component(part, path[j]):
                    nxt[j + 1] = True
        reach = nxt
        if not any(reach):
            return False
    return reach[len(path)]


def parse_rule(line: str, base: tuple[str, ...], source: str) -> Rule | None:
    """One ignore-file line as a rule; None for blanks, comments and nothing."""
    if len(line) > MAX_LINE_CHARS:
        return None
    text = line.rstrip("\n").rstrip("\r")
    # Trailing spaces are dropped unless escaped with a backslash.
    while text.endswith(" ") and not text.endswith("\\ "):
        text = text[:-1]
    if not text or text.startswith("#"):
        return None
    shown = text
    negate = text.startswith("!")
    if negate or text.startswith(("\\!", "\\#")):  # "!x" re-includes; "\\!x" is "!x"
        text = text[1:]
    dir_only = text.endswith("/") and not text.endswith("\\/")
    text = text.rstrip("/")
    if not text:
        return None
    anchored = "/" in text
    components = [c for c in text.split("/") if c]
    if not components:
        return None
    parts: list[tuple[_Token, ...]] = []
    if not anchored:
        parts.append(_GLOBSTAR)
    for comp in components:
        if comp == "**":
            if not parts or parts[-1] != _GLOBSTAR:
                parts.append(_GLOBSTAR)
        else:
            parts.append(_tokens(comp))
    if components[-1] == "**":  # "abc/**": everything inside, not abc itself
        parts.append((_STAR,))
    return Rule(source, shown, negate, dir_only, base, tuple(parts))


def parse_rules(text: str, base: tuple[str, ...], source: str) -> list[Rule]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        rule = parse_rule(line, base, f"{source}:{number}")
        if rule is not None:
            rules.append(rule)
    return rules


def _decide(rules: Sequence[Rule], path: Sequence[str], is_dir: bool) -> Rule | None:
    """The last rule matching ``path``: it decides (a negated one re-includes)."""
    for rule in reversed(rules):
        if rule.matches(path, is_dir):
            return rule
    return None


# -- files on disk ------------------------------------------------------------------


@dataclass
class _Cached:
    checked: float
    key: tuple[int, int] | None
    value: object


@dataclass
class IgnoreRules:
    """``[ignore]`` of one configuration, with its ignore files cached."""

    settings: IgnoreSettings
    clock: Callable[[], float] = time.monotonic
    _files: dict[str, _Cached] = field(default_factory=dict)
    _roots: dict[str, _Cached] = field(default_factory=dict)
    _extra: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._extra = [rule for text in self.settings.extra_patterns
                       if (rule := parse_rule(text, (), "extra_patterns")) is not None]

    def reason(self, path: str) -> str | None:
        """Why ``path`` (absolute) is never sent to a model, or None when it may be.

        Example: ``'secrets/ in .gitignore:3'``."""
        if not path or not os.path.isabs(path):
            return None
        path = os.path.normpath(path)
        root = self._repo_root(os.path.dirname(path))
        anchor = root if root is not None else os.sep
        rel = os.path.relpath(path, anchor).split(os.sep)
        found = _walk(self._extra, rel)
        if found is None and self.settings.gitignore and root is not None:
            # Every ignore file from the root down to the file's directory; a
            # deeper one comes later and so decides (a rule only applies below
            # its own directory).
            rules = self._read(os.path.join(root, ".git", "info", "exclude"), (),
                               ".git/info/exclude")
            for depth in range(len(rel)):
                sub = tuple(rel[:depth])
                rules = rules + self._read(os.path.join(root, *sub, ".gitignore"), sub,
                                           "/".join((*sub, ".gitignore")))
            found = _walk(rules, rel)
        return None if found is None else f"{found.text} in {found.source}"

    def _fresh(self, cache: dict[str, _Cached], key: str) -> _Cached | None:
        hit = cache.get(key)
        if hit is not None and self.clock() - hit.checked < RESTAT_S:
            return hit
        return None

    def _repo_root(self, directory: str) -> str | None:
        hit = self._fresh(self._roots, directory)
        if hit is not None:
            return hit.value  # type: ignore[return-value]
        found, current = None, directory
        while True:
            if os.path.lexists(os.path.join(current, ".git")):
                found = current
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        self._roots[directory] = _Cached(self.clock(), None, found)
        return found

    def _read(self, path: str, base: tuple[str, ...], source: str) -> list[Rule]:
        hit = self._fresh(self._files, path)
        if hit is not None:
            return hit.value  # type: ignore[return-value]
        try:
            st = os.stat(path)
            key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        old = self._files.get(path)
        if old is not None and old.key == key:
            old.checked = self.clock()
            return old.value  # type: ignore[return-value]
        rules: list[Rule] = []
        if key is not None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read(MAX_FILE_BYTES)
                rules = parse_rules(data.decode("utf-8", errors="replace"), base, source)
            except OSError:
                rules = []
        self._files[path] = _Cached(self.clock(), key, rules)
        return rules


def _walk(rules: Sequence[Rule], rel: Sequence[str]) -> Rule | None:
    """The deciding rule for ``rel`` and its directories (one rule list)."""
    found = None
    for depth in range(len(rel)):
        is_dir = depth < len(rel) - 1
        found = _decide(rules, rel[: depth + 1], is_dir)
        if found is not None and not found.negate and is_dir:
            return found
    return found if found is not None and not found.negate else None
