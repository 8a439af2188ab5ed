"""How long does the arena's rating take for 1,000 / 10,000 / 100,000 outcomes?

Simulated voters (five models with known strengths, two or three suggestions
per outcome in random slots, a top-slot bias) produce outcome records; the
benchmark times, per size, the whole leaderboard (:func:`build_board`:
outcomes -> battles -> fit -> accept rates, latency, cost) and the fit alone,
best of three runs, plus reading those outcomes back from a JSONL store.

Run: ``.venv/bin/python bench/arena_rating.py``.
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hexai_nvim.arena.board import battle_of, build_board  # noqa: E402
from hexai_nvim.arena.rating import fit  # noqa: E402
from hexai_nvim.arena.store import Candidate, Outcome, OutcomeStore, with_ties  # noqa: E402

TRUE = {"openai:gpt-4.1-mini": 0.7, "ollama:qwen2.5-coder:7b": 0.2, "sim:a": 0.0,
        "sim:b": -0.3, "anthropic:claude-3-5-haiku-latest": -0.6}
SLOT = (0.0, -0.9, -1.4)


def outcomes(n: int, seed: int = 0) -> list[Outcome]:
    rng = random.Random(seed)
    keys = sorted(TRUE)
    out = []
    for t in range(n):
        shown = rng.sample(keys, rng.choice((2, 3)))
        cands = tuple(
            Candidate.of_text(k, k, s, f"{k}{t}", visible=True, status="ok",
                              total_ms=rng.uniform(50, 900), input_tokens=400, output_tokens=30)
            for s, k in enumerate(shown)
        )
        w = [math.exp(TRUE[c.key] + SLOT[c.slot]) for c in cands]
        pick, i = rng.random() * sum(w), 0
        while pick > w[i]:
            pick -= w[i]
            i += 1
        accepted = rng.random() < 0.6
        out.append(Outcome(ts=float(t), id=str(t), surface="completion",
                           action="accept" if accepted else "moved_on",
                           chosen=with_ties(cands, i) if accepted else (), candidates=cands))
    return out


def best_of(runs: int, fn: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print("arena rating (pure Python), best of 3")
    print(f"{'outcomes':>9}  {'board':>9}  {'fit only':>9}  {'read file':>9}")
    for n in (1_000, 10_000, 100_000):
        data = outcomes(n)
        battles = [b for b in map(battle_of, data) if b is not None]
        board_s = best_of(3, lambda d=data: build_board(d))
        fit_s = best_of(3, lambda b=battles: fit(b))
        with tempfile.TemporaryDirectory() as tmp:
            store = OutcomeStore(Path(tmp) / "o.jsonl")
            with open(store.path, "w", encoding="utf-8") as handle:
                handle.writelines(o.to_json() + "\n" for o in data)
            read_s = best_of(3, store.read)
        print(f"{n:>9}  {board_s * 1000:>7.0f}ms  {fit_s * 1000:>7.0f}ms  {read_s * 1000:>7.0f}ms")


if __name__ == "__main__":
    main()
