"""Incremental parsers for streamed bodies: lines, Server-Sent Events, NDJSON.

Bytes arrive in arbitrary pieces (a TCP read may end inside a line, inside a
CRLF pair, or inside a multi-byte UTF-8 character). These parsers take the
pieces as they come and hand back only complete units, so feeding a body byte
by byte gives the same result as feeding it whole.

What a caller may rely on:

- :class:`LineSplitter` accepts ``\\n``, ``\\r\\n`` and a lone ``\\r`` as line
  ends (the three the SSE specification allows), decodes each line as UTF-8
  (invalid bytes are replaced, never raised) and returns lines without their
  terminator.
- :class:`SSEParser` follows the event-stream rules: ``field: value`` lines
  (one space after the colon is dropped), comment lines starting with ``:``
  ignored (OpenRouter's ``: OPENROUTER PROCESSING``), several ``data`` lines
  joined with ``\\n``, an event dispatched by a blank line, ``event`` naming the
  event (``""`` when absent). Unknown fields are ignored.
- ``finish()`` is lenient: a last line without its terminator and a last event
  without its blank line are still returned, because some servers end that
  way. A body cut in the middle of a JSON payload therefore shows up as bad
  JSON to the caller, not as silence.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LineSplitter", "SSEEvent", "SSEParser"]


class LineSplitter:
    """Split a byte stream into decoded text lines, one piece at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        # A chunk that ended in "\r" may be followed by the "\n" of a CRLF
        # pair in the next chunk; that "\n" must not count as an empty line.
        self._after_cr = False

    def feed(self, data: bytes) -> list[str]:
        """Add ``data``; return the lines it completed (possibly none)."""
        if not data:
            return []
        lines: list[str] = []
        buf = self._buffer
        start = 0
        if self._after_cr and data[:1] == b"\n":
            start = 1
        self._after_cr = False
        if b"\r" not in data:
            # The common case (LF only): one split instead of a scan per line.
            parts = data[start:].split(b"\n")
            if self._buffer:
                parts[0] = bytes(self._buffer) + parts[0]
                self._buffer.clear()
            self._buffer += parts.pop()
            return [_decode(part) for part in parts]
        i = start
        n = len(data)
        while i < n:
            # Find the next line end; bytes.find is far cheaper than a Python
            # loop over every byte.
            lf = data.find(b"\n", i)
            cr = data.find(b"\r", i)
            if lf < 0 and cr < 0:
                buf += data[i:]
                break
            end = lf if cr < 0 or (0 <= lf < cr) else cr
            buf += data[i:end]
            lines.append(_decode(buf))
            buf.clear()
            if data[end : end + 1] == b"\r":
                if end + 1 < n:
                    i = end + 2 if data[end + 1 : end + 2] == b"\n" else end + 1
                else:
                    self._after_cr = True
                    i = n
            else:
                i = end + 1
        return lines

    def finish(self) -> list[str]:
        """The unterminated last line, if any (the stream has ended)."""
        self._after_cr = False
        if not self._buffer:
            return []
        line = _decode(self._buffer)
        self._buffer.clear()
        return [line]

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held back."""
        return len(self._buffer)


def _decode(raw: bytes | bytearray) -> str:
    # Each line is complete, so no character is split across calls here.
    return bytes(raw).decode("utf-8", "replace")


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched Server-Sent Event."""

    event: str
    data: str
    id: str | None = None


class SSEParser:
    """Turn a ``text/event-stream`` body into :class:`SSEEvent` values, incrementally."""

    def __init__(self) -> None:
        self._lines = LineSplitter()
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_fields = False
        #: Comment lines seen (``: ...``), e.g. keep-alives; for diagnostics.
        self.comments = 0

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Add ``data``; return the events it completed (possibly none)."""
        events: list[SSEEvent] = []
        for line in self._lines.feed(data):
            self._line(line, events)
        return events

    def finish(self) -> list[SSEEvent]:
        """Events still pending when the body ended (see the module notes)."""
        events: list[SSEEvent] = []
        for line in self._lines.finish():
            self._line(line, events)
        self._dispatch(events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            self.comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_fields = True
        elif name == "event":
            self._event = value
            self._has_fields = True
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields carry nothing we use.

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._has_fields and self._data:
            events.append(SSEEvent(self._event, "\n".join(self._data), self._id))
        # An event with no data lines is dropped, as the specification says.
        self._event = ""
        self._data = []
        self._has_fields = False
