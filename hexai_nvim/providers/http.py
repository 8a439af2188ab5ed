"""HTTP plumbing shared by the wire-format clients.

- :class:`HttpPool`: one ``aiohttp.ClientSession`` per running event loop,
  created lazily inside a coroutine and reused, so requests to the same host
  share keep-alive connections.
- :class:`JsonHttpProvider`: the request/response loop every client runs
  (POST a JSON body, read the answer as it arrives, map failures to
  :class:`ProviderError`). A wire format supplies the body, the headers, a
  :class:`StreamDecoder` for streamed answers and a reader for whole JSON ones.
- Helpers that turn HTTP failures into error values: :func:`kind_for_status`,
  :func:`parse_retry_after`, :func:`provider_message` (messages are scrubbed
  by :mod:`hexai_nvim.secrets`).

aiohttp is imported lazily (inside functions), so importing this module is
cheap for ``hexai config`` and the Neovim host's start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Finish,
    Provider,
    ProviderError,
    ProviderEvent,
    StopReason,
    UsageReport,
)
from hexai_nvim.secrets import scrub

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "USER_AGENT",
    "HttpPool",
    "JsonHttpProvider",
    "Splitter",
    "StreamDecoder",
    "UsageTracker",
    "decode_json",
    "error_from_payload",
    "finish_or_cut",
    "kind_for_status",
    "parse_retry_after",
    "provider_message",
]

_U = TypeVar("_U")

USER_AGENT = "hexai.nvim/0.1"
#: Most of an error body we read (they are small; a runaway one must not be).
ERROR_BODY_LIMIT = 64 * 1024
#: Most of a whole (non-streamed) JSON answer we read.
WHOLE_BODY_LIMIT = 16 * 1024 * 1024
#: Most of a model list we read.
LIST_BODY_LIMIT = 4 * 1024 * 1024
#: Longest provider message we pass on.
MESSAGE_LIMIT = 500


# ---------------------------------------------------------------------------
# Connection pool
# ---------------------------------------------------------------------------


class HttpPool:
    """One ``aiohttp.ClientSession`` per running event loop, reused across requests.

    ``session()`` must be awaited inside the loop that will use the session
    (aiohttp sessions are bound to a loop). ``close()`` closes the session of
    the running loop and forgets sessions whose loop has already been closed.
    Proxies come from the usual ``*_proxy`` environment variables, except for
    loopback hosts, which are always reached directly.
    """

    def __init__(self, *, limit: int = 100, keepalive_timeout: float = 30.0) -> None:
        self._limit = limit
        self._keepalive_timeout = keepalive_timeout
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        proxies = urllib.request.getproxies_environment()
        self._no_proxy = [
            entry.strip().lower().lstrip(".")
            for entry in proxies.pop("no", "").split(",")
            if entry.strip()
        ]
        self._proxies = proxies

    async def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is not None and not session.closed:
            return session
        for other in [lp for lp in self._sessions if lp.is_closed()]:
            del self._sessions[other]
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._limit, keepalive_timeout=self._keepalive_timeout, ttl_dns_cache=300
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            headers={"User-Agent": USER_AGENT},
            # Proxies are chosen per request (proxy_for); trust_env would also
            # read ~/.netrc, which we do not want near API keys.
            trust_env=False,
        )
        self._sessions[loop] = session
        return session

    async def close(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - close() is a coroutine
            loop = None
        session = self._sessions.pop(loop, None) if loop is not None else None
        for other in [lp for lp in self._sessions if lp.is_closed()]:
            del self._sessions[other]
        if session is not None and not session.closed:
            await session.close()

    def proxy_for(self, url: str) -> str | None:
        """The proxy to use for ``url`` (``None``: connect directly)."""
        if not self._proxies:
            return None
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if _is_loopback(host):
            return None
        proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
        if not proxy:
            return None
        host = host.lower()
        for entry in self._no_proxy:
            name = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
            if name == "*" or host == name or host.endswith("." + name):
                return None
        return proxy


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------
# Error values
# ---------------------------------------------------------------------------


def kind_for_status(status: int) -> ErrorKind:
    """The error kind of an HTTP status (only called for statuses >= 300)."""
    if status in (401, 402, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 408:
        return ErrorKind.TIMEOUT
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.BAD_RESPONSE


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("Retry-After")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def provider_message(data: Any) -> str | None:
    """The human message of a JSON error body, whatever the provider's shape.

    Shapes: OpenAI ``{"error": {"message": ...}}``, Anthropic
    ``{"type": "error", "error": {"type": ..., "message": ...}}``, Ollama
    ``{"error": "..."}``, and the common ``{"message": ...}`` / ``{"detail": ...}``,
    including a validation error list (FastAPI/pydantic ``{"detail": [{"loc", "msg"}]}``,
    Mistral ``{"message": {"detail": [...]}}``: ``stream_options: Extra inputs are not
    permitted``).
    """
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    if isinstance(err, str) and err.strip():
        return err.strip()
    if isinstance(err, dict):
        msg = err.get("message")
        if isinstance(msg, str) and msg.strip():
            return msg.strip()
        etype = err.get("type") or err.get("code")
        if isinstance(etype, str) and etype:
            return etype
    for key in ("message", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, dict) and isinstance(value.get("detail"), list):
            value = value["detail"]
        if isinstance(value, list) and (found := _validation_errors(value)):
            return found
    return None


def _validation_errors(items: list[Any]) -> str | None:
    """``loc: msg`` of each pydantic-style error (``body`` dropped from ``loc``)."""
    parts = []
    for item in items[:5]:
        if isinstance(item, dict) and isinstance(item.get("msg"), str):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts) or None


#: Control characters (ESC included) left after whitespace is folded: a
#: server's message must not drive the terminal or editor it is shown in.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shorten(text: str) -> str:
    text = _CONTROLS.sub("", " ".join(text.split()))
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def error_for_status(
    status: int, reason: str | None, body: bytes, headers: Mapping[str, str], api_key: str | None
) -> ProviderError:
    """The error value of a non-2xx answer, with the provider's own message."""
    message: str | None = None
    text = body.decode("utf-8", "replace")
    try:
        message = provider_message(json.loads(text)) if text.strip() else None
    except ValueError:
        message = None
    if message is None:
        snippet = text.strip()
        base = f"HTTP {status}" + (f" {reason}" if reason else "")
        # An HTML error page says nothing useful past its first words.
        message = f"{base}: {snippet}" if snippet and not snippet.startswith("<") else base
    retry_after = parse_retry_after(headers) if status in (429, 503, 529) else None
    if status in (400, 413) and _CONTEXT_WORDS.search(text):
        return ProviderError(
            ErrorKind.CONTEXT_LENGTH, _shorten(scrub(message, api_key)), status=status,
            context_limit=_context_limit(text),
        )
    if 300 <= status < 400:
        location = headers.get("Location")
        message = f"unexpected redirect (HTTP {status})" + (f" to {location}" if location else "")
    return ProviderError(
        kind_for_status(status),
        _shorten(scrub(message, api_key)),
        status=status,
        retry_after=retry_after,
    )


