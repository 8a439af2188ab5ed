"""``hexai ask``: ask every entry of the ask surface, side by side.

::

    hexai ask [--config F] [--json | --markdown] [--blind [--seed N]] [-0 -1 ...]
              [--timeout S] [PROMPT...]

The prompt comes from the arguments and/or stdin (stdin is read only when it
is not a terminal); with both, hexai's rule applies: ``"<args>:\\n\\n<stdin>"``.

Output, chosen by where stdout goes:

- a terminal: a live view. Finished entries are printed as blocks (header,
  answer, stats line) in the order they finish; below them, redrawn in place,
  one status line per entry still running with the last lines of its answer.
  The live region never grows taller than the terminal, so redrawing it is
  exact; it is dropped (blocks only) on a terminal too small for it.
  Model output is stripped of control characters before it reaches the
  terminal. ``NO_COLOR`` turns colours off; ``TERM=dumb`` means "not a
  terminal".
- not a terminal: one entry streams its answer to stdout as it comes (like
  hexai); several entries are printed as blocks in config order once all
  finished. Stats lines go to stderr.
- ``--json``: one document once all finished::

    {"entries": [{"provider", "model", "label", "text", "truncated",
                  "fallback_of": null | "provider:model" (the primary a fallback
                                 answered for; provider/model are the fallback's),
                  "error": null | {"kind", "message"},
                  "stats": {"ttft_ms", "total_ms", "input_tokens",
                            "output_tokens", "status", ...}}]}

- ``--markdown``: the comparison as Markdown once all finished (question, a
  table of states and stats, each answer; see :mod:`hexai_nvim.surfaces.export`).
- ``--blind`` (or ``[arena] blind = true``; two or more entries): the
  terminal and plain views show "Answer A", "Answer B"... in an order
  shuffled per question (``--seed N`` fixes it), with no names, timings,
  token counts or error texts (:mod:`hexai_nvim.surfaces.ask_blind`); after
  the answers, one reveal block names each letter with its stats line.
  ``--markdown`` keeps the shown order with the revealed labels ("A: qwen");
  ``--json`` is not blind (it is for programs).

Exit status: 0 when every entry answered; 1 when any failed (a truncated
answer is a failure; the others are still printed); 2 for usage or
configuration errors; 130 on Ctrl-C; 0 when the reader of stdout goes away
(``hexai ask ... | head``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from hexai_nvim.surfaces.format import (
    BARE_STOP_WORDS,
    fallback_words,
    format_ms,
    format_stats,
    stop_words,
)

if TYPE_CHECKING:
    from hexai_nvim.config.model import Config, Entry
    from hexai_nvim.engine.core import Engine
    from hexai_nvim.engine.events import Event
    from hexai_nvim.engine.results import EntryResult
    from hexai_nvim.surfaces.ask_blind import BlindAsk

#: Short flags registered as ``-0`` .. ``-31`` (``--entry N`` takes any N).
SHORT_FLAGS = 32


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask every configured entry, side by side",
        description="Ask every entry of the ask surface (models.ask / models.cli) at once.",
        epilog="Exit status: 0 all answered, 1 some failed, 2 usage or config error.",
    )
    parser.add_argument("--config", metavar="FILE", help="use FILE instead of the global config")
    parser.add_argument("--json", action="store_true", help="print one JSON document at the end")
    parser.add_argument(
        "--markdown", action="store_true", help="print the comparison as Markdown at the end"
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="total deadline per entry in seconds"
    )
    parser.add_argument(
        "--blind", action="store_true",
        help="answers as A, B, C in a shuffled order, names and stats revealed at the end "
             "(also [arena] blind = true)",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="fix the order of --blind (reproducible runs)"
    )
    for n in range(SHORT_FLAGS):
        parser.add_argument(
            f"-{n}",
            dest="only",
            action="append_const",
            const=n,
            help="run only entry N (repeatable): -0, -1, ..." if n == 0 else argparse.SUPPRESS,
        )
    parser.add_argument(
        "--entry", dest="only", action="append", type=int, metavar="N", help="same as -N"
    )
    parser.add_argument("prompt", nargs="*", help="the question (else read from stdin)")


def run(args: argparse.Namespace) -> int:
    from hexai_nvim.config.model import ConfigError

    try:
        from hexai_nvim.config import load_config

        config = load_config(args.config)
    except ConfigError as exc:
        print("hexai ask: the configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    entries = config.entries("cli")
    if not entries:
        print(
            "hexai ask: no entries for the ask surface (models.cli / models.ask)", file=sys.stderr
        )
        return 2
    try:
        entries = select_entries(entries, args.only)
        entries = with_timeout(entries, args.timeout)
    except ValueError as exc:
        print(f"hexai ask: {exc}", file=sys.stderr)
        return 2
    stdin_text = read_stdin()
    prompt = join_prompt(" ".join(args.prompt), stdin_text)
    if not prompt.strip():
        print("hexai ask: no prompt (give it as arguments or on stdin)", file=sys.stderr)
        return 2

    view: View
    blind = None
    if (getattr(args, "blind", False) or config.arena.blind) and len(entries) >= 2 \
            and not args.json:
        import random

        from hexai_nvim.surfaces.ask_blind import BlindAsk

        blind = BlindAsk.shuffled(len(entries), random.Random(getattr(args, "seed", None)))
    if getattr(args, "markdown", False) and not args.json:
        view = MarkdownView(sys.stdout, prompt, blind=blind)
    elif blind is not None:
        out = sys.stdout
        view = BlindView(
            lambda shown: choose_view(shown, as_json=False, out=out, err=sys.stderr,
                                      blind=True),
            entries, blind, out if _is_terminal(out) else sys.stderr)
    else:
        view = choose_view(entries, as_json=args.json, out=sys.stdout, err=sys.stderr)
    try:
        results = asyncio.run(ask(config, entries, prompt, view))
    except BrokenPipeError:
        raise  # the reader of stdout left: hexai_nvim.cli.main ends quietly
    except Exception as exc:  # the promise: a message, never a traceback
        print(f"hexai ask: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0 if all(r.ok for r in results) else 1


def select_entries(entries: Sequence[Entry], only: Sequence[int] | None) -> tuple[Entry, ...]:
    """The entries chosen with ``-N`` (config order, each once), or all."""
    if not only:
        return tuple(entries)
    wanted = set(only)
    bad = sorted(n for n in wanted if n < 0 or n >= len(entries))
    if bad:
        last = len(entries) - 1
        raise ValueError(f"no ask entry {bad[0]} (entries are 0..{last})")
    return tuple(e for i, e in enumerate(entries) if i in wanted)


def with_timeout(entries: Sequence[Entry], seconds: float | None) -> tuple[Entry, ...]:
    if seconds is None:
        return tuple(entries)
    if not seconds > 0:
        raise ValueError("--timeout must be a positive number of seconds")
    ms = max(1, round(seconds * 1000))
    return tuple(replace(e, timeout_ms=ms) for e in entries)


def read_stdin() -> str:
    """Everything on stdin when it is not a terminal, else ""."""
    stream = sys.stdin
    if stream is None:
        return ""
    try:
        if stream.isatty():
            return ""
        return stream.read()
    except (OSError, ValueError):
        return ""


def join_prompt(args_text: str, stdin_text: str) -> str:
    """hexai's rule: both given -> ``"<args>:\\n\\n<stdin>"``."""
    args_text = args_text.strip()
    if args_text and stdin_text.strip():
        return f"{args_text}:\n\n{stdin_text}"
    return args_text or stdin_text


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


