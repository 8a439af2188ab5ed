"""The README's install, for real: a fresh HOME, the vendored lazy.nvim, a Python with only pynvim.

Each test starts from nothing: empty HOME and XDG folders, a Python virtual
environment that has pynvim and nothing else (made from the wheelhouse that
``make test`` downloads, so no test touches the network), and a git clone of
this checkout. ``init.lua`` bootstraps lazy.nvim from ``../shared/vendor/lazy.nvim``
(a copy instead of the README's ``git clone`` from GitHub) and gives it exactly
the README's spec, with the clone's path put in. Neovim then starts twice, as
a person would: once to install, once more after a restart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pynvim
import pytest

from tests.e2e.harness import REPO, nvim_binary, vendor

README = REPO / "README.md"
WHEELHOUSE = Path(sys.executable).parent.parent / "wheelhouse"

INIT_LUA = """
vim.g.python3_host_prog = {python!r}
vim.o.swapfile = false
local lazypath = vim.fn.stdpath('data') .. '/lazy/lazy.nvim'
if not vim.uv.fs_stat(lazypath) then
  vim.fn.mkdir(vim.fn.fnamemodify(lazypath, ':h'), 'p')
  vim.uv.fs_symlink({lazy!r}, lazypath)  -- the README clones it from GitHub instead
end
vim.opt.rtp:prepend(lazypath)
require('lazy').setup({{
{spec}
}}, {{
  rocks = {{ enabled = false }},
  install = {{ colorscheme = {{}} }},
  checker = {{ enabled = false }},
  change_detection = {{ enabled = false }},
}})
"""


def readme_lazy_spec() -> str:
    """The lazy.nvim spec of the README's Install section, verbatim."""
    install = README.read_text().split("## Install", 1)[1]
    match = re.search(r"With \[lazy\.nvim\].*?```lua\n(.*?)```", install, re.S)
    assert match, "no lazy.nvim spec in the README's Install section"
    return match.group(1)


@pytest.fixture(scope="module")
def only_pynvim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python (venv) with pynvim and nothing else; returns its interpreter."""
    if not (WHEELHOUSE / ".done").exists():
        raise RuntimeError(f"{WHEELHOUSE} is missing: run `make test` (it downloads the wheels)")
    venv = tmp_path_factory.mktemp("py") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index",
                    "--find-links", str(WHEELHOUSE), "pynvim"],
                   check=True, timeout=120, env=pip_env(WHEELHOUSE))
    probe = subprocess.run([str(python), "-c", "import pynvim, aiohttp"], capture_output=True)
    assert probe.returncode != 0, "the test Python must have pynvim only"
    return python


@pytest.fixture(scope="module")
def externally_managed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A distribution-like Python: not a virtual environment, its stdlib marked
    ``EXTERNALLY-MANAGED`` (PEP 668) so ``pip install`` refuses it, with pynvim in
    its site-packages as a ``python3-pynvim`` package puts it, and nothing else.

    Built from this interpreter: a copy of the base executable in a new prefix
    whose ``lib/pythonX.Y`` links to the real standard library (Python finds its
    prefix from the ``os.py`` landmark next to the executable).
    """
    import sysconfig

    import pip

    prefix = tmp_path_factory.mktemp("distro") / "usr"
    stdlib = Path(sysconfig.get_path("stdlib"))
    lib = prefix / "lib" / stdlib.name
    site = lib / "site-packages"
    site.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name not in ("site-packages", "dist-packages"):
            (lib / entry.name).symlink_to(entry)
    (lib / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=a distribution's Python (simulated by the tests)\n")
    (site / "pip").symlink_to(Path(pip.__file__).parent)  # the distribution's python3-pip
    python = prefix / "bin" / "python3"
    python.parent.mkdir()
    shutil.copy2(Path(getattr(sys, "_base_executable", sys.executable)).resolve(), python)
    refused = subprocess.run([str(python), "-m", "pip", "install", "pynvim"], text=True,
                             capture_output=True, env=pip_env(WHEELHOUSE), timeout=120)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr, \
        refused.stdout + refused.stderr
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site),
                    "pynvim"], check=True, env=pip_env(WHEELHOUSE), timeout=120)
    probe = subprocess.run([str(python), "-c", "import pynvim, aiohttp"], capture_output=True)
    assert probe.returncode != 0, "the test Python must have pynvim only"
    return python


