"""The host writes its own bytecode (quietly: its stdout is the RPC channel)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from hexai_nvim.host.runtime import write_bytecode


def package(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("VALUE = 1\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "b.py").write_text("def f():\n    return 2\n")
    return root


def cached(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def test_missing_or_stale_bytecode_is_written_even_without_bytecode_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE
    root = package(tmp_path)
    assert write_bytecode(str(root))
    for source in (root / "a.py", root / "sub" / "b.py"):
        assert cached(source).is_file()
    before = cached(root / "a.py").stat().st_mtime_ns
    (root / "a.py").write_text("VALUE = 22\n")
    os.utime(root / "a.py", ns=(before + 10**9, before + 10**9))
    assert write_bytecode(str(root))
    assert cached(root / "a.py").stat().st_mtime_ns > before
    assert capfd.readouterr() == ("", "")


def test_a_read_only_install_is_left_alone_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import py_compile

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")  # what a read-only folder answers

    monkeypatch.setattr(py_compile, "compile", refuse)
    root = package(tmp_path)
    assert write_bytecode(str(root)) is False
    assert not cached(root / "a.py").exists()
    assert capfd.readouterr() == ("", "")


def test_a_syntax_error_is_not_printed(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = package(tmp_path)
    (root / "broken.py").write_text("def (:\n")
    assert write_bytecode(str(root)) is False
    assert cached(root / "a.py").is_file()
    assert capfd.readouterr() == ("", "")