class View(Protocol):
    async def follow(self, events: AsyncIterable[Event]) -> None: ...

    def finish(self, results: Sequence[EntryResult]) -> None: ...


EngineFactory = Callable[["Config"], "Engine"]


def _default_engine(config: Config) -> Engine:
    from hexai_nvim.engine.core import Engine
    from hexai_nvim.stats import default_store

    return Engine(config, stats=default_store(config))


async def ask(
    config: Config,
    entries: Sequence[Entry],
    prompt: str,
    view: View,
    engine_factory: EngineFactory = _default_engine,
) -> list[EntryResult]:
    """Fan the prompt out, let ``view`` follow it, and return the results."""
    from hexai_nvim.surfaces.ask import build_ask_request

    engine = engine_factory(config)
    try:
        await engine.warm_up(entries)
        fan = engine.fan_out(entries, lambda e: build_ask_request(prompt, e, config))
        try:
            await view.follow(fan)
            results = await fan.wait()
        except asyncio.CancelledError:  # Ctrl-C: show what there is, then stop
            await fan.aclose()
            view.finish([r for r in fan.results() if r is not None])
            raise
        view.finish(results)
        return results
    finally:
        await engine.close()


def choose_view(entries: Sequence[Entry], *, as_json: bool, out: TextIO, err: TextIO,
                blind: bool = False) -> View:
    if as_json:
        return JsonView(out)
    if _is_terminal(out):
        color = not os.environ.get("NO_COLOR")
        return LiveView(out, entries, color=color, elapsed=not blind)
    return PlainView(out, err, entries)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------
