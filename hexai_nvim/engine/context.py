"""Context fit: how many tokens a server's model takes, stated or learned.

Owns :class:`ContextSizes`, one per engine. What a caller may rely on:

- stated: llama.cpp ``/props``/``/slots`` or Ollama ``/api/show``, asked once per
  server and model (:meth:`ContextSizes.probe`, for completion entries), bounded
  by :data:`CONTEXT_PROBE_TIMEOUT_S`; a failed probe is not repeated;
- learned: a ``context_length`` answer names the limit, or (when it does not) the
  limit is taken to be half of the prompt that did not fit
  (:meth:`ContextSizes.learn`); the smaller of what is known wins;
- kept until the engine ends, so a too-large context fails once, not on every
  keystroke. Whether the entry is asked again is the entry's run's decision
  (:mod:`hexai_nvim.engine.run`).
"""

from __future__ import annotations

import asyncio
import logging

from hexai_nvim.config.model import Entry
from hexai_nvim.engine.limits import server_of
from hexai_nvim.engine.tokens import estimate_input
from hexai_nvim.providers.base import Call, Provider, ProviderError, Request

log = logging.getLogger("hexai_nvim.engine")

#: Longest wait for a server to state its context size (once per server and model).
CONTEXT_PROBE_TIMEOUT_S = 2.0


class ContextSizes:
    """Context sizes (tokens) per (server, model)."""

    def __init__(self) -> None:
        self._sizes: dict[tuple[str, str], int] = {}
        #: The pairs already probed (a probe is made once, whatever it found).
        self._probed: set[tuple[str, str]] = set()

    def get(self, entry: Entry) -> int | None:
        """The context of ``entry``'s server and model, if known."""
        return self._sizes.get(_where(entry))

    async def probe(self, entry: Entry, provider: Provider, key: str | None,
                    connect_timeout_s: float) -> None:
        """Ask the server once for its context (never raises)."""
        where = _where(entry)
        if where in self._sizes or where in self._probed:
            return
        self._probed.add(where)
        call = Call(model=entry.model, request=Request(messages=()), api_key=key,
                    connect_timeout_s=connect_timeout_s)
        try:
            found = await asyncio.wait_for(provider.context_size(call), CONTEXT_PROBE_TIMEOUT_S)
        except (ProviderError, asyncio.TimeoutError, TimeoutError, NotImplementedError):
            return
        except Exception as exc:  # a bug in a provider must not fail the request
            log.warning("context probe of %s failed: %s", entry.key, type(exc).__name__)
            return
        if found:
            log.info("%s: the server's context is %d tokens", entry.key, found)
            self._sizes[where] = found

    def learn(self, entry: Entry, request: Request, exc: ProviderError) -> None:
        """Remember the limit a ``context_length`` answer to ``request`` showed."""
        where = _where(entry)
        limit = exc.context_limit or max(256, estimate_input(request) // 2)
        known = self._sizes.get(where)
        self._sizes[where] = min(limit, known) if known else limit


def _where(entry: Entry) -> tuple[str, str]:
    return (server_of(entry.provider), entry.model)
