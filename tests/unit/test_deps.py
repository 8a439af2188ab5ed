"""hexai_nvim.deps: the private dependency folder the shim puts on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hexai_nvim import deps

REPO = Path(__file__).resolve().parents[2]


def test_requirements_are_pyprojects_without_pynvim() -> None:
    reqs = deps.requirements(REPO)
    names = {deps._name(r) for r in reqs}
    assert {"aiohttp", "voluptuous"} <= names
    assert "pynvim" not in names  # the provider's own


def test_the_python_310_reader_agrees_with_tomllib() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert [r for r in deps._dependencies_array(text) if deps._name(r) != "pynvim"] == \
        deps.requirements(REPO)


def test_add_to_path_puts_the_interpreters_folder_after_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [str(tmp_path), "/elsewhere"])
    assert deps.add_to_path(tmp_path) is None  # nothing installed: nothing added
    folder = deps.target(tmp_path)
    folder.mkdir(parents=True)
    assert deps.add_to_path(tmp_path) == folder
    assert sys.path == [str(tmp_path), str(folder), "/elsewhere"]
    assert folder.name == sys.implementation.cache_tag


def test_a_failing_pip_raises_with_its_output_and_keeps_the_old_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["surely-not-a-package-hexai>=1"]\n')
    old = deps.target(tmp_path)
    old.mkdir(parents=True)
    (old / "kept").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path), PIP_CONFIG_FILE=os.devnull)
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
            f"from hexai_nvim import deps; deps.install(Path({str(tmp_path)!r}))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "pip could not install hexai.nvim's dependencies" in done.stderr
    assert "surely-not-a-package-hexai" in done.stderr
    assert (old / "kept").exists()
    assert sorted(p.name for p in old.parent.iterdir()) == [old.name]  # no staging left


def test_deps_script_runs_with_the_standard_library_only() -> None:
    done = subprocess.run([sys.executable, "-I", "-S", str(REPO / "hexai_nvim" / "deps.py"),
                           "requirements"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "aiohttp" in done.stdout and "pynvim" not in done.stdout