#: How servers say a prompt does not fit: OpenAI and llama-cpp-python
#: (``context_length_exceeded``, "maximum context length"), llama-server
#: (``exceed_context_size_error``, "exceeds the available context size"),
#: Anthropic ("prompt is too long: N tokens > M maximum"), Ollama and others
#: ("context window", "context length").
_CONTEXT_WORDS = re.compile(
    r"context_length_exceeded|exceed_context_size|maximum context length|context window"
    r"|available context size|context length|prompt is too long",
    re.I,
)
#: Where they put the context size.
_CONTEXT_NUMBER = re.compile(
    r"maximum context length is (\d+)|context window of (\d+)|\"n_ctx\"\s*:\s*(\d+)"
    r"|context size \((\d+)\)|tokens > (\d+) maximum",
    re.I,
)


def _context_limit(text: str) -> int | None:
    match = _CONTEXT_NUMBER.search(text)
    if match is None:
        return None
    return int(next(group for group in match.groups() if group))


def decode_json(data: bytes | str, api_key: str | None, what: str = "answer") -> Any:
    """Parse JSON or raise ``bad_response`` naming what was malformed."""
    try:
        return json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        snippet = _shorten(scrub(text.strip(), api_key))[:80]
        raise ProviderError(
            ErrorKind.BAD_RESPONSE, f"malformed JSON in the {what}: {snippet!r}"
        ) from None


