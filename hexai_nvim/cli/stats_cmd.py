"""``hexai stats``: request statistics per entry (label and ``provider:model``).

::

    hexai stats [--config F] [--json] [--minutes N]
    hexai stats --arena [--days N] [--config F] [--json]

Reads the JSONL store the engine writes (see :mod:`hexai_nvim.stats`) and
prints, per entry seen in the window (its label; ``provider:model`` in
``--json``): requests, how many failed, how many were cancelled (superseded
completions, :HexaiCancel: not the model's fault, so apart from errors), how
many were skipped (never sent: the provider's circuit breaker was open; a
column shown when there are any, always in ``--json``),
p50/p95 latency and time to first token (over answered requests), and the
median output rate in tokens per second. The first line says the window:
``[stats] window_minutes`` unless ``--minutes`` says otherwise (the store
keeps no more than ``window_minutes``).

``--arena`` prints the arena leaderboard instead (:mod:`hexai_nvim.arena`):
score ± 95 % interval, wins/battles, accept rate, p50 latency and cost per
accepted suggestion per model, a bar chart and the position bias found, over
the outcomes of the last ``--days`` (default: all of them).

Exit 0; 2 for usage or configuration errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hexai_nvim.config.model import Config

from hexai_nvim.stats import ModelSummary, StatsStore, default_stats_path, summarize


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="request statistics per entry",
        description="Requests, errors, cancelled, latency and tokens/s per entry "
        "(label; provider:model in --json).",
    )
    parser.add_argument("--config", metavar="FILE", help="use FILE instead of the global config")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--minutes", type=int, metavar="N", help="window in minutes (default: [stats])"
    )
    parser.add_argument(
        "--arena", action="store_true", help="the arena leaderboard (which model is better for you)"
    )
    parser.add_argument(
        "--days", type=float, metavar="N", help="with --arena: outcomes of the last N days"
    )


def run(args: argparse.Namespace) -> int:
    from hexai_nvim.config.model import ConfigError

    if args.minutes is not None and args.minutes <= 0:
        print("hexai stats: --minutes must be positive", file=sys.stderr)
        return 2
    days = getattr(args, "days", None)
    if days is not None and (not getattr(args, "arena", False) or not days > 0):
        print("hexai stats: --days takes a positive number and goes with --arena",
              file=sys.stderr)
        return 2
    try:
        from hexai_nvim.config import load_config

        config = load_config(args.config)
    except ConfigError as exc:
        print("hexai stats: the configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if getattr(args, "arena", False):
        return run_arena(config, args)
    window = args.minutes if args.minutes is not None else config.stats_window_minutes
    store = StatsStore(default_stats_path(), window)
    summaries = summarize(store.read())
    if args.json:
        doc = {
            "window_minutes": window,
            "window_from": window_origin(args.minutes),
            "file": str(store.path),
            "models": [s.to_dict() for s in summaries],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(format_table(summaries, window, origin=window_origin(args.minutes)))
    return 0


def window_origin(minutes: int | None) -> str:
    """Where the window comes from, for the first line of the table."""
    if minutes is not None:
        return "--minutes"
    return "[stats] window_minutes"


def run_arena(config: Config, args: argparse.Namespace) -> int:
    from hexai_nvim.arena.report import arena_board, arena_json, arena_text
    from hexai_nvim.arena.store import OutcomeStore, default_outcome_path

    store = OutcomeStore(default_outcome_path())
    board = arena_board(config, days=args.days, store=store)
    if args.json:
        print(json.dumps(arena_json(board, args.days, str(store.path)), indent=2))
    else:
        print(arena_text(board, args.days))
    return 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADER = ("entry", "req", "err", "cancelled", "p50 ms", "p95 ms", "ttft p50", "ttft p95",
          "tok/s")


def format_table(summaries: list[ModelSummary], window: int, origin: str = "") -> str:
    """A plain table, one row per entry, under a line that names the window.

    ``err`` counts failed requests (truncated ones included); ``cancelled``
    the ones stopped on purpose, which are no error of the model; ``skipped``
    (a column only when there are any) the ones never sent because the
    provider's circuit breaker was open.
    """
    source = f" ({origin})" if origin else ""
    if not summaries:
        return f"no requests in the last {window} min{source}"
    skips = any(s.skipped for s in summaries)
    header = (*HEADER[:4], "skipped", *HEADER[4:]) if skips else HEADER
    rows: list[tuple[str, ...]] = [header]
    for s in summaries:
        rate = "-" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}"
        counts = (str(s.requests), str(s.errors), str(s.cancelled))
        rows.append(
            (
                s.label,
                *counts,
                *((str(s.skipped),) if skips else ()),
                _ms(s.p50_ms),
                _ms(s.p95_ms),
                _ms(s.p50_ttft_ms),
                _ms(s.p95_ttft_ms),
                rate,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"requests finished in the last {window} min{source}; "
             "latency and tok/s over answered ones"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
