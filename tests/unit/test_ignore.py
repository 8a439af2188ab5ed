"""[ignore]: which files are never sent to a model (hexai_nvim/ignore.py).

The table below is what real git (2.39.5, ``git check-ignore --no-index``)
answered for the same repository: our matcher must agree with git.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hexai_nvim.config.model import IgnoreSettings
from hexai_nvim.ignore import IgnoreRules, parse_rule

ROOT_GITIGNORE = """\
# comment
*.log
!keep.log
/build
secrets/
docs/**/*.tmp
a/**/z
\\#hash
\\!bang
""" + "trail\\ \n" + """*.py[co]
cache/**
node_modules
sub/exact.txt
"""

#: path -> ignored, as git 2.39.5 answered (see the module docstring).
GIT_SAYS = {
    "x.log": True, "keep.log": False, "pkg/keep.log": False, "pkg/x.log": False,
    "deep/x.log": True, "build": True, "build/out.o": True, "src/build": False,
    "src/build/x": False, "secrets/key": True, "a/secrets/key": True, "secrets": False,
    "docs/a/b/c.tmp": True, "docs/c.tmp": True, "other/docs/c.tmp": False,
    "a/z": True, "a/b/z": True, "a/b/c/z": True, "a/b/c/zz": False,
    "#hash": True, "!bang": True, "trail ": True, "trail": False,
    "m.pyc": True, "m.pyo": True, "m.pyx": False,
    "cache/x": True, "cache": False, "cache/a/b": True,
    "node_modules/x/y.js": True, "a/node_modules/y.js": True,
    "sub/exact.txt": True, "x/sub/exact.txt": False,
    "pkg/local.txt": True, "local.txt": False, "pkg/anchored.md": True,
    "pkg/x/anchored.md": False, "anchored.md": False,
    "excluded-by-info": True, "q/excluded-by-info": True, "main.c": False,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git" / "info").mkdir(parents=True)
    (root / ".git" / "info" / "exclude").write_text("excluded-by-info\n")
    (root / ".gitignore").write_text(ROOT_GITIGNORE)
    (root / "pkg").mkdir()
    (root / "pkg" / ".gitignore").write_text("local.txt\n!*.log\n/anchored.md\n")
    return root


def test_agrees_with_git_on_every_path(repo: Path) -> None:
    rules = IgnoreRules(IgnoreSettings())
    ours = {p: rules.reason(str(repo / p)) is not None for p in GIT_SAYS}
    assert ours == GIT_SAYS


def test_the_reason_names_the_pattern_and_where_it_is(repo: Path) -> None:
    rules = IgnoreRules(IgnoreSettings())
    assert rules.reason(str(repo / "a" / "secrets" / "key")) == "secrets/ in .gitignore:5"
    assert rules.reason(str(repo / "pkg" / "local.txt")) == "local.txt in pkg/.gitignore:1"
    assert rules.reason(str(repo / "q" / "excluded-by-info")) == (
        "excluded-by-info in .git/info/exclude:1")
    assert rules.reason(str(repo / "main.c")) is None


def test_gitignore_false_reads_no_ignore_file(repo: Path) -> None:
    rules = IgnoreRules(IgnoreSettings(gitignore=False))
    assert all(rules.reason(str(repo / p)) is None for p in GIT_SAYS)


def test_extra_patterns_apply_with_or_without_a_repository(repo: Path, tmp_path: Path) -> None:
    settings = IgnoreSettings(gitignore=False,
                              extra_patterns=("*.pem", "private/", "/conf/local.toml"))
    rules = IgnoreRules(settings)
    assert rules.reason(str(repo / "certs" / "server.pem")) == "*.pem in extra_patterns"
    assert rules.reason(str(repo / "x" / "private" / "notes.md")) == (
        "private/ in extra_patterns")
    assert rules.reason(str(repo / "conf" / "local.toml")) is not None  # anchored at the root
    assert rules.reason(str(repo / "x" / "conf" / "local.toml")) is None
    outside = tmp_path / "loose" / "id.pem"
    assert rules.reason(str(outside)) is not None
    absolute = IgnoreRules(IgnoreSettings(extra_patterns=(str(tmp_path / "loose") + "/",)))
    assert absolute.reason(str(outside)) is not None  # outside a repo: from the filesystem root
    assert absolute.reason(str(tmp_path / "other" / "id.pem")) is None


def test_no_repository_means_no_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*\n")
    assert IgnoreRules(IgnoreSettings()).reason(str(tmp_path / "a.txt")) is None


def test_relative_or_empty_paths_are_not_judged(repo: Path) -> None:
    rules = IgnoreRules(IgnoreSettings(extra_patterns=("*",)))
    assert rules.reason("") is None
    assert rules.reason("x.log") is None


def test_a_changed_gitignore_is_read_again(repo: Path) -> None:
    now = [0.0]
    rules = IgnoreRules(IgnoreSettings(), clock=lambda: now[0])
    target = str(repo / "main.c")
    assert rules.reason(target) is None
    (repo / ".gitignore").write_text(ROOT_GITIGNORE + "main.c\n")
    stat = os.stat(repo / ".gitignore")
    os.utime(repo / ".gitignore", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert rules.reason(target) is None  # within RESTAT_S: the cached rules
    now[0] = 5.0
    assert rules.reason(target) == "main.c in .gitignore:15"


def test_a_hostile_pattern_cannot_stall_the_matcher(repo: Path) -> None:
    # A backtracking regex takes ages on this (each * retried at every position).
    (repo / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n")
    rules = IgnoreRules(IgnoreSettings())
    assert rules.reason(str(repo / ("a" * 250))) is None
    assert rules.reason(str(repo / ("a" * 249 + "b"))) is not None


@pytest.mark.parametrize("line", ["", "   ", "# c", "!", "/", "//"])
def test_lines_that_are_no_pattern(line: str) -> None:
    assert parse_rule(line, (), "x") is None


def test_character_classes() -> None:
    rule = parse_rule("file[0-9!].[!c]", (), "x")
    assert rule is not None
    assert rule.matches(["file7.h"], False)
    assert rule.matches(["file!.h"], False)
    assert not rule.matches(["file7.c"], False)
    assert not rule.matches(["filex.h"], False)


#: A second repository: ``**/`` at the start, ``*/`` one level, re-including in a
#: directory, ``[]]``, a directory ignored and re-included (git 2.39.5 again).
SECOND_GITIGNORE = "**/foo\n*/x\nlib/*.c\n!lib/keep.c\nlogs/\n!logs/important\n[]]br\nout/\n!out/\n"
GIT_SAYS_SECOND = {
    "foo": True, "a/foo": True, "a/b/foo/c": True, "x": False, "a/x": True, "a/b/x": False,
    "lib/a.c": True, "lib/keep.c": False, "lib/sub/a.c": False, "logs/important": True,
    "logs/other": True, "]br": True, "out/x": True, "q/out/y": False,
}


def test_agrees_with_git_on_a_second_repository(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(SECOND_GITIGNORE)
    rules = IgnoreRules(IgnoreSettings())
    assert {p: rules.reason(str(tmp_path / p)) is not None for p in GIT_SAYS_SECOND} == (
        GIT_SAYS_SECOND)