def _map_client_exception(exc: BaseException, url: str, call: Call) -> ProviderError:
    """An aiohttp/OS failure while connecting or sending, as an error value."""
    import aiohttp

    # Both exist from aiohttp 3.10 on; before, these failures have other types.
    dns_errors = tuple(
        t for t in (getattr(aiohttp, "ClientConnectorDNSError", None),) if t is not None
    )
    url_errors = tuple(
        t for t in (getattr(aiohttp, "NonHttpUrlClientError", None),) if t is not None
    )

    parts = urllib.parse.urlsplit(url)
    # A base_url may carry credentials (https://user:secret@host/...): messages
    # name the host and port only, and the password is scrubbed from the rest.
    where = parts.netloc.rpartition("@")[2] or url
    password = parts.password
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        kind, message = (
            ErrorKind.TIMEOUT,
            (f"could not connect to {where} within {call.connect_timeout_s:g}s"),
        )
    elif isinstance(exc, dns_errors):
        kind, message = ErrorKind.UNREACHABLE, f"cannot resolve {where}"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno
        reason = os.strerror(errno) if errno else (exc.strerror or type(exc.os_error).__name__)
        kind, message = ErrorKind.UNREACHABLE, f"cannot connect to {where}: {reason}"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        kind, message = ErrorKind.BAD_RESPONSE, f"{where} closed the connection without answering"
    elif isinstance(exc, (aiohttp.InvalidURL, *url_errors)):
        shown = parts._replace(netloc=where).geturl() if parts.netloc else url
        kind, message = ErrorKind.CONFIG, f"invalid URL {shown!r}"
    elif isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        kind, message = ErrorKind.UNREACHABLE, f"connection to {where} failed: {exc}"
    elif isinstance(exc, ValueError) and "AUTHORIZATION" in str(exc):
        kind, message = ErrorKind.CONFIG, (
            "base_url holds a user name and password (sent as Basic auth) and an "
            "Authorization header is sent too (the API key or headers): keep one"
        )
    elif isinstance(exc, ValueError):
        kind, message = ErrorKind.CONFIG, f"invalid request: {exc}"
    else:
        kind, message = ErrorKind.BAD_RESPONSE, f"HTTP error talking to {where}: {exc}"
    return ProviderError(kind, _shorten(scrub(message, call.api_key, password)))


# ---------------------------------------------------------------------------
# Request/response loop
# ---------------------------------------------------------------------------


@asynccontextmanager
async def open_post(
    http: HttpPool,
    url: str,
    payload: bytes | None,
    headers: Mapping[str, str],
    call: Call,
    *,
    method: str = "POST",
) -> AsyncIterator[aiohttp.ClientResponse]:
    """Send ``payload`` (``method``: POST, or GET without a body); yield the
    response once its status is a success.

    Non-2xx answers raise :class:`ProviderError` (their body read, bounded).
    On leaving, a fully read response goes back to the pool; anything else
    (an error, cancellation, a body left unread) closes the connection, so a
    cancelled request is seen by the server at once.
    """
    import aiohttp

    session = await http.session()
    call.transfer.bytes_sent = len(payload or b"")
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=call.connect_timeout_s)
    proxy = http.proxy_for(url)
    for attempt in (1, 2):
        try:
            resp = await session.request(
                method,
                url,
                data=payload,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                allow_redirects=False,
            )
            break
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            # A pooled keep-alive connection the server closed just as we sent
            # is dropped with no answer; aiohttp retries that only for
            # idempotent methods, so a POST gets its one retry here.
            stale = not isinstance(exc, aiohttp.ClientConnectorError)
            if attempt == 1 and stale:
                continue
            raise _map_client_exception(exc, url, call) from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            raise _map_client_exception(exc, url, call) from None
    clean = False
    try:
        call.transfer.status = resp.status
        if resp.status >= 300:
            body = await read_body(resp, call, ERROR_BODY_LIMIT, truncate=True)
            raise error_for_status(resp.status, resp.reason, body, resp.headers, call.api_key)
        yield resp
        clean = True
    finally:
        if clean and resp.content.at_eof():
            resp.release()
        else:
            resp.close()


