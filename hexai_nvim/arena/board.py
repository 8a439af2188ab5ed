"""The leaderboard: rating, accept rate, latency and cost per model, from the outcomes.

:func:`build_board` turns outcomes (:mod:`hexai_nvim.arena.store`) into a
:class:`Board`; :func:`format_board` is how it reads in a terminal and in the
``:HexaiStats`` view (the same text), :meth:`Board.to_dict` is the JSON.

- **score**: the fitted strength (:mod:`hexai_nvim.arena.rating`) on an
  Elo-like scale, 1000 = the mean of the models rated; ``±`` is the 95 %
  interval. A model with fewer than ``provisional`` battles is marked ``?``.
- **wins/battles**: outcomes where the model was among two or more distinct
  suggestions shown and a choice was made / where it was chosen (ties count
  for every tied model).
- **accept**: chosen / shown over every outcome where its suggestion was
  visible, choice or not (dismissed and moved-on count as not accepted), with
  a 95 % Wilson interval.
- **p50**: median request time of its suggestions (answered ones).
- **cost/acc**: its requests' cost in the outcomes (price table) divided by
  the times it was chosen; ``-`` when no price is known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from hexai_nvim.arena.prices import price_of
from hexai_nvim.arena.rating import Battle, Fit, fit, wilson
from hexai_nvim.arena.store import CHOICES, Outcome

#: Battles below which a model's score is marked provisional.
DEFAULT_PROVISIONAL = 30
BAR_WIDTH = 24
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def battle_of(outcome: Outcome) -> Battle | None:
    """The rating's view of an outcome: the shown suggestions and the chosen group."""
    if outcome.action not in CHOICES or not outcome.chosen:
        return None
    shown_idx = [i for i, c in enumerate(outcome.candidates) if c.visible and c.hash is not None]
    if len({outcome.candidates[i].hash for i in shown_idx}) < 2:
        return None
    pos = {i: k for k, i in enumerate(shown_idx)}
    chosen = frozenset(pos[i] for i in outcome.chosen if i in pos)
    if not chosen:
        return None
    shown = tuple((outcome.candidates[i].key, outcome.candidates[i].slot) for i in shown_idx)
    return Battle(shown, chosen)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    score: float | None
    score_pm: float | None
    provisional: bool
    battles: int
    wins: int
    shown: int
    accepted: int
    accept_rate: float | None
    accept_lo: float | None
    accept_hi: float | None
    p50_ms: float | None
    requests: int
    cost: float | None
    cost_per_accept: float | None
    price_source: str | None


@dataclass(frozen=True)
class SlotBias:
    """How often slot ``slot`` is chosen relative to slot 0, the same model shown."""

    slot: int
    odds: float
    lo: float
    hi: float


