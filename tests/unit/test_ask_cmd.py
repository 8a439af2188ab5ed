"""``hexai ask`` pieces: arguments, prompt rules, views (no network)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
from collections.abc import AsyncIterator
from types import MappingProxyType

import pytest

from hexai_nvim.cli.ask_cmd import (
    BlindView,
    JsonView,
    LiveView,
    PlainView,
    add_parser,
    ask,
    clip,
    join_prompt,
    sanitize,
    select_entries,
    stats_line,
    with_timeout,
    wrap,
)
from hexai_nvim.config.model import (
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine
from hexai_nvim.engine.events import ChunkEvent, DoneEvent, ErrorEvent, StartEvent
from hexai_nvim.engine.results import EntryResult, EntryStats, ErrorInfo
from hexai_nvim.providers.base import (
    Call,
    ErrorKind,
    Provider,
    ProviderError,
    ProviderEvent,
    TextDelta,
    UsageReport,
)
from hexai_nvim.surfaces.ask_blind import HIDDEN_ERROR, BlindAsk


def make_entry(i: int, name: str = "p") -> Entry:
    spec = ProviderSpec(name=name, kind="openai-compatible", base_url="http://127.0.0.1:9")
    return Entry(
        surface="ask",
        index=i,
        provider=spec,
        model=f"m{i}",
        temperature=0.2,
        label=f"{name}:m{i}",
        max_tokens=50,
        timeout_ms=2000,
        stream=True,
    )


ENTRIES = tuple(make_entry(i) for i in range(3))


def make_config(entries: tuple[Entry, ...] = ENTRIES) -> Config:
    return Config(
        general=General(),
        completion=CompletionSettings(),
        engine=EngineSettings(),
        providers=MappingProxyType({e.provider.name: e.provider for e in entries}),
        models=MappingProxyType({"ask": entries}),
    )


def ok_stats(**kw: object) -> EntryStats:
    base: dict[str, object] = {
        "queued_ms": 0.0,
        "ttft_ms": 120.0,
        "total_ms": 1500.0,
        "input_tokens": 12,
        "output_tokens": 40,
        "tokens_estimated": False,
        "bytes_sent": 10,
        "bytes_received": 20,
        "status": "ok",
        "chunks": 5,
    }
    base.update(kw)
    return EntryStats(**base)  # type: ignore[arg-type]


def result(i: int, text: str, error: ErrorInfo | None = None) -> EntryResult:
    stats = ok_stats() if error is None else ok_stats(status="error", error_kind=error.kind.value)
    return EntryResult(i, ENTRIES[i], text, bool(error and text), error, stats)


# ---------------------------------------------------------------------------
# Arguments and prompt
# ---------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["ask", *argv])


def test_short_entry_flags_and_prompt_words() -> None:
    args = parse("-0", "-2", "--json", "--timeout", "1.5", "say", "hi")
    assert args.only == [0, 2] and args.json and args.timeout == 1.5
    assert args.prompt == ["say", "hi"]
    assert parse("-10", "--entry", "3", "x").only == [10, 3]
    assert parse("--", "-leading dash").prompt == ["-leading dash"]


def test_select_entries_keeps_config_order_and_rejects_unknown() -> None:
    assert select_entries(ENTRIES, None) == ENTRIES
    assert [e.index for e in select_entries(ENTRIES, [2, 0, 2])] == [0, 2]
    with pytest.raises(ValueError, match=r"no ask entry 5 \(entries are 0..2\)"):
        select_entries(ENTRIES, [5])


def test_timeout_overrides_each_entry() -> None:
    assert [e.timeout_ms for e in with_timeout(ENTRIES, 0.25)] == [250, 250, 250]
    assert with_timeout(ENTRIES, None) == ENTRIES
    with pytest.raises(ValueError):
        with_timeout(ENTRIES, 0)


def test_prompt_from_args_and_stdin_follows_hexai() -> None:
    assert join_prompt("summarize", "line 1\nline 2\n") == "summarize:\n\nline 1\nline 2\n"
    assert join_prompt("just args", "") == "just args"
    assert join_prompt("", "only stdin\n") == "only stdin\n"
    assert join_prompt("  ", "  ") == "  "


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------


def test_stats_line_for_answers_and_errors() -> None:
    line = stats_line(result(0, "x"))
    assert line == "ttft 120 ms · total 1.50 s · 12 in / 40 out tok · 28.3 tok/s"  # 39 / 1.38 s
    err = stats_line(result(1, "", ErrorInfo(ErrorKind.AUTH, "bad key", 401)))
    # The entry-state words of every surface (the ask view's header says the same).
    assert err.startswith("✗ error (auth) · HTTP 401: bad key")
    cut = stats_line(result(1, "part", ErrorInfo(ErrorKind.TIMEOUT, "cut at 100 ms")))
    assert cut.startswith("✗ truncated (timeout) · cut at 100 ms")
    gone = stats_line(result(1, "", ErrorInfo(ErrorKind.CANCELLED, "cancelled")))
    assert gone.startswith("cancelled") and "✗" not in gone


def test_sanitize_strips_terminal_controls() -> None:
    assert sanitize("a\x1b[2Jb\x07c\r\nd\te\x9bf") == "a[2Jbc\nd   ef"


def test_clip_and_wrap_count_wide_characters() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 4) == "abc"
    assert clip("日本語テキスト", 6) == "日本…"
    assert wrap("abcdefg\nhi", 3) == ["abc", "def", "g", "hi"]
    assert wrap("日本語", 4) == ["日本", "語"]


# ---------------------------------------------------------------------------
# A tiny terminal, to check what the live view leaves on screen
# ---------------------------------------------------------------------------


class Terminal:
    """Enough of a VT100 for the live view: text, CR, LF, CUU, ED, SGR."""

    def __init__(self, cols: int) -> None:
        self.cols = cols
        self.lines: list[list[str]] = [[]]
        self.row = 0
        self.col = 0

    def feed(self, data: str) -> None:
        for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|.", data, re.S):
            if token.startswith("\x1b["):
                self._csi(token)
            elif token == "\n":
                self._newline()
            elif token == "\r":
                self.col = 0
            else:
                assert token.isprintable(), f"control {token!r} reached the terminal"
                if self.col >= self.cols:
                    self._newline()
                line = self.lines[self.row]
                while len(line) < self.col:
                    line.append(" ")
                if self.col < len(line):
                    line[self.col] = token
                else:
                    line.append(token)
                self.col += 1

    def _newline(self) -> None:
        self.row += 1
        self.col = 0
        while len(self.lines) <= self.row:
            self.lines.append([])

    def _csi(self, token: str) -> None:
        final, arg = token[-1], token[2:-1]
        if final == "A":
            self.row = max(0, self.row - int(arg or 1))
        elif final == "J":
            del self.lines[self.row + 1 :]
            del self.lines[self.row][self.col :]
        elif final in ("m", "h", "l"):
            pass
        else:
            raise AssertionError(f"unexpected escape {token!r}")

    def text(self) -> list[str]:
        return ["".join(line).rstrip() for line in self.lines]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live_view(cols: int = 100, rows: int = 20) -> tuple[LiveView, io.StringIO, FakeClock]:
    out = io.StringIO()
    clock = FakeClock()
    view = LiveView(
        out, ENTRIES, color=True, size=lambda: os.terminal_size((cols, rows)), clock=clock
    )
    return view, out, clock


def test_live_view_redraws_in_place_and_leaves_clean_blocks() -> None:
    view, out, clock = live_view()
    for i in range(3):
        view.apply(StartEvent(i, ENTRIES[i]))
    view.apply(ChunkEvent(0, ENTRIES[0], "first line\nsecond"))
    view.redraw()
    term = Terminal(100)
    term.feed(out.getvalue())
    screen = term.text()
    assert screen[0].endswith("p:m0  0.0s · 17 chars")
    assert screen[1] == "  │ first line" and screen[2] == "  │ second"
    assert "p:m1  0.0s · waiting for the first token" in screen[3]

    clock.now += 1.0
    view.apply(ChunkEvent(1, ENTRIES[1], "beta \x1b[31m answer"))
    view.apply(DoneEvent(1, ENTRIES[1], result(1, "beta answer")))
    view.redraw()
    view.apply(ErrorEvent(0, ENTRIES[0], result(0, "", ErrorInfo(ErrorKind.AUTH, "nope", 401))))
    view.redraw()
    term = Terminal(100)
    term.feed(out.getvalue())
    screen = term.text()
    # finished blocks first (in the order they finished), the live region below
    assert screen[0].startswith("━━ p:m1 ━")
    assert screen[1] == "beta answer"
    assert screen[2].startswith("ttft 120 ms")
    assert screen[4].startswith("━━ p:m0 ━")
    assert screen[5].startswith("✗ error (auth) · HTTP 401: nope")
    assert screen[-1].endswith("p:m2  1.0s · waiting for the first token")

    view.finish([result(i, f"answer {i}") for i in range(3)])
    term = Terminal(100)
    term.feed(out.getvalue())
    screen = term.text()
    headers = [line.split()[1] for line in screen if line.startswith("━━")]
    assert headers == ["p:m1", "p:m0", "p:m2"]  # each once, nothing left of the live region
    assert not any("waiting" in line or "│" in line for line in screen)
    assert "answer 2" in screen


def test_live_region_never_outgrows_the_terminal() -> None:
    many = tuple(make_entry(i) for i in range(30))
    out = io.StringIO()
    view = LiveView(out, many, color=False, size=lambda: os.terminal_size((40, 10)))
    for i, e in enumerate(many):
        view.apply(StartEvent(i, e))
        view.apply(ChunkEvent(i, e, "word " * 200))
    lines = view.live_region(40, 10)
    assert len(lines) <= 9
    assert lines[-1].strip().startswith("… and")
    assert all(len(line) <= 39 for line in lines)
    few = view.live_region(40, 3)  # too small: no live region at all
    assert few == []


# ---------------------------------------------------------------------------
# Plain and JSON views, through the real engine with a fake provider
# ---------------------------------------------------------------------------


class Canned(Provider):
    kinds = ("fake",)
    requires_key = False

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        if call.model == "m1":
            raise ProviderError(ErrorKind.AUTH, "invalid key", status=401)
        await asyncio.sleep(0.01 if call.model == "m0" else 0)
        yield TextDelta(f"answer of {call.model}")
        yield UsageReport(5, 3)


def engine_factory(config: Config) -> Engine:
    return Engine(config, provider_factory=lambda s: Canned())


async def test_json_view_prints_exactly_the_documented_shape() -> None:
    out = io.StringIO()
    results = await ask(make_config(), ENTRIES, "hi", JsonView(out), engine_factory)
    doc = json.loads(out.getvalue())
    assert list(doc) == ["entries"]
    first, second, third = doc["entries"]
    assert set(first) == {"provider", "model", "label", "text", "truncated", "stop_reason",
                          "finish_reason", "error", "stats", "fallback_of"}
    assert first["text"] == "answer of m0" and first["error"] is None
    assert first["fallback_of"] is None  # provider:model of the primary when a fallback answered
    assert (first["stop_reason"], second["stop_reason"]) == ("stop", "error")
    assert second["error"] == {"kind": "auth", "message": "invalid key"}
    assert third["label"] == "p:m2" and third["provider"] == "p" and third["model"] == "m2"
    for key in ("ttft_ms", "total_ms", "input_tokens", "output_tokens", "status"):
        assert key in first["stats"]
    assert first["stats"]["input_tokens"] == 5 and first["stats"]["status"] == "ok"
    assert [r.ok for r in results] == [True, False, True]


async def test_plain_view_prints_blocks_in_config_order() -> None:
    out, err = io.StringIO(), io.StringIO()
    await ask(make_config(), ENTRIES, "hi", PlainView(out, err, ENTRIES), engine_factory)
    assert out.getvalue() == (
        "=== p:m0 ===\nanswer of m0\n\n"
        "=== p:m1 ===\n[auth (HTTP 401): invalid key]\n\n"
        "=== p:m2 ===\nanswer of m2\n"
    )
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["p", "p", "p"]
    assert lines[1].startswith("p:m1: ✗ error (auth) · HTTP 401")


async def test_plain_view_streams_a_single_entry() -> None:
    out, err = io.StringIO(), io.StringIO()
    one = (ENTRIES[2],)
    await ask(make_config(one), one, "hi", PlainView(out, err, one), engine_factory)
    assert out.getvalue() == "answer of m2\n"
    assert err.getvalue().startswith("p:m2: ")


# ---------------------------------------------------------------------------
# --blind
# ---------------------------------------------------------------------------


async def test_blind_plain_view_prints_letters_in_shuffled_order_then_the_reveal() -> None:
    out, err = io.StringIO(), io.StringIO()
    blind = BlindAsk([2, 0, 1])  # A shows entry 2, B entry 0, C entry 1 (the failing one)
    view = BlindView(lambda shown: PlainView(out, err, shown), ENTRIES, blind, err)
    results = await ask(make_config(), ENTRIES, "hi", view, engine_factory)
    assert out.getvalue() == (
        "=== Answer A ===\nanswer of m2\n\n"
        "=== Answer B ===\nanswer of m0\n\n"
        f"=== Answer C ===\n[auth (HTTP 401): {HIDDEN_ERROR}]\n"
    )
    before, _, reveal = err.getvalue().partition("\nrevealed: ")
    for hidden in ("p:m", "invalid key", " ms", "tok", "ttft"):
        assert hidden not in out.getvalue() + before, hidden
    assert before.splitlines()[0] == "Answer A: done"  # its figures wait for the reveal
    assert reveal.startswith("A = p:m2, B = p:m0, C = p:m1\n")
    assert "  C = p:m1 (p:m1): ✗ error (auth) · HTTP 401: invalid key" in reveal
    assert "  A = p:m2 (p:m2): " in reveal and "ttft " in reveal and " tok/s" in reveal
    # The results themselves are the real ones (exit status, --json callers).
    assert [r.entry.label for r in results] == ["p:m0", "p:m1", "p:m2"]


def test_blind_live_view_shows_no_elapsed_time() -> None:
    out = io.StringIO()
    clock = FakeClock()
    blind = BlindAsk([1, 0, 2])
    view = BlindView(lambda shown: LiveView(out, shown, color=False, clock=clock, elapsed=False,
                                            size=lambda: os.terminal_size((80, 20))),
                     ENTRIES, blind, out)
    inner = view.inner
    assert isinstance(inner, LiveView)
    inner.apply(view.hide(StartEvent(0, ENTRIES[0])))
    clock.now += 2.5
    inner.apply(view.hide(ChunkEvent(0, ENTRIES[0], "abc")))
    region = inner.live_region(80, 20)
    assert any("Answer B" in line and "3 chars" in line for line in region), region
    assert not any(re.search(r"\d\.\ds", line) or "p:m" in line for line in region), region