async def read_some(resp: aiohttp.ClientResponse, call: Call) -> bytes:
    """The next piece of the body as it arrives (``b""`` at its end)."""
    import aiohttp

    try:
        chunk = await resp.content.readany()
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
        raise ProviderError(
            ErrorKind.BAD_RESPONSE,
            f"connection lost in the middle of the answer ({type(exc).__name__})",
            status=resp.status,
        ) from None
    call.transfer.bytes_received += len(chunk)
    return chunk


async def read_body(
    resp: aiohttp.ClientResponse, call: Call, limit: int, *, truncate: bool = False
) -> bytes:
    """The rest of the body; over ``limit`` it is cut (``truncate``) or refused."""
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await read_some(resp, call)
        except ProviderError:
            if truncate:  # an error body cut short still says something
                break
            raise
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            if truncate:
                break
            raise ProviderError(
                ErrorKind.BAD_RESPONSE, f"answer larger than {limit} bytes", status=resp.status
            )
    return b"".join(parts)


class Splitter(Protocol[_U]):
    """Cuts a body into the units of its framing (SSE events, NDJSON lines)."""

    def feed(self, data: bytes) -> list[_U]: ...

    def finish(self) -> list[_U]: ...


class StreamDecoder(Generic[_U]):
    """Turns the bytes of one streamed answer into events (one per request).

    ``feed`` returns the events completed by a piece of the body. ``done`` is
    true once the format's end marker has been seen. ``finish`` is called when
    the body ends (or after ``done``) and returns the closing events (the last
    :class:`~hexai_nvim.providers.base.UsageReport`, then
    :class:`~hexai_nvim.providers.base.Finish`). A stream is complete when
    :meth:`complete` says so (by default: ``done``, or the server gave a stop
    ``reason``); else it was cut short
    (its :class:`~hexai_nvim.providers.base.Finish` says
    :attr:`~hexai_nvim.providers.base.StopReason.CUT`, naming :attr:`end_marker`).

    A failure (malformed data, an error event, a stream cut short) is a
    :class:`ProviderError`. When it comes after events of the same piece, those
    events are returned first and the failure is kept in ``error``: the
    caller delivers the text, then raises ``error``. Without such events the
    failure is raised at once.

    A wire format passes the :class:`Splitter` of its framing and implements
    :meth:`unit`, which sets ``done`` and ``reason`` as the units say.
    """

    #: What completes a stream, for the "truncated" message.
    end_marker = "its end marker"

    def __init__(self, splitter: Splitter[_U], api_key: str | None) -> None:
        self.splitter = splitter
        #: Scrubbed from every message the decoder raises.
        self.api_key = api_key
        self.usage = UsageTracker()
        self.done = False
        #: Why the server stopped (``finish_reason``, ``stop_reason`` ...), once said.
        self.reason: str | None = None
        self.error: ProviderError | None = None

    def unit(self, unit: _U, events: list[ProviderEvent]) -> None:
        """Append the events of one unit of the body; raise on a failure."""
        raise NotImplementedError

    def decode(self, data: bytes, events: list[ProviderEvent]) -> None:
        """Append the events completed by ``data``; nothing after ``done``."""
        for unit in self.splitter.feed(data):
            if self.done:
                break
            self.unit(unit, events)

    def complete(self) -> bool:
        """Whether the format's end signal was seen (else the stream was cut)."""
        return self.done or self.reason is not None

    def close(self, events: list[ProviderEvent]) -> None:
        """Append the closing events: a :class:`Finish`, whose ``stop`` is
        :attr:`StopReason.CUT` when the end signal never came."""
        if not self.done:
            for unit in self.splitter.finish():
                self.unit(unit, events)
        events.append(finish_or_cut(self.complete(), self.reason, self.end_marker))

    def feed(self, data: bytes) -> list[ProviderEvent]:
        if self.error is not None:
            raise self.error
        events: list[ProviderEvent] = []
        self._guarded(self.decode, data, events)
        return events

    def finish(self) -> list[ProviderEvent]:
        if self.error is not None:
            raise self.error
        events: list[ProviderEvent] = []
        self._guarded(lambda _data, out: self.close(out), b"", events)
        return events

    def _guarded(self, step: Any, data: bytes, events: list[ProviderEvent]) -> None:
        try:
            step(data, events)
        except ProviderError as exc:
            if not events:
                raise
            self.error = exc