def pip_env(links: Path) -> dict[str, str]:
    """pip offline: only the wheels in ``links``, none of the machine's pip config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links), PIP_CONFIG_FILE=os.devnull,
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A git repository of this checkout's files (committed or not), to install from."""
    src = tmp_path / "src" / "hexai.nvim"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
           "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=src, check=True)
    subprocess.run([*git, "add", "-A"], cwd=src, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "test clone"], cwd=src, check=True)
    return src


class Machine:
    """A fresh HOME with XDG folders and the README's lazy.nvim set-up."""

    def __init__(self, root: Path, python: Path, clone: Path, links: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.env = {k: v for k, v in pip_env(links).items()
                    if not k.startswith(("HEXAI_", "OPENAI_", "ANTHROPIC_", "OPENROUTER_",
                                         "OLLAMA_", "NVIM", "XDG_"))}
        self.env["HOME"] = str(self.home)
        for name in ("config", "data", "state", "cache"):
            folder = self.home / f".{name}" if name != "data" else self.home / ".local" / "share"
            folder.mkdir(parents=True, exist_ok=True)
            self.env[f"XDG_{name.upper()}_HOME"] = str(folder)
        config = Path(self.env["XDG_CONFIG_HOME"])
        self.init = config / "nvim" / "init.lua"
        self.init.parent.mkdir(parents=True)
        spec = readme_lazy_spec().replace("/path/to/hexai.nvim", str(clone))
        self.init.write_text(INIT_LUA.format(python=str(python), lazy=str(vendor("lazy.nvim")),
                                             spec=spec))
        self.plugin_dir = Path(self.env["XDG_DATA_HOME"]) / "nvim" / "lazy" / "hexai.nvim"
        self.manifest = Path(self.env["XDG_DATA_HOME"]) / "nvim" / "rplugin.vim"

    def first_start(self) -> subprocess.CompletedProcess[str]:
        """Start Neovim once (lazy.nvim installs and builds), and quit."""
        return subprocess.run([nvim_binary(), "--headless", "+qa"], env=self.env,
                              cwd=self.home, capture_output=True, text=True, timeout=300)

    @contextmanager
    def session(self) -> Iterator[Any]:
        """Neovim again, with a UI attached (so lazy.nvim's VeryLazy fires as in a terminal)."""
        saved, cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.home)
        try:
            nvim = pynvim.attach("child", argv=[nvim_binary(), "--embed"])
        finally:
            os.environ.clear()
            os.environ.update(saved)
            os.chdir(cwd)
        try:
            nvim.ui_attach(100, 30, rgb=True)
            yield nvim
        finally:
            with suppress(Exception):
                nvim.close()

    def write_hexai_config(self, text: str) -> None:
        path = Path(self.env["XDG_CONFIG_HOME"]) / "hexai" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def wait_for(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


ASK_CONFIG = """
[providers.sim]
kind = "openai-compatible"
base_url = "{sim}/v1"

[[models.ask]]
provider = "sim"
model = "install-ask-{kind}+tokens=8"
label = "sim"
"""

ASK_STATE = """
local ok, ask = pcall(require, 'hexai.ask')
local st = ok and ask.state() or nil
if not st then return nil end
return st.sections[1]
"""


@pytest.mark.parametrize("python_kind", ["venv", "externally-managed"])
def ask_and_wait(nvim: Any) -> None:
    """:HexaiAsk once the plugin is loaded; the simulator's answer arrives, no error shows."""
    wait_for(lambda: nvim.exec_lua("return vim.fn.exists(':HexaiAsk')") == 2, 300,
             ":HexaiAsk (lazy.nvim loads the plugin at VeryLazy)")
    nvim.command("HexaiAsk say hello")
    section = wait_for(lambda: (s := nvim.exec_lua(ASK_STATE)) and s["status"] == "ok" and s,
                       30, "the answer from the simulator")
    assert section["text"].strip()
    messages = nvim.exec_lua("return vim.api.nvim_exec2('messages', {output=true}).output")
    assert "not available" not in messages and "E117" not in messages, messages
    assert "Error" not in messages, messages


@pytest.mark.parametrize("python_kind", ["venv", "externally-managed"])
def test_readme_lazy_spec_works_on_a_python_with_only_pynvim_at_once_and_after_restart(
    tmp_path: Path, clone: Path, sim: Any, python_kind: str, request: pytest.FixtureRequest
) -> None:
    python = request.getfixturevalue(
        "only_pynvim" if python_kind == "venv" else "externally_managed")
    machine = Machine(tmp_path, python, clone, WHEELHOUSE)
    machine.write_hexai_config(ASK_CONFIG.format(sim=sim.url, kind=python_kind))
    model = f"install-ask-{python_kind}+tokens=8"
    # The first start: lazy.nvim clones and builds; :HexaiAsk works in this very session.
    with machine.session() as nvim:
        ask_and_wait(nvim)
    assert len(sim.state.requests_for(model)) == 1
    assert (machine.plugin_dir / ".git").is_dir()  # lazy.nvim cloned it
    tag = subprocess.run([str(python), "-c", "import sys; print(sys.implementation."
                          "cache_tag)"], capture_output=True, text=True).stdout.strip()
    assert (machine.plugin_dir / "deps" / tag / "aiohttp").is_dir()
    manifest = machine.manifest.read_text()
    assert f"{machine.plugin_dir}/rplugin/python3/hexai.py" in manifest
    assert "'name': 'HexaiRequest'" in manifest
    assert (machine.plugin_dir / "doc" / "tags").is_file()

    # Headless, VeryLazy never comes (no UI): :checkhealth hexai is still found.
    report = tmp_path / "health.txt"
    subprocess.run([nvim_binary(), "--headless", "+checkhealth hexai", f"+write! {report}",
                    "+qa!"], env=machine.env, cwd=machine.home, capture_output=True,
                   timeout=120)
    health = report.read_text()
    assert "No healthcheck found" not in health, health
    assert "host answers: hexai.nvim" in health, health

    before = len(sim.state.requests_for(model))  # the health check probed the entry too
    with machine.session() as nvim:  # the restart: nothing else is run by hand
        ask_and_wait(nvim)
        assert len(sim.state.requests_for(model)) == before + 1

        # :checkhealth hexai finds the check (and it passes the host part).
        nvim.command("checkhealth hexai")
        report = "\n".join(nvim.current.buffer[:])
        assert "hexai: Python host" in report, report
        assert "host answers: hexai.nvim" in report, report


def test_a_failing_pip_fails_the_build_visibly_and_every_message_names_the_fix(
    tmp_path: Path, only_pynvim: Path, clone: Path
) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    machine = Machine(tmp_path, only_pynvim, clone, empty)  # pip finds nothing to install
    first = machine.first_start()
    output = first.stdout + first.stderr
    assert "installing the Python dependencies failed" in output, output
    assert "aiohttp" in output, output
    assert "hexai.nvim" not in (machine.manifest.read_text() if machine.manifest.exists() else "")

    with machine.session() as nvim:
        wait_for(lambda: nvim.exec_lua("return vim.fn.exists(':HexaiAsk')") == 2, 30,
                 ":HexaiAsk (lazy.nvim loads the plugin at VeryLazy)")
        try:  # the error message reaches the caller of the command as an error
            nvim.command("HexaiAsk say hello")
            shown = ""
        except pynvim.NvimError as exc:
            shown = str(exc)
        messages = shown + nvim.exec_lua(
            "return vim.api.nvim_exec2('messages', {output=true}).output")
        assert "the Python host is not available: the remote plugin is not registered" in messages
        assert "Fix: :Lazy build hexai.nvim" in messages, messages
        assert "pip install hexai-nvim" not in messages


def test_missing_dependencies_still_answer_with_what_is_missing_and_the_fix(
    nvim: Any, only_pynvim: Path
) -> None:
    """Registered, but the provider's Python lacks aiohttp (no :HexaiBuild ran for it)."""
    nvim.lua("vim.g.python3_host_prog = ...", str(only_pynvim))
    nvim.lua("require('hexai').setup({})")
    answer = nvim.lua(
        "local v, err = require('hexai.rpc').request('ping'); return {v or false, err}")
    assert answer[0] is False and "cannot load in the Python host" in answer[1], answer
    assert "No module named" in answer[1]
    messages = nvim.messages()
    assert "the Python host is not available" in messages, messages
    assert f"the Python dependencies for {only_pynvim} are not installed" in messages, messages
    assert "Fix: :HexaiBuild" in messages
    assert "pip install hexai-nvim" not in messages
