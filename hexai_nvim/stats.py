"""Request statistics: a JSONL file in the XDG cache folder, and summaries of it.

One line per finished entry (see :class:`StatsRecord`), written by the
engine through its :class:`~hexai_nvim.engine.sink.ResultSink` protocol, which
:class:`StatsStore` implements. The file lives at ``$XDG_CACHE_HOME/hexai/nvim-stats.jsonl`` (else
``~/.cache/hexai/nvim-stats.jsonl``) and is pruned to the last
``[stats] window_minutes`` now and then.

What a caller may rely on:

- :meth:`StatsStore.append` writes one short line and returns; it never
  raises for an I/O problem the caller could not fix (it logs once).
- Several processes (the Neovim host, ``hexai ask``) may share the file:
  appends and prunes hold an advisory lock (``flock``) where available.
- Lines that do not parse (damaged bytes included) are skipped when reading
  and dropped when pruning; reading or pruning never raises.
- Records hold provider, model, label, timings, tokens, bytes and status:
  never prompts, answers or keys. The measured fields are declared once, by
  the engine (:class:`~hexai_nvim.engine.results.Measurement`, which
  :class:`StatsRecord` extends), and copied by name
  (:data:`MEASURED_FIELDS`).
- This module knows the engine only through its values
  (:mod:`hexai_nvim.engine.results`); the engine knows this store only as a
  :class:`~hexai_nvim.engine.sink.ResultSink`.
- The arena's outcomes (never pruned) live elsewhere: :mod:`hexai_nvim.arena.store`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hexai_nvim.engine.results import EntryResult, Measurement
from hexai_nvim.jsonl import LineFile, locked
from hexai_nvim.secrets import scrub

if TYPE_CHECKING:
    from collections.abc import Callable

    from hexai_nvim.config.model import Config

log = logging.getLogger("hexai_nvim.stats")

FILE_NAME = "nvim-stats.jsonl"
#: Prune at most this often per store (seconds).
PRUNE_INTERVAL_S = 300.0


def default_stats_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/hexai/nvim-stats.jsonl``, else under ``~/.cache``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "hexai" / FILE_NAME


@dataclass(frozen=True, kw_only=True)
class StatsRecord(Measurement):
    """One finished request of one entry: who answered, and what was measured
    (the engine's :class:`~hexai_nvim.engine.results.Measurement` fields)."""

    ts: float  # epoch seconds when it finished
    surface: str
    provider: str
    model: str
    label: str
    #: The engine's :attr:`EntryStats.tokens_per_s`, kept as it was then.
    tokens_per_s: float | None
    #: How it ended (:class:`~hexai_nvim.providers.base.StopReason` value);
    #: None in records written before it was kept.
    stop_reason: str | None = None
    #: ``provider:model`` of the entry this one answered for as its fallback
    #: (hexai's ``fallback_provider``/``fallback_model``); None otherwise.
    fallback_of: str | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"

    @classmethod
    def from_result(cls, result: EntryResult, ts: float | None = None) -> StatsRecord:
        # EntryStats.to_dict() rounds times and adds tokens_per_s; the measured
        # fields (declared once, in Measurement) are copied by name.
        measured = result.stats.to_dict()
        entry = result.entry
        data: dict[str, Any] = {name: measured[name] for name in MEASURED_FIELDS}
        return cls(
            ts=time.time() if ts is None else ts,
            surface=entry.surface,
            provider=entry.provider.name,
            model=entry.model,
            label=entry.label,
            **data,
            stop_reason=result.stop_reason.value,
            fallback_of=None if result.fallback_of is None else result.fallback_of.key,
        )

    def to_json(self) -> str:
        # Field by field: dataclasses.asdict deep-copies, which costs more than
        # the write itself on this hot path.
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> StatsRecord | None:
        """Parse one line; None when it is not a record we understand."""
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            record = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None
        if not isinstance(record.ts, (int, float)) or not isinstance(record.model, str):
            return None
        return record


#: What identifies the request (from the entry), first in every line: the prune
#: reads ``ts`` from the start of a line.
_IDENTITY_FIELDS = ("ts", "surface", "provider", "model", "label")
#: The fields copied from :meth:`EntryStats.to_dict` by name.
MEASURED_FIELDS: tuple[str, ...] = (*(f.name for f in fields(Measurement)), "tokens_per_s")
#: Every field, in the order a line holds them.
_RECORD_FIELDS: tuple[str, ...] = _IDENTITY_FIELDS + tuple(
    f.name for f in fields(StatsRecord) if f.name not in _IDENTITY_FIELDS
)

#: How every line :meth:`StatsRecord.to_json` writes begins.
_TS_PREFIX = re.compile(r'\{"ts":(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)[,}]')


def _line_ts(line: str) -> float | None:
    """The time of a record line; None for a line that is not a record.

    Pruning only needs the time, and building a full record per line costs
    about 15 times more: a prune of a busy hour (thousands of lines) holds the
    GIL, and with it the Neovim host's event loop, for that long. Lines in our
    own format are read from their first field; anything else is parsed whole.
    """
    match = _TS_PREFIX.match(line)
    if match is not None and line.rstrip().endswith("}"):
        return float(match.group(1))
    record = StatsRecord.from_json(line)
    return None if record is None else float(record.ts)


def default_store(config: Config) -> StatsStore:
    """The store at :func:`default_stats_path` with ``config``'s window (the default sink)."""
    return StatsStore(default_stats_path(), config.stats_window_minutes)


class StatsStore:
    """The JSONL file of one user. Cheap to create; opens the file per call."""

    def __init__(self, path: str | os.PathLike[str], window_minutes: int = 60) -> None:
        self._file = LineFile(path, "stats", log)
        self.path = self._file.path
        self.window_minutes = window_minutes
        self._last_prune: float | None = None

    # -- writing --------------------------------------------------------------

    def append(self, record: StatsRecord) -> None:
        """Append one record (one short write; safe across processes)."""
        self._file.append(scrub(record.to_json()) + "\n")

    def append_result(self, result: EntryResult) -> None:
        self.append(StatsRecord.from_result(result))

    # -- the engine's ResultSink ----------------------------------------------

    def record(self, result: EntryResult) -> None:
        """Append ``result`` (the engine calls this for every finished entry)."""
        self.append_result(result)

    def housekeeping(self) -> Callable[[], object] | None:
        """The prune, when one is due (:meth:`prune_due`); else None."""
        return self.prune if self.prune_due() else None

    def configure(self, config: Config) -> None:
        """Follow ``[stats] window_minutes`` of a new config."""
        self.window_minutes = config.stats_window_minutes

    def prune_due(self, now: float | None = None) -> bool:
        """True on the first call and then every :data:`PRUNE_INTERVAL_S`."""
        now = time.monotonic() if now is None else now
        if self._last_prune is None or now - self._last_prune >= PRUNE_INTERVAL_S:
            self._last_prune = now
            return True
        return False

    def prune(self, now: float | None = None) -> int:
        """Drop records older than the window (and unreadable lines); return how many.

        Rewrites the file through a temporary file and an atomic rename,
        holding the lock so a concurrent append is not lost.
        """
        now = time.time() if now is None else now
        cutoff = now - self.window_minutes * 60
        try:
            with (
                locked(self.path),
                open(self.path, encoding="utf-8", errors="replace") as handle,
            ):
                return self._rewrite(handle, cutoff)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            log.warning("cannot read stats %s: %s", self.path, exc)
            return 0

    def _rewrite(self, handle: IO[str], cutoff: float) -> int:
        """Keep the lines of ``handle`` newer than ``cutoff`` (lock held)."""
        keep: list[str] = []
        dropped = 0
        for line in handle:
            ts = _line_ts(line)
            if ts is None or ts < cutoff:
                dropped += 1
            else:
                keep.append(line if line.endswith("\n") else line + "\n")
        if not dropped:
            return 0
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".nvim-stats-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(keep)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot prune stats %s: %s", self.path, exc)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return 0
        return dropped

    # -- reading --------------------------------------------------------------

    def read(
        self, *, now: float | None = None, window_minutes: int | None = None
    ) -> list[StatsRecord]:
        """Records inside the window (default: the store's), oldest first."""
        now = time.time() if now is None else now
        window = self.window_minutes if window_minutes is None else window_minutes
        cutoff = now - window * 60
        lines = self._file.lines()  # a damaged line fails to parse and is skipped
        records = [StatsRecord.from_json(line) for line in lines if line.strip()]
        return [r for r in records if r is not None and r.ts >= cutoff]


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSummary:
    """Figures of one entry (label and ``provider:model``) over the window.

    ``requests`` counts every finished request; ``cancelled`` those stopped on
    purpose (a newer keystroke superseded a completion, ``:HexaiCancel``) and
    ``skipped`` those never sent because the provider's circuit breaker was
    open (error kind ``skipped``): neither says anything new about the model.
    ``errors`` counts the ones that failed (truncated answers included, see
    ``truncated``). Answered ones are ``requests - cancelled - skipped - errors``.
    """

    provider: str
    model: str
    label: str
    requests: int
    errors: int
    cancelled: int
    truncated: int
    skipped: int
    p50_ms: float | None
    p95_ms: float | None
    p50_ttft_ms: float | None
    p95_ttft_ms: float | None
    #: Median of the per-request output rates of the answered requests.
    tokens_per_s: float | None
    input_tokens: int
    output_tokens: int
    bytes_sent: int
    bytes_received: int

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"key": self.key}
        data.update(asdict(self))
        return data


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(records: Iterable[StatsRecord]) -> list[ModelSummary]:
    """One summary per label and ``provider:model``, in order of first appearance.

    Latency and time to first token are taken over answered requests
    (``status == "ok"``). ``cancelled`` and ``skipped`` (an error of kind
    ``skipped``: the breaker was open, nothing was sent; the failures that
    opened it are counted already) are counted apart; every other status
    (``error``, ``truncated``) is an error.
    """
    groups: dict[tuple[str, str, str], list[StatsRecord]] = {}
    for record in records:
        label = record.label if isinstance(record.label, str) and record.label else record.key
        groups.setdefault((label, record.provider, record.model), []).append(record)
    out: list[ModelSummary] = []
    for (label, provider, model), group in groups.items():
        ok = [r for r in group if r.status == "ok"]
        cancelled = sum(1 for r in group if r.status == "cancelled")
        skipped = sum(1 for r in group if r.status == "error" and r.error_kind == "skipped")
        totals = [r.total_ms for r in ok if r.total_ms is not None]
        ttfts = [r.ttft_ms for r in ok if r.ttft_ms is not None]
        rates = [r.tokens_per_s for r in ok if r.tokens_per_s is not None]
        out.append(
            ModelSummary(
                provider=provider,
                model=model,
                label=label,
                requests=len(group),
                errors=len(group) - len(ok) - cancelled - skipped,
                cancelled=cancelled,
                truncated=sum(1 for r in group if r.status == "truncated"),
                skipped=skipped,
                p50_ms=percentile(totals, 50),
                p95_ms=percentile(totals, 95),
                p50_ttft_ms=percentile(ttfts, 50),
                p95_ttft_ms=percentile(ttfts, 95),
                tokens_per_s=percentile(rates, 50),
                input_tokens=sum(r.input_tokens or 0 for r in group),
                output_tokens=sum(r.output_tokens or 0 for r in group),
                bytes_sent=sum(r.bytes_sent for r in group),
                bytes_received=sum(r.bytes_received for r in group),
            )
        )
    return out