class JsonHttpProvider(Provider):
    """A client that POSTs JSON and reads a streamed or whole answer.

    Subclasses implement :meth:`endpoint`, :meth:`headers`, :meth:`payload`,
    :meth:`decoder` and :meth:`whole`; :meth:`is_whole_json` decides how to read
    an answer (a JSON body where a stream was asked for is read whole).
    """

    def __init__(self, spec_headers: Mapping[str, str], base_url: str, http: HttpPool) -> None:
        self.base_url = base_url.rstrip("/")
        self.spec_headers = dict(spec_headers)
        self.http = http

    # -- what a wire format supplies -------------------------------------

    def endpoint(self, call: Call) -> str:
        raise NotImplementedError

    def headers(self, call: Call) -> dict[str, str]:
        raise NotImplementedError

    def payload(self, call: Call) -> dict[str, Any]:
        raise NotImplementedError

    def decoder(self, call: Call) -> StreamDecoder[Any]:
        raise NotImplementedError

    def whole(self, data: Any, call: Call) -> list[ProviderEvent]:
        """Events of a whole JSON answer (text, usage, then :class:`Finish`)."""
        raise NotImplementedError

    def is_whole_json(self, content_type: str, first: bytes, call: Call) -> bool:
        if "event-stream" in content_type or "ndjson" in content_type:
            return False
        if "json" in content_type or not call.stream:
            return True
        return first.lstrip()[:1] == b"{"

    # -- the loop ----------------------------------------------------------

    def request_headers(self, call: Call) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        headers.update(self.headers(call))
        # Configured headers come last: a user may override ours.
        headers.update(self.spec_headers)
        return headers

    async def get_json(self, url: str, call: Call, limit: int = LIST_BODY_LIMIT) -> Any:
        """``GET url`` with this provider's headers; the JSON answer (bounded)."""
        headers = self.request_headers(call)
        headers.pop("Content-Type", None)
        headers.pop("Accept", None)
        async with open_post(self.http, url, None, headers, call, method="GET") as resp:
            body = await read_body(resp, call, limit)
        return decode_json(body, call.api_key, "model list")

    async def post_json(self, url: str, payload: Any, call: Call,
                        limit: int = LIST_BODY_LIMIT) -> Any:
        """``POST url`` with a JSON body and this provider's headers; the JSON answer."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        async with open_post(self.http, url, body, self.request_headers(call), call) as resp:
            data = await read_body(resp, call, limit)
        return decode_json(data, call.api_key, "answer")

    def encode(self, call: Call) -> bytes:
        return json.dumps(self.payload(call), ensure_ascii=False, separators=(",", ":")).encode()

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        url = self.endpoint(call)
        body = self.encode(call)
        closing: list[ProviderEvent] = []
        error: ProviderError | None = None
        async with open_post(self.http, url, body, self.request_headers(call), call) as resp:
            try:
                first = await read_some(resp, call)
            except ProviderError:
                if call.transfer.bytes_received:
                    raise
                first = b""  # a body that ends before its first byte is empty too
            if not first:
                # No answer of any format is empty; llama-cpp-python answers a
                # streamed prompt larger than its context this way (its chunked
                # body sometimes ends without its last chunk).
                raise ProviderError(
                    ErrorKind.CONTEXT_LENGTH,
                    "the server sent an empty answer (llama-cpp-python does that when the "
                    "prompt does not fit its context)",
                    status=resp.status,
                )
            content_type = resp.headers.get("Content-Type", "").lower()
            if self.is_whole_json(content_type, first, call):
                rest = await read_body(resp, call, WHOLE_BODY_LIMIT) if first else b""
                data = decode_json(first + rest, call.api_key)
                closing = self.whole(data, call)
            else:
                decoder = self.decoder(call)
                chunk = first
                while chunk:
                    for event in decoder.feed(chunk):
                        yield event
                    if decoder.error is not None:
                        raise decoder.error
                    if decoder.done:
                        break
                    chunk = await read_some(resp, call)
                if decoder.done and not resp.content.at_eof():
                    # The end marker usually shares a read with the end of
                    # the body; one more look lets the connection be reused.
                    await _drain_briefly(resp, call)
                closing = decoder.finish()
                error = decoder.error
        for event in closing:
            yield event
        if error is not None:
            raise error


async def _drain_briefly(resp: aiohttp.ClientResponse, call: Call) -> None:
    """Read what is left after an end marker, for at most a moment."""

    async def drain() -> None:
        while await read_some(resp, call):
            pass

    # If it does not end at once the connection is not reused: open_post closes it.
    with contextlib.suppress(asyncio.TimeoutError, ProviderError):
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(0.05):  # no extra task, unlike wait_for
                await drain()
        else:  # pragma: no cover - Python 3.10
            await asyncio.wait_for(drain(), 0.05)


def finish_or_cut(complete: bool, reason: str | None, what: str) -> Finish:
    """The :class:`Finish` of a stream: ``cut`` when it ended before ``what``."""
    if not complete:
        return Finish(reason, StopReason.CUT, missing=what)
    return Finish(reason)


def _as_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


class UsageTracker:
    """Merges token counts found anywhere in an answer.

    ``update`` takes the server's usage report (``usage``, ``x_groq.usage``,
    ``prompt_eval_count`` ...); ``update_timings`` takes llama.cpp's
    ``timings``, which only fill in what no usage report said: usage wins
    (llama-server's ``timings.prompt_n`` leaves out the cached prompt tokens,
    its ``usage.prompt_tokens`` does not). Both return a :class:`UsageReport`
    holding everything known so far when a count changed, else ``None``:
    consumers may keep the last report.
    """

    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self._from_usage = [False, False]

    def update(self, input_tokens: Any = None, output_tokens: Any = None) -> UsageReport | None:
        return self._set((input_tokens, output_tokens), usage=True)

    def update_timings(self, timings: Mapping[str, Any]) -> UsageReport | None:
        """Counts of llama.cpp ``timings``: input ``prompt_n + cache_n``, output ``predicted_n``."""
        prompt = _as_count(timings.get("prompt_n"))
        cached = _as_count(timings.get("cache_n")) or 0
        return self._set(
            (None if prompt is None else prompt + cached, timings.get("predicted_n")), usage=False
        )

    def _set(self, counts: tuple[Any, Any], *, usage: bool) -> UsageReport | None:
        changed = False
        for slot, value in enumerate(counts):
            count = _as_count(value)
            if count is None or (self._from_usage[slot] and not usage):
                continue
            self._from_usage[slot] = self._from_usage[slot] or usage
            current = self.input_tokens if slot == 0 else self.output_tokens
            if count != current:
                if slot == 0:
                    self.input_tokens = count
                else:
                    self.output_tokens = count
                changed = True
        return UsageReport(self.input_tokens, self.output_tokens) if changed else None


#: Substrings of error ``type``/``code`` strings, in the order they are tried.
_ERROR_TYPE_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("rate_limit", ErrorKind.RATE_LIMITED),
    ("quota", ErrorKind.RATE_LIMITED),
    ("auth", ErrorKind.AUTH),
    ("permission", ErrorKind.AUTH),
    ("api_key", ErrorKind.AUTH),
    ("not_found", ErrorKind.NOT_FOUND),
    ("timeout", ErrorKind.TIMEOUT),
    ("overloaded", ErrorKind.SERVER),
    ("server", ErrorKind.SERVER),
    ("api_error", ErrorKind.SERVER),
    ("invalid_request", ErrorKind.BAD_RESPONSE),
    ("too_large", ErrorKind.BAD_RESPONSE),
)


def error_from_payload(
    data: Any, api_key: str | None, default: ErrorKind = ErrorKind.SERVER
) -> ProviderError:
    """The error value of an error object met inside a 2xx answer or stream.

    The kind comes from a numeric ``code`` (an HTTP status, as OpenRouter
    sends mid-stream) or from the error's ``type``/``code`` string
    (``rate_limit_error``, ``overloaded_error`` ...), else ``default``.
    """
    message = provider_message(data) or "the server reported an error"
    err = data.get("error") if isinstance(data, dict) else None
    kind = default
    status: int | None = None
    if isinstance(err, dict):
        code = err.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and 300 <= code < 600:
            status = code
            kind = kind_for_status(code)
        else:
            label = " ".join(str(err.get(k) or "") for k in ("type", "code")).lower()
            for needle, candidate in _ERROR_TYPE_KINDS:
                if needle in label:
                    kind = candidate
                    break
    return ProviderError(kind, _shorten(scrub(message, api_key)), status=status)
