"""API keys for requests: resolved once per provider, cached, and the key policy.

Owns :class:`KeyCache`. What a caller may rely on:

- a provider's key is looked up once (``api_key_cmd`` in a worker thread) and kept
  until :meth:`KeyCache.clear` (a config reload); a failed lookup is not kept, so
  the next request tries again;
- every key found is registered with :mod:`hexai_nvim.secrets`, so the scrubber
  removes it from everything that leaves the process;
- :meth:`KeyCache.key_for` is the one policy of every request: a withheld key
  (a project file set the address) is never sent, and a provider that needs a
  key and has none gets a ``config`` error naming where to set it, before
  anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from typing import Protocol

from hexai_nvim import secrets
from hexai_nvim.config.model import ProviderSpec
from hexai_nvim.engine.results import ErrorInfo
from hexai_nvim.providers.base import ErrorKind, Provider

log = logging.getLogger("hexai_nvim.engine")


class _KeyInfoLike(Protocol):
    @property
    def value(self) -> str | None: ...


#: Finds a provider's API key; the default is
#: :func:`hexai_nvim.config.keys.resolve_api_key`.
KeyResolver = Callable[[ProviderSpec, Mapping[str, str]], _KeyInfoLike]


class KeyCache:
    """The keys of one engine. ``env`` defaults to ``os.environ``."""

    def __init__(self, env: Mapping[str, str] | None, resolver: KeyResolver | None) -> None:
        self._env = env
        self._resolver = resolver
        self._keys: dict[str, str | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def clear(self) -> None:
        """Forget every key (a reload: ``api_key_cmd`` commands run again)."""
        self._keys.clear()
        if self._resolver is None:
            # The default resolver caches api_key_cmd output for the process;
            # a reload is the moment a user expects a rotated key to be read.
            from hexai_nvim.config.keys import clear_key_cache

            clear_key_cache()

    def forget_loop(self) -> None:
        """Drop the locks made for another event loop (the keys stay)."""
        self._locks.clear()

    async def key_for(
        self, spec: ProviderSpec, provider: Provider
    ) -> tuple[str | None, ErrorInfo | None]:
        """The key policy of every request: the key to send (None: send none),
        or the ``config`` error that stops the request before anything is sent."""
        key: str | None
        key_problem: str | None
        if spec.key_withheld:
            key, key_problem = None, spec.key_withheld
        else:
            key, key_problem = await self._api_key(spec)
        if key is None and provider.requires_key:
            message = (
                f"no API key for provider {spec.name!r}: {key_problem}"
                if key_problem
                else missing_key_message(spec)
            )
            return None, ErrorInfo(ErrorKind.CONFIG, message)
        if key_problem:
            log.warning("provider %s: %s; sending without a key", spec.name, key_problem)
        return key, None

    async def _api_key(self, spec: ProviderSpec) -> tuple[str | None, str | None]:
        """The provider's key (cached) and, when the lookup failed, why."""
        if spec.name in self._keys:
            return self._keys[spec.name], None
        lock = self._locks.setdefault(spec.name, asyncio.Lock())
        async with lock:
            if spec.name in self._keys:
                return self._keys[spec.name], None
            resolve = self._resolver or _default_key_resolver()
            env = self._env if self._env is not None else os.environ
            try:
                if spec.api_key_cmd:
                    # The command may take a while: keep the loop free.
                    info = await asyncio.to_thread(resolve, spec, env)
                else:
                    info = resolve(spec, env)
            except Exception as exc:
                # Not cached: the next request tries again (the command may be fixed).
                return None, secrets.scrub(str(exc)) or type(exc).__name__
            value = info.value or None
            secrets.remember(value)
            source = str(getattr(info, "source", "") or "")
            if value is not None or not source.startswith("cmd failed"):
                # A failed command is not cached here: the resolver decides
                # when it runs again.
                self._keys[spec.name] = value
            if value is None and source.startswith("cmd failed"):
                return None, f"api_key_cmd {source[4:]}"
            return value, None


def _default_key_resolver() -> KeyResolver:
    from hexai_nvim.config.keys import resolve_api_key

    return resolve_api_key


def missing_key_message(spec: ProviderSpec) -> str:
    """Why a provider that needs a key has none, and where to set one."""
    names = list(spec.api_key_env)
    if names:
        where = " or ".join(names)
        hint = f"set {where}"
    else:
        hint = "set api_key_env"
    if spec.api_key_cmd:
        hint += " (api_key_cmd printed nothing)"
    else:
        hint += f" or api_key_cmd in [providers.{spec.name}]"
    if spec.kind == "ollama":
        hint += '; for a local Ollama set [ollama] base_url = "http://localhost:11434"'
    return f"no API key for provider {spec.name!r}: {hint}"