# Formatting shared by the views
# ---------------------------------------------------------------------------


def result_to_json(result: EntryResult) -> dict[str, Any]:
    entry = result.entry
    error = result.error
    return {
        "provider": entry.provider.name,
        "model": entry.model,
        "label": result.label,
        "fallback_of": None if result.fallback_of is None else result.fallback_of.key,
        "text": result.text,
        "truncated": result.truncated,
        "stop_reason": result.stop_reason.value,
        "finish_reason": result.finish_reason,
        "error": None if error is None else {"kind": error.kind.value, "message": error.message},
        "stats": result.stats.to_dict(),
    }


def state_word(result: EntryResult) -> str:
    """The entry's state as every surface says it (``done``, ``error (auth)``,
    ``truncated (timeout)``, ``cancelled``; see
    :func:`~hexai_nvim.surfaces.entry_state.state_words`)."""
    from hexai_nvim.surfaces.entry_state import result_state, state_words

    return state_words(result_state(result))


def stats_line(result: EntryResult) -> str:
    """One line: how an entry that did not simply answer ended, in the
    entry-state words (``✗ error (auth) · HTTP 401: bad key``, ``✗ truncated
    (timeout) · ...``, ``cancelled``), then timings, tokens and rate."""
    s = result.stats
    error = result.error
    parts: list[str] = []
    if error is not None and error.kind.value == "cancelled":
        parts.append(state_word(result))
    elif error is not None:
        parts.append(f"✗ {state_word(result)}")
        message = error.message.strip()
        if error.status is not None:
            message = f"HTTP {error.status}: {message}" if message else f"HTTP {error.status}"
        if message:
            parts.append(message)
    words = stop_words(result)
    if words and words not in BARE_STOP_WORDS:  # "failed", "cancelled": the state says it
        parts.append(words)
    if result.fallback_of is not None:
        parts.append(fallback_words(result))
    if s.queued_ms >= 1:
        parts.append(f"queued {format_ms(s.queued_ms)}")
    figures = format_stats(s)
    if figures:
        parts.append(figures)
    return " · ".join(parts)


# C0/C1 controls (ESC included) except newline and tab: model output must not
# drive the terminal.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(text: str) -> str:
    return _CONTROLS.sub("", text.replace("\r\n", "\n")).expandtabs(4)


