"""``hexai stats``: request statistics per entry (label and ``provider:model``).

::

    hexai stats [--config F] [--json] [--minutes N]

Reads the JSONL store the engine writes (see :mod:`hexai_nvim.stats`) and
prints, per entry seen in the window (its label; ``provider:model`` in
``--json``): requests, how many failed, how many were cancelled (superseded
completions, :HexaiCancel: not the model's fault, so apart from errors),
p50/p95 latency and time to first token (over answered requests), and the
median output rate in tokens per second. The first line says the window:
``[stats] window_minutes`` unless ``--minutes`` says otherwise (the store
keeps no more than ``window_minutes``). Exit 0; 2 for configuration errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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


def run(args: argparse.Namespace) -> int:
    from hexai_nvim.config.model import ConfigError

    if args.minutes is not None and args.minutes <= 0:
        print("hexai stats: --minutes must be positive", file=sys.stderr)
        return 2
    try:
        from hexai_nvim.config import load_config

        config = load_config(args.config)
    except ConfigError as exc:
        print("hexai stats: the configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
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


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADER = ("entry", "req", "err", "cancelled", "p50 ms", "p95 ms", "ttft p50", "ttft p95",
          "tok/s")


def format_table(summaries: list[ModelSummary], window: int, origin: str = "") -> str:
    """A plain table, one row per entry, under a line that names the window.

    ``err`` counts failed requests (truncated ones included); ``cancelled``
    the ones stopped on purpose, which are no error of the model.
    """
    source = f" ({origin})" if origin else ""
    if not summaries:
        return f"no requests in the last {window} min{source}"
    rows = [HEADER]
    for s in summaries:
        rate = "-" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}"
        rows.append(
            (
                s.label,
                str(s.requests),
                str(s.errors),
                str(s.cancelled),
                _ms(s.p50_ms),
                _ms(s.p95_ms),
                _ms(s.p50_ttft_ms),
                _ms(s.p95_ttft_ms),
                rate,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"requests finished in the last {window} min{source}; "
             "latency and tok/s over answered ones"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
