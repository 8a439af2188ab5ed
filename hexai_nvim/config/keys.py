"""API keys: where a provider's key comes from, and how to show one safely.

A key is looked up when a provider needs it, never stored in :class:`Config`:

* ``api_key_cmd``: a shell command whose first stdout line is the key. It runs
  once (with a timeout, in its own process group so a hanging child is killed
  too) and the result is cached per ``(provider name, command)``. A failure is
  reported by reason only — never with the command's output — and retried after
  :data:`FAILURE_TTL_S` seconds.
* otherwise the provider's ``api_key_env`` variables, first non-empty wins.

Nothing here logs or prints a key; :class:`KeyInfo`'s ``repr`` hides it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from hexai_nvim.config.model import ProviderSpec

#: Seconds an ``api_key_cmd`` may run.
CMD_TIMEOUT_S = 5.0
#: Seconds a failed ``api_key_cmd`` result is remembered before it runs again.
FAILURE_TTL_S = 30.0


@dataclass(frozen=True)
class KeyInfo:
    """A resolved key (or its absence) and where it came from.

    ``source`` is ``"env:NAME"``, ``"cmd"``, ``"none"`` or
    ``"cmd failed: <reason>"``; it is safe to show, ``value`` is not.
    """

    value: str | None = field(repr=False)
    source: str

    @property
    def found(self) -> bool:
        return bool(self.value)

    @property
    def masked(self) -> str | None:
        """The key as :func:`mask_secret` shows it, ``None`` when there is none."""
        return mask_secret(self.value) if self.value else None


def mask_secret(secret: str) -> str:
    """Never more than the last four characters: ``"****wxyz"``.

    Keys shorter than 12 characters are masked completely (four characters of a
    short key would give away too much of it).
    """
    cleaned = secret.strip()
    if len(cleaned) < 12:
        return "****"
    return "****" + cleaned[-4:]


def mask_url(url: str) -> str:
    """``url`` safe to show: a password (or a token used as user name) and the
    values of the query are masked; scheme, user name, host and path stay."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:****@{host}" if has_password else f"****@{host}"
    query = "&".join(
        f"{name}=****" if value else name
        for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_cache: dict[tuple[str, str], tuple[KeyInfo, float]] = {}
_cache_lock = threading.Lock()
_running: dict[tuple[str, str], threading.Lock] = {}


def resolve_api_key(
    spec: ProviderSpec, env: Mapping[str, str] | None = None, *, timeout: float = CMD_TIMEOUT_S
) -> KeyInfo:
    """The key of ``spec``: from ``api_key_cmd`` if set, else ``api_key_env``.

    ``env`` defaults to ``os.environ`` (it is also the command's environment).
    Blocks while a command runs (at most ``timeout`` seconds); call it from a
    worker thread in async code. Thread-safe: concurrent callers for the same
    command wait for one run.
    """
    environment = os.environ if env is None else env
    if spec.api_key_cmd:
        return _from_command(spec.name, spec.api_key_cmd, environment, timeout)
    for name in spec.api_key_env:
        value = str(environment.get(name, "") or "").strip()
        if value:
            return KeyInfo(value, f"env:{name}")
    return KeyInfo(None, "none")


def clear_key_cache() -> None:
    """Forget every command result (after a config reload, in tests)."""
    with _cache_lock:
        _cache.clear()


def _from_command(provider: str, command: str, env: Mapping[str, str], timeout: float) -> KeyInfo:
    key = (provider, command)
    with _cache_lock:
        run_lock = _running.setdefault(key, threading.Lock())
    with run_lock:
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None:
            info, expires = cached
            if time.monotonic() < expires:
                return info
        info = _run(command, env, timeout)
        ttl = float("inf") if info.found else FAILURE_TTL_S
        with _cache_lock:
            _cache[key] = (info, time.monotonic() + ttl)
        return info


def _run(command: str, env: Mapping[str, str], timeout: float) -> KeyInfo:
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,  # so a timeout can kill the whole group
        )
    except OSError as exc:
        return KeyInfo(None, f"cmd failed: cannot start ({exc.strerror or type(exc).__name__})")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return KeyInfo(None, f"cmd failed: timed out after {timeout:g} s")
    if process.returncode != 0:
        return KeyInfo(None, f"cmd failed: exit status {process.returncode}")
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    value = next((line for line in lines if line), "")
    if not value:
        return KeyInfo(None, "cmd failed: no output")
    return KeyInfo(value, "cmd")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        process.communicate(timeout=2)