def cell_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` terminal cells (with "…" when cut)."""
    if width <= 0:
        return ""
    used = 0
    for i, ch in enumerate(text):
        w = cell_width(ch)
        if used + w > width:
            return _clip_end(text[:i], width)
        used += w
    return text


def _clip_end(text: str, width: int) -> str:
    while text and sum(cell_width(c) for c in text) > width - 1:
        text = text[:-1]
    return text + "…"


def wrap(text: str, width: int) -> list[str]:
    """Hard-wrap ``text`` (already sanitized) to ``width`` cells per line."""
    lines: list[str] = []
    for raw in text.split("\n"):
        line, used = "", 0
        for ch in raw:
            w = cell_width(ch)
            if used + w > width and line:
                lines.append(line)
                line, used = "", 0
            line += ch
            used += w
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------


class JsonView:
    """Prints one JSON document at the end."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def follow(self, events: AsyncIterable[Event]) -> None:
        async for _event in events:
            pass

    def finish(self, results: Sequence[EntryResult]) -> None:
        doc = {"entries": [result_to_json(r) for r in sorted(results, key=lambda r: r.index)]}
        self.out.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        self.out.flush()


class MarkdownView:
    """Prints the comparison as Markdown at the end (``--markdown``)."""

    def __init__(self, out: TextIO, prompt: str, *, blind: BlindAsk | None = None) -> None:
        self.out = out
        self.prompt = prompt
        self.blind = blind

    async def follow(self, events: AsyncIterable[Event]) -> None:
        async for _event in events:
            pass

    def finish(self, results: Sequence[EntryResult]) -> None:
        from hexai_nvim.surfaces.export import ask_markdown

        blind = self.blind
        if blind is None:
            ordered = sorted(results, key=lambda r: r.index)
            self.out.write(ask_markdown(self.prompt, ordered) + "\n")
        else:  # the answers are over: the shown order, the names revealed
            blind.revealed = True
            ordered = sorted(results, key=lambda r: blind.shown(r.index))
            labels = [blind.label(r.index, r.label) for r in ordered]
            self.out.write(ask_markdown(self.prompt, ordered, labels=labels) + "\n")
        self.out.flush()


class BlindView:
    """``--blind``: the inner view gets the entries as "Answer A"... in the
    shuffled order, with no names, figures or error texts; the reveal (each
    letter's name and stats line) is written to ``reveal_to`` at the end."""

    def __init__(self, make_view: Callable[[Sequence[Entry]], View], entries: Sequence[Entry],
                 blind: BlindAsk, reveal_to: TextIO) -> None:
        from hexai_nvim.surfaces.ask_blind import blind_name

        self.blind = blind
        self.shown_entries = [replace(entries[real], label=blind_name(shown), fallback=None)
                              for shown, real in enumerate(blind.perm)]
        self.inner = make_view(self.shown_entries)
        self.reveal_to = reveal_to

    async def follow(self, events: AsyncIterable[Event]) -> None:
        await self.inner.follow(self._hidden(events))

    async def _hidden(self, events: AsyncIterable[Event]) -> AsyncIterator[Event]:
        async for event in events:
            yield self.hide(event)

    def hide(self, event: Event) -> Event:
        from hexai_nvim.engine.events import DoneEvent, ErrorEvent, FallbackEvent, RestartEvent

        shown = self.blind.shown(event.index)
        entry = self.shown_entries[shown]
        if isinstance(event, (DoneEvent, ErrorEvent)):
            return replace(event, index=shown, entry=entry, result=self.hide_result(event.result))
        if isinstance(event, FallbackEvent):  # its name would tell: the answer starts over
            return RestartEvent(index=shown, entry=entry, reason="asking again")
        return replace(event, index=shown, entry=entry)

    def hide_result(self, result: EntryResult) -> EntryResult:
        from hexai_nvim.surfaces.ask_blind import HIDDEN_ERROR

        shown = self.blind.shown(result.index)
        error = result.error
        if error is not None and error.kind.value != "cancelled":
            error = replace(error, message=HIDDEN_ERROR)
        stats = replace(result.stats, queued_ms=0.0, ttft_ms=None, total_ms=None,
                        input_tokens=None, output_tokens=None, retries=0)
        return replace(result, index=shown, entry=self.shown_entries[shown], error=error,
                       stats=stats, fallback_of=None, first_error=None)

    def finish(self, results: Sequence[EntryResult]) -> None:
        from hexai_nvim.arena.record import letter, reveal_words

        self.inner.finish([self.hide_result(r) for r in results])
        by_index = {r.index: r for r in results}
        labels = [by_index[i].label if i in by_index else "?" for i in range(len(self.blind.perm))]
        out = self.reveal_to
        out.write(f"\nrevealed: {reveal_words(labels, self.blind.perm, None)}\n")
        for shown, real in enumerate(self.blind.perm):
            result = by_index.get(real)
            if result is not None:
                out.write(f"  {letter(shown)} = {result.label} ({result.entry.key}): "
                          f"{stats_line(result)}\n")
        out.flush()


class PlainView:
    """Not a terminal: stream one entry; blocks in config order for several."""

    def __init__(self, out: TextIO, err: TextIO, entries: Sequence[Entry]) -> None:
        self.out = out
        self.err = err
        self.single = len(entries) == 1
        self._ends_with_newline = True

    async def follow(self, events: AsyncIterable[Event]) -> None:
        from hexai_nvim.engine.events import ChunkEvent, FallbackEvent, RestartEvent

        async for event in events:
            if self.single and isinstance(event, ChunkEvent):
                self.out.write(event.text)
                self.out.flush()
                self._ends_with_newline = event.text.endswith("\n")
            elif self.single and isinstance(event, FallbackEvent):
                self.err.write(f"[{event.error.label()}; asking {event.fallback.label} "
                               "(fallback)]\n")
                self.err.flush()
            elif self.single and isinstance(event, RestartEvent):
                # Printed text cannot be taken back: say why it starts again.
                if not self._ends_with_newline:
                    self.out.write("\n")
                self.err.write(f"[{event.reason}; asking again]\n")
                self.err.flush()
                self._ends_with_newline = True

    def finish(self, results: Sequence[EntryResult]) -> None:
        ordered = sorted(results, key=lambda r: r.index)
        if self.single:
            if not self._ends_with_newline:
                self.out.write("\n")
        else:
            for n, result in enumerate(ordered):
                if n:
                    self.out.write("\n")
                self.out.write(f"=== {result.label} ===\n")
                if result.text:
                    self.out.write(
                        result.text if result.text.endswith("\n") else result.text + "\n"
                    )
                if result.error is not None:
                    self.out.write(f"[{result.error.label()}]\n")
        self.out.flush()
        for result in ordered:
            self.err.write(f"{result.label}: {stats_line(result) or state_word(result)}\n")
        self.err.flush()


@dataclass
class _Pane:
    """What the live view knows of one entry."""

    label: str
    state: str = "queued"  # queued | running | done
    started: float | None = None
    parts: list[str] = field(default_factory=list)
    chars: int = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class LiveView:
    """A terminal: finished blocks above, a redrawn region of running entries below."""

    #: Least time between two redraws caused by text (seconds).
    FRAME_S = 0.05
    #: Most answer lines shown per running entry.
    MAX_TAIL = 6

    def __init__(
        self,
        out: TextIO,
        entries: Sequence[Entry],
        *,
        color: bool = True,
        size: Callable[[], os.terminal_size] = shutil.get_terminal_size,
        clock: Callable[[], float] = time.monotonic,
        elapsed: bool = True,
    ) -> None:
        self.out = out
        self.color = color
        #: Show how long each running entry has taken (not in blind mode).
        self.elapsed = elapsed
        self.size = size
        self.clock = clock
        self.panes = [_Pane(e.label) for e in entries]
        self._live_lines = 0
        self._last_frame = 0.0
        self._dirty = False
        self._pending: list[str] = []
        self._committed: set[int] = set()
        self._tick = 0

    # -- following -----------------------------------------------------------

    async def follow(self, events: AsyncIterable[Event]) -> None:
        self.out.write("\x1b[?25l")  # hide the cursor while redrawing
        ticker = asyncio.get_running_loop().create_task(self._ticker())
        try:
            async for event in events:
                self.apply(event)
                urgent = bool(self._pending)
                if urgent or self.clock() - self._last_frame >= self.FRAME_S:
                    self.redraw()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.out.write("\x1b[?25h")
            self.out.flush()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            self._tick += 1
            self.redraw()

    def apply(self, event: Event) -> None:
        from hexai_nvim.engine.events import (
            ChunkEvent,
            DoneEvent,
            ErrorEvent,
            FallbackEvent,
            RestartEvent,
            StartEvent,
        )

        pane = self.panes[event.index]
        if isinstance(event, StartEvent):
            pane.state = "running"
            pane.started = self.clock()
        elif isinstance(event, RestartEvent):
            pane.parts.clear()
            pane.chars = 0
        elif isinstance(event, FallbackEvent):
            pane.label = event.label
            pane.parts.clear()
            pane.chars = 0
        elif isinstance(event, ChunkEvent):
            pane.parts.append(event.text)
            pane.chars += len(event.text)
        elif isinstance(event, (DoneEvent, ErrorEvent)):
            self._commit(event.result)
        self._dirty = True

    def finish(self, results: Sequence[EntryResult]) -> None:
        for result in sorted(results, key=lambda r: r.index):
            self._commit(result)
        self.redraw(final=True)
        self.out.write("\x1b[?25h")
        self.out.flush()

    # -- drawing -------------------------------------------------------------

    def _commit(self, result: EntryResult) -> None:
        if result.index in self._committed:
            return
        self._committed.add(result.index)
        pane = self.panes[result.index]
        pane.state = "done"
        pane.label = result.label
        cols = max(20, self.size().columns)
        rule = "━" * max(0, min(cols - 1, 80) - len(pane.label) - 4)
        lines = [self._style(f"━━ {sanitize(pane.label)} {rule}", "1")]
        text = sanitize(result.text)
        if text:
            lines.append(text.rstrip("\n"))
        code = "2" if result.error is None else "31"
        lines.append(self._style(stats_line(result) or state_word(result), code))
        self._pending.append("\n".join(lines) + "\n\n")

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def redraw(self, *, final: bool = False) -> None:
        size = self.size()
        cols, rows = size.columns, size.lines
        frame: list[str] = []
        if self._live_lines:
            frame.append("\r")
            if self._live_lines > 1:
                frame.append(f"\x1b[{self._live_lines - 1}A")
            frame.append("\x1b[J")
        frame.extend(self._pending)
        self._pending.clear()
        live = [] if final else self.live_region(cols, rows)
        frame.append("\n".join(live))
        self._live_lines = len(live)
        self.out.write("".join(frame))
        self.out.flush()
        self._last_frame = self.clock()
        self._dirty = False

    def live_region(self, cols: int, rows: int) -> list[str]:
        """Lines for the entries still running, never taller than ``rows - 1``."""
        running = [p for p in self.panes if p.state != "done"]
        if not running or rows < 4 or cols < 20:
            return []
        budget = rows - 1
        width = cols - 1  # never write the last column: no pending wrap to account for
        lines: list[str] = []
        shown = running if len(running) <= budget else running[: budget - 1]
        tail = max(0, min(self.MAX_TAIL, budget // len(shown) - 1))
        now = self.clock()
        spin = SPINNER[self._tick % len(SPINNER)]
        for pane in shown:
            label = sanitize(pane.label)
            if pane.state == "queued":
                lines.append(self._style(clip(f"· {label}  queued", width), "2"))
            else:
                elapsed = now - (pane.started or now)
                what = f"{pane.chars} chars" if pane.chars else "waiting for the first token"
                took = f"{elapsed:.1f}s · " if self.elapsed else ""
                lines.append(clip(f"{spin} {label}  {took}{what}", width))
            if tail and pane.parts:
                wrapped = wrap(sanitize(pane.text), max(10, width - 4))
                lines.extend(self._style(f"  │ {line}", "2") for line in wrapped[-tail:])
        if len(shown) < len(running):
            lines.append(f"  … and {len(running) - len(shown)} more running")
        return lines[:budget]
