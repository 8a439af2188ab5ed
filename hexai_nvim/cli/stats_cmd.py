"""``hexai stats``: request statistics per ``provider:model``.

::

    hexai stats [--config F] [--json] [--minutes N]

Reads the JSONL store the engine writes (see :mod:`hexai_nvim.stats`) and
prints, per ``provider:model`` seen in the window: requests, errors, p50/p95
latency and time to first token (over answered requests), and the median
output rate in tokens per second. The window is ``[stats] window_minutes``
unless ``--minutes`` says otherwise. Exit 0; 2 for configuration errors.
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
        help="request statistics per provider:model",
        description="Requests, errors, latency and tokens/s per provider:model.",
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
            "file": str(store.path),
            "models": [s.to_dict() for s in summaries],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(format_table(summaries, window))
    return 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_table(summaries: list[ModelSummary], window: int) -> str:
    """A plain table, one row per provider:model."""
    if not summaries:
        return f"no requests in the last {window} min"
    header = ("provider:model", "req", "err", "p50 ms", "p95 ms", "ttft p50", "ttft p95", "tok/s")
    rows = [header]
    for s in summaries:
        rate = "-" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}"
        rows.append(
            (
                s.key,
                str(s.requests),
                str(s.errors),
                _ms(s.p50_ms),
                _ms(s.p95_ms),
                _ms(s.p50_ttft_ms),
                _ms(s.p95_ttft_ms),
                rate,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"last {window} min"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)
