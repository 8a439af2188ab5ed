"""The incremental line and SSE parsers: any split of the bytes gives the same result."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hexai_nvim.providers.sse import LineSplitter, SSEEvent, SSEParser

DATA = Path(__file__).parent / "data"


def feed_in_pieces(body: bytes, cuts: list[int]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    last = 0
    for cut in sorted(set(cuts)):
        events += parser.feed(body[last:cut])
        last = cut
    events += parser.feed(body[last:])
    return events + parser.finish()


def feed_bytewise(body: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(len(body)):
        events += parser.feed(body[i : i + 1])
    return events + parser.finish()


def test_lines_end_with_lf_crlf_or_lone_cr() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb\r\nc\rd") == ["a", "b", "c"]
    assert splitter.finish() == ["d"]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\r") == ["one"]
    # The "\n" completing the CRLF must not produce an empty line.
    assert splitter.feed(b"\ntwo\r") == ["two"]
    assert splitter.feed(b"") == []
    assert splitter.feed(b"\n\r\n") == [""]


def test_multibyte_utf8_split_across_reads_is_decoded_whole() -> None:
    raw = "ok ✓ — ü\n".encode()
    splitter = LineSplitter()
    lines: list[str] = []
    for i in range(len(raw)):
        lines += splitter.feed(raw[i : i + 1])
    assert lines == ["ok ✓ — ü"]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert LineSplitter().feed(b"a\xffb\n") == ["a\ufffdb"]


def test_sse_fields_comments_and_multiline_data() -> None:
    body = (
        b": OPENROUTER PROCESSING\n\n"
        b'event: message_start\ndata: {"a": 1}\n\n'
        b"data:no-space\n\n"
        b"data: line1\ndata: line2\nid: 7\nretry: 100\nunknown: x\n\n"
        b"event: empty\n\n"
    )
    parser = SSEParser()
    events = parser.feed(body)
    assert events == [
        SSEEvent("message_start", '{"a": 1}'),
        SSEEvent("", "no-space"),
        SSEEvent("", "line1\nline2", "7"),
    ]
    assert parser.comments == 1


def test_event_name_does_not_leak_into_the_next_event() -> None:
    events = SSEParser().feed(b"event: ping\ndata: {}\n\ndata: {}\n\n")
    assert [e.event for e in events] == ["ping", ""]


def test_finish_returns_an_event_without_its_blank_line() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.finish() == [SSEEvent("", "[DONE]")]


def test_real_bodies_parse_the_same_bytewise_and_whole() -> None:
    for path in sorted(DATA.glob("*.sse")):
        body = path.read_bytes()
        whole = SSEParser().feed(body)
        assert whole, path.name
        assert feed_bytewise(body) == whole, path.name
        crlf = body.replace(b"\n", b"\r\n")
        assert feed_bytewise(crlf) == whole, f"{path.name} with CRLF"
        cr = body.replace(b"\n", b"\r")
        assert feed_bytewise(cr) == whole, f"{path.name} with CR"


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(p.name for p in DATA.glob("*.sse"))),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40),
)
def test_any_split_of_a_body_gives_the_same_events(name: str, crlf: bool, cuts: list[int]) -> None:
    body = (DATA / name).read_bytes()
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    cuts = [c % (len(body) + 1) for c in cuts]
    assert feed_in_pieces(body, cuts) == SSEParser().feed(body)
