"""The plugin's private Python dependencies: installed into the checkout, found by the shim.

hexai.nvim runs in the Python that Neovim's python3 provider uses
(``g:python3_host_prog``). That Python often has pynvim and nothing else, and a
distribution's Python refuses ``pip install`` altogether (PEP 668, "externally
managed": Debian's ``/usr/bin/python3`` with ``python3-pynvim`` from apt). So the
other dependencies (aiohttp, voluptuous, tomli on 3.10) are not installed *into*
that Python: they go into ``<checkout>/deps/<cache tag>`` (``pip install
--target``, which PEP 668 leaves alone because it does not touch the
interpreter's own site-packages), and the rplugin shim puts that folder on
``sys.path``. One folder per interpreter tag (``cpython-311``), because aiohttp
has compiled parts; pynvim itself is the provider's and is never installed here.

Runs with the standard library only (the host Python may have nothing else)::

    python3 hexai_nvim/deps.py install            # from the checkout's root
    python3 -m hexai_nvim.deps wheelhouse DIR     # wheels for offline tests

What a caller may rely on:

- :func:`install` replaces the folder only when pip succeeded and the modules
  import from it; on failure the previous folder stays and :class:`DepsError`
  says what failed and what to do.
- :func:`add_to_path` never raises; it adds nothing when the folder is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: Folder (under the checkout) holding one dependency folder per interpreter.
DEPS = "deps"
#: Modules that must import from the folder after an install.
PROBE_MODULES = ("aiohttp", "voluptuous")
#: The provider's own package: never installed into the folder.
PROVIDED = ("pynvim",)


class DepsError(RuntimeError):
    """Installing the dependencies failed; the message says why and what to do."""


def root_of(module_file: str = __file__) -> Path:
    """The checkout's root (the folder holding ``hexai_nvim/``)."""
    return Path(module_file).resolve().parent.parent


def target(root: Path, tag: str | None = None) -> Path:
    """``<root>/deps/<tag>``: this interpreter's dependency folder."""
    return root / DEPS / (tag or sys.implementation.cache_tag or "python")


def add_to_path(root: str | Path) -> Path | None:
    """Put this interpreter's dependency folder on ``sys.path`` (after the checkout)."""
    root = Path(root)
    folder = target(root)
    if not folder.is_dir():
        return None
    text = str(folder)
    if text not in sys.path:
        at = sys.path.index(str(root)) + 1 if str(root) in sys.path else 0
        sys.path.insert(at, text)
    return folder


def requirements(root: Path) -> list[str]:
    """``[project] dependencies`` of ``pyproject.toml``, without the provider's own."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        deps = list(tomllib.loads(text)["project"]["dependencies"])
    else:  # Python 3.10 has no tomllib (and tomli is one of the dependencies)
        deps = _dependencies_array(text)
    return [d for d in deps if _name(d) not in PROVIDED]


def _dependencies_array(text: str) -> list[str]:
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    match = re.search(r"^dependencies\s*=\s*\[(.*?)\]", project, re.S | re.M)
    if match is None:
        raise DepsError("pyproject.toml: no [project] dependencies")
    return [a or b for a, b in re.findall(r'"([^"]*)"|\'([^\']*)\'', match.group(1))]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower()


def _pip(python: str) -> list[str]:
    return [python, "-m", "pip"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # --target cannot be combined with a --user default from the person's pip config.
    env["PIP_USER"] = "0"
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


def install(root: Path, python: str = sys.executable, *, quiet: bool = False) -> Path:
    """Install the dependencies for ``python`` into :func:`target` and check they import.

    ``python`` must be the interpreter the folder is for (the running one by
    default: the folder's tag is computed here).
    """
    folder = target(root)
    has_pip = subprocess.run([*_pip(python), "--version"], capture_output=True, text=True)
    if has_pip.returncode != 0:
        raise DepsError(
            f"{python} has no pip, so hexai.nvim cannot install its dependencies "
            f"(aiohttp, voluptuous). Install pip for it (Debian/Ubuntu: sudo apt install "
            f"python3-pip), or point g:python3_host_prog at a virtual environment that "
            f"has pynvim (python3 -m venv ~/.local/share/nvim/hexai-venv && "
            f"~/.local/share/nvim/hexai-venv/bin/pip install pynvim)."
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        cmd = [*_pip(python), "install", "--no-input", "--upgrade", "--target", str(staging),
               *requirements(root)]
        if quiet:
            cmd.insert(3, "--quiet")
        print("hexai.nvim: " + " ".join(cmd), flush=True)
        done = subprocess.run(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            tail = "\n".join(done.stdout.strip().splitlines()[-6:])
            raise DepsError(
                f"pip could not install hexai.nvim's dependencies into {folder} "
                f"(exit status {done.returncode}):\n{tail}"
            )
        _probe(python, staging)
        _replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"hexai.nvim: dependencies for {python} in {folder}", flush=True)
    return folder


def _probe(python: str, folder: Path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(folder)!r}); "
            + "; ".join(f"import {m}" for m in PROBE_MODULES))
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise DepsError(f"the installed dependencies do not import with {python}: {last}")


def _replace(staging: Path, folder: Path) -> None:
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def wheelhouse(root: Path, dest: Path, python: str = sys.executable) -> None:
    """Download wheels of the dependencies and pynvim into ``dest`` (for offline installs)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [*_pip(python), "download", "--quiet", "--only-binary=:all:", "--dest", str(dest),
           "pynvim", *requirements(root)]
    if subprocess.run(cmd, env=_env()).returncode != 0:
        raise DepsError(f"pip download into {dest} failed")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = root_of()
    try:
        if args[:1] == ["install"]:
            install(root, quiet="--quiet" in args)
        elif args[:1] == ["wheelhouse"] and len(args) == 2:
            wheelhouse(root, Path(args[1]))
        elif args[:1] == ["requirements"]:
            print("\n".join(requirements(root)))
        else:
            print("usage: python3 hexai_nvim/deps.py install [--quiet] | wheelhouse DIR "
                  "| requirements", file=sys.stderr)
            return 2
    except DepsError as exc:
        print(f"hexai.nvim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
