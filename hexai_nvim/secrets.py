"""The one scrubber: every secret the process knows, removed from every text it lets out.

Secrets are registered where they become known: the config's (every header
value, the user's withheld headers, the password, token or query values of a
``base_url``, and the Base64 ``user:pass`` form a server sees as Basic auth)
when a config is loaded, API keys when they are resolved. Every channel that
leaves the process passes its text through :func:`scrub` (or
:func:`scrub_data` for structured values): provider and engine errors, the
host's calls into Lua and its notifications, the log file, the stats file,
the terminal (``hexai ...``, text and JSON).

What a caller may rely on:

- a registered secret never survives :func:`scrub`, whole or echoed in part:
  a token of the text (a run without spaces or quotes) that shares any
  :data:`SLICE` consecutive characters with a strong secret (12 characters or
  more, letters and digits) is replaced whole, so ``sk-abc123…wxyz`` echoes,
  ``Bearer`` forms and cut-off keys all go;
- values shorter than :data:`MIN_SECRET` are not treated as secrets (they
  would blank out ordinary words);
- thread-safe; registering is cheap and idempotent; nothing is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from hexai_nvim.config.model import Config, ProviderSpec

__all__ = [
    "MIN_SECRET",
    "REDACTED",
    "SLICE",
    "ScrubbedStream",
    "Scrubber",
    "ScrubbingFormatter",
    "remember",
    "remember_config",
    "scrub",
    "scrub_data",
    "secrets_of_spec",
]

REDACTED = "[redacted]"
#: Shorter values are not secrets.
MIN_SECRET = 8
#: Length of the pieces of a strong secret that mark a token as an echo.
SLICE = 6
#: Runs of text scrubbed as one token.
_TOKEN = re.compile(r"[^\s\"'`<>()\[\]{},;|]+")


def _strong(secret: str) -> bool:
    return (
        len(secret) >= 12
        and any(c.isdigit() for c in secret)
        and any(c.isalpha() for c in secret)
    )


def _decoded_basic(token: str) -> list[str]:
    """``user:pass`` and ``pass`` of a Base64 Basic credential (none if it is not one)."""
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return []
    _user, colon, password = text.partition(":")
    return [text, password] if colon and password else []


def value_forms(value: str) -> set[str]:
    """A secret-bearing value and the parts a server may echo: the token after
    an auth scheme (``Bearer x``), and the decoded form of a Basic credential."""
    value = value.strip()
    forms = {value}
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme and token:
        forms.add(token)
        if scheme.lower() == "basic":
            forms.update(_decoded_basic(token))
    return {form for form in forms if len(form) >= MIN_SECRET}


def url_secrets(url: str) -> set[str]:
    """The secrets of a URL: password, a token used as user name, query values,
    and the Base64 ``user:pass`` a server receives as Basic auth."""
    try:
        parts = urllib.parse.urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return set()
    found: set[str] = set()
    if password:
        found.add(urllib.parse.unquote(password))
        pair = f"{urllib.parse.unquote(user or '')}:{urllib.parse.unquote(password)}"
        found.add(base64.b64encode(pair.encode()).decode())
        found.add(pair)
    elif user:
        found.add(urllib.parse.unquote(user))
    for _name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        found.add(value)
    return {s for s in found if len(s) >= MIN_SECRET}


def secrets_of_spec(spec: ProviderSpec) -> set[str]:
    """Every secret a provider's configuration holds (not its API key, which is
    looked up when needed and registered then)."""
    found = url_secrets(spec.base_url)
    for headers in (spec.headers, spec.withheld_headers):
        for value in headers.values():
            if isinstance(value, str):
                found.update(value_forms(value))
    return found


class Scrubber:
    """A set of secrets and the function that removes them from text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._slices: set[str] = set()
        self._ordered: list[str] = []
        # Precompiled when the secrets change: one pass finds every whole
        # secret, one search tells whether any slice occurs at all (almost
        # always not: then no token is looked at).
        self._whole: re.Pattern[str] | None = None
        self._any_slice: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        """Register secrets (and their echo forms); short or empty ones are ignored."""
        fresh: set[str] = set()
        for value in values:
            if isinstance(value, str) and value.strip():
                fresh.update(value_forms(value))
        with self._lock:
            fresh -= self._secrets
            if not fresh:
                return
            self._secrets |= fresh
            for secret in fresh:
                # ``user:pass`` forms are replaced whole only: their slices
                # would blank out the (harmless) user name in masked URLs.
                if _strong(secret) and not any(c.isspace() or c == ":" for c in secret):
                    self._slices.update(
                        secret[i : i + SLICE] for i in range(len(secret) - SLICE + 1)
                    )
            self._ordered = sorted(self._secrets, key=len, reverse=True)
            # Longest first: a secret that contains another is replaced whole.
            self._whole = re.compile("|".join(map(re.escape, self._ordered)))
            self._any_slice = (
                re.compile("|".join(map(re.escape, sorted(self._slices))))
                if self._slices else None
            )

    def __contains__(self, value: str) -> bool:
        with self._lock:
            return value in self._secrets

    def scrub(self, text: str, *extra: str | None) -> str:
        """``text`` with every secret (and ``extra`` ones) replaced by :data:`REDACTED`."""
        if not text or len(text) < SLICE:
            return text  # too short to hold a secret or a slice of one
        if any(extra):
            other = Scrubber(extra)
            text = other.scrub(text)
        with self._lock:
            whole, any_slice, slices = self._whole, self._any_slice, self._slices
        if whole is None:
            return text
        text = whole.sub(REDACTED, text)
        if any_slice is None or any_slice.search(text) is None:
            return text

        def token(match: re.Match[str]) -> str:
            word = match.group(0)
            if len(word) >= SLICE and any(
                word[i : i + SLICE] in slices for i in range(len(word) - SLICE + 1)
            ):
                return REDACTED
            return word

        return _TOKEN.sub(token, text)

    def scrub_data(self, value: Any) -> Any:
        """A copy of ``value`` (dicts, lists, tuples, strings) with every string scrubbed
        (``value`` itself while no secret is known)."""
        if self._whole is None:
            return value  # no secret known: nothing to remove (and nothing copied)
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub_data(k): self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_data(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.scrub_data(item) for item in value)
        return value


#: The process's scrubber.
PROCESS = Scrubber()


def remember(*values: str | None) -> None:
    """Register secrets with the process's scrubber (an API key when resolved)."""
    PROCESS.add(*values)


def remember_config(config: Config) -> None:
    """Register every secret of ``config``'s providers."""
    for spec in config.providers.values():
        PROCESS.add(*secrets_of_spec(spec))


def scrub(text: str, *extra: str | None) -> str:
    """``text`` without any secret the process knows (nor ``extra`` ones)."""
    return PROCESS.scrub(text, *extra)


def scrub_data(value: Any) -> Any:
    """:func:`scrub` applied to every string inside ``value``."""
    return PROCESS.scrub_data(value)


class ScrubbingFormatter(logging.Formatter):
    """A log formatter whose every line (message, arguments, traceback) is scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class ScrubbedStream:
    """A text stream (``sys.stdout``) whose writes are scrubbed; everything else
    (``fileno``, ``isatty``, ``flush``, ``encoding`` ...) is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
