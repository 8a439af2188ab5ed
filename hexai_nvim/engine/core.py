"""The engine's facade: one concurrent request per entry, streamed, timed, labelled.

Every surface (completion, ``:HexaiAsk``, code actions) and ``hexai ask`` go
through :meth:`Engine.fan_out`; nothing else talks HTTP.

What a caller may rely on:

- ``fan_out()`` starts every entry at once (it needs a running loop) and
  returns a :class:`FanOut`. Iterate it for events as they happen
  (:class:`StartEvent`, :class:`ChunkEvent` (and :class:`RestartEvent` when a
  cut answer is asked again), then exactly one
  :class:`DoneEvent` or :class:`ErrorEvent` per entry), or ``await wait()`` for
  the results in entry order. Neither raises for an entry's failure: a failure
  is an :class:`ErrorInfo` inside the :class:`EntryResult`.
- ``index`` in events and results is the position in the ``entries`` handed to
  ``fan_out()`` (not ``Entry.index``, which is the position in the config).
- Limits: a provider's ``max_concurrency`` and the global
  ``[engine] max_concurrency`` queue excess requests; the wait is
  ``EntryStats.queued_ms``.
- Deadlines, all per entry:
  - connect: ``[engine] connect_timeout_ms``, enforced by the provider
    (``Call.connect_timeout_s``);
  - first token: ``[engine] first_token_timeout_ms`` (0 = none), counted from
    the moment the request leaves the queue;
  - total: ``Entry.timeout_ms``, counted from ``fan_out()`` so that queue time
    is included and a caller's wait is bounded.
  On a deadline the text streamed so far is kept, ``truncated`` is true when
  there was any, and the error kind is ``timeout``. A truncated answer is a
  failure (``EntryResult.ok`` is false; ``hexai ask`` exits 1) whose text is
  still shown.
- Cancelling (``FanOut.cancel()`` for all, ``cancel(i)`` for one) cancels the
  entry's task, which closes its HTTP connection at once; the result has error
  kind ``cancelled`` and keeps any text. Leaving an ``async for`` over a
  fan-out early, cancelling a task blocked in ``wait()``, or leaving
  ``async with fan_out`` cancels what is still running.
- Every result says how it ended (``EntryResult.stop_reason``, a
  :class:`StopReason`). A stream the server ended without its end signal is
  ``cut``: a failure (``bad_response``) that keeps its text. A cut entry is
  asked once more when no other request of this engine is in flight on the
  same server (``scheme://host:port``) before its total deadline: a
  single-slot server such as llama-cpp-python ends a running stream when
  another request arrives. The retry is announced by a :class:`RestartEvent`
  (drop the text shown so far) and counted in ``EntryStats.retries``.
- 429, 500, 502, 503, 504 and failed connections are retried only while no
  text has been streamed, after the server's ``Retry-After`` or an
  exponential back-off (:mod:`hexai_nvim.resilience`), at most
  ``[engine] retries`` times and only when the retry can start before the
  total deadline.
- A provider whose entries keep failing is skipped for a while (its circuit
  breaker, :class:`~hexai_nvim.resilience.CircuitBreaker`): such an entry
  fails at once with kind ``skipped`` and sends nothing.
- An entry with a fallback (``Entry.fallback``) that failed without showing
  text runs once more as its fallback, in the same slot and under the same
  total deadline; a :class:`FallbackEvent` announces it, and the result's
  ``entry`` is the fallback with ``fallback_of`` the primary and
  ``first_error`` why the primary failed.
- API keys are resolved once per provider and cached until
  :meth:`Engine.update_config`. A provider that needs a key and has none fails
  with kind ``config`` (naming the environment variables) without sending
  anything. Keys never appear in results, stats, logs or exceptions: every
  error message is scrubbed of known key values.
- Stats: each finished entry goes to the
  :class:`~hexai_nvim.engine.sink.ResultSink` the engine was given (the host
  and ``hexai ask`` give the JSONL store of :mod:`hexai_nvim.stats`); the
  sink's housekeeping (the store's prune) runs now and then in a worker
  thread. The engine knows the sink only through that protocol and imports
  no store.

:class:`Engine` owns the provider clients and their HTTP pool, the circuit
breaker and the pieces each one module owns (``hexai_nvim/engine/``):
:mod:`~hexai_nvim.engine.results` (the values handed out),
:mod:`~hexai_nvim.engine.events`, :mod:`~hexai_nvim.engine.fanout` (tasks,
deadlines, cancellation, fallback), :mod:`~hexai_nvim.engine.run` (one
entry's request: slots, retries, stream, result), :mod:`~hexai_nvim.engine.keys`,
:mod:`~hexai_nvim.engine.context` (context fit), :mod:`~hexai_nvim.engine.limits`
(concurrency), :mod:`~hexai_nvim.engine.tokens` (estimates) and
:mod:`~hexai_nvim.engine.sink` (where results go).

Logging goes to the ``hexai_nvim.engine`` logger only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hexai_nvim import resilience, secrets
from hexai_nvim.config.model import Config, Entry, ProviderSpec
from hexai_nvim.engine.context import ContextSizes
from hexai_nvim.engine.fanout import FanOut, RequestFor
from hexai_nvim.engine.keys import KeyCache, KeyResolver
from hexai_nvim.engine.limits import Inflight, Slots
from hexai_nvim.engine.results import ErrorInfo, ModelListing, error_from_exception
from hexai_nvim.engine.sink import Recorder, ResultSink
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Provider,
    ProviderError,
    Request,
    Transfer,
    lists_models,
)

#: Builds the client of one provider; the default uses ``make_provider`` with
#: the engine's shared HTTP pool. Tests inject fakes here.
ProviderFactory = Callable[[ProviderSpec], Provider]


class Engine:
    """Owns the provider clients and their HTTP pool, the circuit breaker, and one
    of each piece the entries share: the key cache, the concurrency slots, the
    requests in flight per server, the context sizes and the sink's writer.

    ``Engine(config)`` does no I/O and needs no running loop; the HTTP session
    is created on the first request. Keyword arguments exist for tests and
    tools:

    - ``env``: where API keys are looked up (default ``os.environ``);
    - ``stats``: the :class:`~hexai_nvim.engine.sink.ResultSink` finished
      entries go to (the host and ``hexai ask`` give the stats store of
      :mod:`hexai_nvim.stats`); None (default) records nothing. The engine
      never opens a store itself;
    - ``provider_factory``: builds a provider client from its spec;
    - ``key_resolver``: finds a provider's API key.
    """

    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str] | None = None,
        stats: ResultSink | None = None,
        provider_factory: ProviderFactory | None = None,
        key_resolver: KeyResolver | None = None,
    ) -> None:
        self._config = config
        secrets.remember_config(config)
        self._provider_factory = provider_factory
        self._providers: dict[str, tuple[ProviderSpec, Provider]] = {}
        self._keys = KeyCache(env, key_resolver)
        self._slots = Slots()
        self._inflight = Inflight()
        self._contexts = ContextSizes()
        self._http: Any = None  # hexai_nvim.providers.HttpPool, created lazily
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fanouts: set[FanOut] = set()
        self._closed = False
        settings = config.engine
        self._breaker = resilience.CircuitBreaker(
            settings.breaker_failures,
            settings.breaker_window_ms / 1000.0,
            settings.breaker_cooldown_ms / 1000.0,
        )
        self._recorder = Recorder(stats)

    # -- public ---------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config

    @property
    def stats_store(self) -> ResultSink | None:
        return self._recorder.sink

    def update_config(self, config: Config) -> None:
        """Use ``config`` for the next fan-outs; running ones finish as they were.

        Clears the key cache (``api_key_cmd`` commands run again) and drops
        provider clients whose spec changed.
        """
        self._config = config
        secrets.remember_config(config)
        self._keys.clear()
        self._breaker.configure(
            config.engine.breaker_failures,
            config.engine.breaker_window_ms / 1000.0,
            config.engine.breaker_cooldown_ms / 1000.0,
        )
        for name, (spec, _provider) in list(self._providers.items()):
            if config.providers.get(name) != spec:
                del self._providers[name]
        self._recorder.configure(config)

    def fan_out(self, entries: Sequence[Entry], request: RequestFor) -> FanOut:
        """Start every entry now (must be called with a running loop).

        ``request`` is one :class:`Request` for all entries or a function
        building each entry's request (called inside the entry's task; if it
        raises, that entry fails with kind ``config``).
        """
        if self._closed:
            raise RuntimeError("the engine is closed")
        self._bind_loop()
        fan = FanOut(self, entries, request)
        self._fanouts.add(fan)
        forget = functools.partial(self._forget, fan)
        for task in fan._tasks:
            task.add_done_callback(forget)
        return fan

    async def list_models(self, spec: ProviderSpec) -> ModelListing:
        """The models ``spec``'s server lists, asked with the same key policy
        and scrubbing as every request. Never raises for the provider's failure
        (it is ``ModelListing.error``); ``supported`` is false when the API has
        no model list.
        """
        if self._closed:
            raise RuntimeError("the engine is closed")
        self._bind_loop()
        started = time.monotonic()

        def done(names: Sequence[str] | None, error: ErrorInfo | None, status: int | None,
                 supported: bool = True) -> ModelListing:
            elapsed = (time.monotonic() - started) * 1000.0
            return ModelListing(None if names is None else tuple(names), error, status,
                                elapsed, supported)

        try:
            provider = self._provider(spec)
        except Exception as exc:
            return done(None, ErrorInfo(
                ErrorKind.CONFIG, self._scrub(f"provider {spec.name!r}: {exc}")), None)
        if not lists_models(provider):
            return done(None, None, None, supported=False)
        key, refused = await self._keys.key_for(spec, provider)
        if refused is not None:
            return done(None, refused, None)
        call = Call(
            model="",
            request=Request(messages=()),
            api_key=key,
            connect_timeout_s=self._config.engine.connect_timeout_ms / 1000.0,
            transfer=Transfer(),
        )
        try:
            names = await provider.list_models(call)
        except ProviderError as exc:
            status = exc.status if exc.status is not None else call.transfer.status
            return done(None, ErrorInfo(exc.kind, self._scrub(exc.message, key), status), status)
        except NotImplementedError:
            return done(None, None, None, supported=False)
        except Exception as exc:  # a bug in a provider must not reach the caller
            return done(None, error_from_exception(exc, self._scrub), call.transfer.status)
        return done(names, None, call.transfer.status)

    async def warm_up(self, entries: Sequence[Entry] = ()) -> None:
        """Load the provider clients of ``entries`` and open the HTTP session.

        Optional: it moves one-off import and set-up costs out of the first
        request (and out of its stats). Failures are left for the request to
        report.
        """
        for entry in entries:
            try:
                self._provider(entry.provider)
            except Exception:
                continue
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.session()

    async def close(self) -> None:
        """Cancel running fan-outs, wait for them, finish stats, close HTTP."""
        self._closed = True
        self._recorder.closing()
        fans = list(self._fanouts)
        for fan in fans:
            fan.cancel()
        for fan in fans:
            await fan.aclose()
        self._fanouts.clear()
        await self._recorder.drain()
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()
        self._providers.clear()

    # -- pieces used by the fan-out and the entry's run --------------------------

    def _forget(self, fan: FanOut, _task: object = None) -> None:
        if fan.done:
            self._fanouts.discard(fan)

    def scrub(self, text: str) -> str:
        """``text`` without any secret this engine knows of (for callers' own messages)."""
        return self._scrub(text)

    def _scrub(self, text: str, *extra: str | None) -> str:
        """``text`` without any secret the process knows (:mod:`hexai_nvim.secrets`:
        the keys resolved here, every configured header value and URL
        password), nor the secrets in ``extra``."""
        return secrets.scrub(text, *extra)

    def _provider(self, spec: ProviderSpec) -> Provider:
        cached = self._providers.get(spec.name)
        if cached is not None and cached[0] == spec:
            return cached[1]
        if self._provider_factory is not None:
            provider = self._provider_factory(spec)
        else:
            from hexai_nvim.providers import HttpPool, make_provider

            if self._http is None:
                self._http = HttpPool()
            provider = make_provider(spec, self._http)
        self._providers[spec.name] = (spec, provider)
        return provider

    def _bind_loop(self) -> None:
        """Forget loop-bound primitives made for another event loop.

        asyncio locks and semaphores belong to the loop that first waited on
        them; an engine reused under a new loop (tests, ``asyncio.run`` twice)
        gets fresh ones. Keys and provider clients stay cached.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._slots.forget_loop()
            self._keys.forget_loop()
            self._inflight.forget_loop()

    def context_tokens(self, entry: Entry) -> int | None:
        """The context (tokens) of ``entry``'s server as stated or learned, if known.

        Stated: llama.cpp ``/props``/``/slots`` or Ollama ``/api/show``, asked
        once per server and model (for completion entries). Learned: a
        ``context_length`` answer names it, or (when it does not) it is taken
        to be half of the prompt that did not fit. Kept until the engine ends,
        so a too-large context fails once, not on every keystroke.
        """
        return self._contexts.get(entry)