@dataclass(frozen=True)
class Board:
    rows: tuple[Row, ...]
    bias: tuple[SlotBias, ...]
    outcomes: int
    battles: int
    provisional_threshold: int

    def to_dict(self) -> dict[str, object]:
        return {
            "outcomes": self.outcomes,
            "battles": self.battles,
            "provisional_threshold": self.provisional_threshold,
            "models": [asdict(r) for r in self.rows],
            "position_bias": [asdict(b) for b in self.bias],
        }


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def build_board(
    outcomes: Iterable[Outcome],
    *,
    provisional: int = DEFAULT_PROVISIONAL,
    prices: Mapping[str, tuple[float, float]] | None = None,
    local_keys: Iterable[str] = (),
    surface: str | None = None,
) -> Board:
    """The leaderboard of ``outcomes`` (of one ``surface``, or all)."""
    chosen_outcomes = [o for o in outcomes if surface is None or o.surface == surface]
    battles = [b for b in map(battle_of, chosen_outcomes) if b is not None]
    rated: Fit = fit(battles)
    local = set(local_keys)
    labels: dict[str, str] = {}
    shown: dict[str, int] = {}
    accepted: dict[str, int] = {}
    times: dict[str, list[float]] = {}
    requests: dict[str, int] = {}
    tokens: dict[str, list[tuple[int | None, int | None]]] = {}
    for outcome in chosen_outcomes:
        picked = set(outcome.chosen) if outcome.action in CHOICES else set()
        for i, c in enumerate(outcome.candidates):
            labels.setdefault(c.key, c.label)
            requests[c.key] = requests.get(c.key, 0) + 1
            tokens.setdefault(c.key, []).append((c.input_tokens, c.output_tokens))
            if c.total_ms is not None and c.status == "ok":
                times.setdefault(c.key, []).append(c.total_ms)
            if c.visible and c.hash is not None:
                shown[c.key] = shown.get(c.key, 0) + 1
                if i in picked:
                    accepted[c.key] = accepted.get(c.key, 0) + 1
    rows: list[Row] = []
    for key in sorted(requests):
        price = price_of(key, prices, local=key in local)
        cost = None if price is None else sum(price.cost(i, o) for i, o in tokens[key])
        acc = accepted.get(key, 0)
        rate, lo, hi = wilson(acc, shown.get(key, 0))
        score: float | None = None
        pm: float | None = None
        battles_n = wins_n = 0
        if key in rated.models:
            k = rated.index(key)
            score, pm = rated.elo(k)
            battles_n, wins_n = rated.battles[k], rated.wins[k]
        rows.append(
            Row(
                key=key,
                label=labels.get(key, key),
                score=None if score is None else round(score, 1),
                score_pm=None if pm is None else round(pm, 1),
                provisional=battles_n < provisional,
                battles=battles_n,
                wins=wins_n,
                shown=shown.get(key, 0),
                accepted=acc,
                accept_rate=rate,
                accept_lo=lo,
                accept_hi=hi,
                p50_ms=_median(times.get(key, [])),
                requests=requests[key],
                cost=cost,
                cost_per_accept=None if cost is None or not acc else cost / acc,
                price_source=None if price is None else price.source,
            )
        )
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0.0), r.key))
    bias = tuple(
        SlotBias(slot, *rated.slot_odds(k)) for k, slot in enumerate(rated.slots) if k > 0
    )
    return Board(tuple(rows), bias, len(chosen_outcomes), len(battles), provisional)


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def bar(value: float, lo: float, hi: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of ``value`` between ``lo`` and ``hi`` in eighth-cell steps."""
    if hi <= lo:
        return "█" * (width // 2)
    share = min(1.0, max(0.0, (value - lo) / (hi - lo)))
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.5f}"
    return f"${value:.2f}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_board(board: Board, *, title: str = "", width: int | None = None) -> str:
    """Leaderboard table, a bar chart of the scores and the position bias found.

    A model is named by its label, with its ``provider:model`` key only where
    two rows share a label. With ``width`` the model column is cut (``…``) so
    the table fits that many cells."""
    lines = [title] if title else []
    if not board.rows:
        lines.append("no arena outcomes yet: use completion with two or more models, or vote")
        lines.append("in an ask view (see :help hexai-arena)")
        return "\n".join(lines)
    header = ("model", "score", "±95%", "wins/battles", "accept", "p50", "cost/acc")
    table = [header]
    shared = {label for label in (r.label for r in board.rows)
              if sum(1 for o in board.rows if o.label == label) > 1}
    for r in board.rows:
        score = "-" if r.score is None else f"{r.score:.0f}" + ("?" if r.provisional else "")
        pm = "-" if r.score_pm is None else f"±{r.score_pm:.0f}"
        if r.accept_rate is None:
            accept = "-"
        else:
            accept = (
                f"{100 * r.accept_rate:.0f}% ({100 * (r.accept_lo or 0):.0f}-"
                f"{100 * (r.accept_hi or 0):.0f})"
            )
        p50 = "-" if r.p50_ms is None else f"{r.p50_ms:.0f} ms"
        table.append(
            (f"{r.label} ({r.key})" if r.label in shared and r.label != r.key else r.label,
             score, pm,
             f"{r.wins}/{r.battles}", accept, p50, _money(r.cost_per_accept))
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    if width is not None:
        over = sum(widths) + 2 * (len(widths) - 1) - width
        if over > 0:
            widths[0] = max(len(header[0]), widths[0] - over, 12)
            table = [(_cut(row[0], widths[0]), *row[1:]) for row in table]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    scored = [r for r in board.rows if r.score is not None]
    if scored:
        lo = min((r.score or 0) - (r.score_pm or 0) for r in scored)
        hi = max((r.score or 0) + (r.score_pm or 0) for r in scored)
        lo, hi = math.floor(lo / 50) * 50, math.ceil(hi / 50) * 50
        name_w = max(len(r.label) for r in scored)
        lines.append("")
        lines.append(f"score {lo}..{hi}" + ("  (? provisional: fewer than "
                                              f"{board.provisional_threshold} battles)"
                                              if any(r.provisional for r in scored) else ""))
        for r in scored:
            lines.append(f"{r.label.ljust(name_w)}  {bar(r.score or 0, lo, hi)} "
                         f"{r.score:.0f} ±{r.score_pm:.0f}")
    lines.append("")
    if board.bias:
        parts = [
            f"slot {b.slot + 1} is chosen {b.odds:.2f}x as often as slot 1 "
            f"(95% {b.lo:.2f}-{b.hi:.2f})"
            for b in board.bias
        ]
        lines.append("position bias, corrected for: " + "; ".join(parts))
    lines.append(f"{board.battles} battles from {board.outcomes} outcomes")
    return "\n".join(lines)
