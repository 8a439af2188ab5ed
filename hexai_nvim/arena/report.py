"""The arena leaderboard of a config over the last N days: what ``hexai stats --arena``
and ``:HexaiStats`` show (the same text, the same JSON)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hexai_nvim.arena.board import Board, build_board, format_board
from hexai_nvim.arena.prices import DEFAULT_PRICES_DATE, DEFAULT_PRICES_SOURCE
from hexai_nvim.arena.store import OutcomeStore, default_outcome_path

if TYPE_CHECKING:
    from hexai_nvim.config.model import Config

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def local_providers(config: Config) -> set[str]:
    """Providers whose server runs on this machine (their requests cost nothing)."""
    out = set()
    for name, spec in config.providers.items():
        host = (urlsplit(spec.base_url).hostname or "") if spec.base_url else ""
        if host in LOOPBACK or host.startswith("127."):
            out.add(name)
    return out


def arena_board(config: Config, *, days: float | None = None, now: float | None = None,
                store: OutcomeStore | None = None) -> Board:
    """The leaderboard of the outcomes of the last ``days`` (all when None)."""
    now = time.time() if now is None else now
    store = store or OutcomeStore(default_outcome_path())
    since = None if days is None else now - days * 86400.0
    outcomes = store.read(since=since)
    local = local_providers(config)
    keys = {c.key for o in outcomes for c in o.candidates}
    return build_board(
        outcomes,
        provisional=config.arena.provisional_battles,
        prices=dict(config.arena.prices),
        local_keys=[k for k in keys if k.partition(":")[0] in local],
    )


def arena_text(board: Board, days: float | None, width: int | None = None) -> str:
    span = "all time" if days is None else f"last {days:g} days"
    return format_board(board, title=f"arena leaderboard ({span})", width=width)


def arena_json(board: Board, days: float | None, path: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"days": days, "file": path}
    doc.update(board.to_dict())
    doc["default_prices"] = {"source": DEFAULT_PRICES_SOURCE, "date": DEFAULT_PRICES_DATE}
    return doc
