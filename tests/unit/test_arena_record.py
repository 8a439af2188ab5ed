"""Blind presentation and outcome building (pure; in a real Neovim: tests/e2e/test_arena.py)."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

from hexai_nvim.arena.record import (
    blind_order,
    completion_outcome,
    present_blind,
)
from hexai_nvim.surfaces.entry_state import EntryState


def snapshot(done: bool, n: int = 3) -> dict[str, Any]:
    return {
        "seq": 1, "slot": "ghost", "done": done,
        "entries": [
            {"index": i, "label": f"model{i}", "key": f"p:model{i}",
             "status": "ok" if done or i == 0 else "pending", "text": f"text {i}" if done or i == 0
             else "", "ms": 100 * (i + 1), "ttft_ms": 10, "stats": f"{100 * (i + 1)} ms",
             "output_tokens": 5}
            for i in range(n)
        ],
    }


def test_blind_slots_are_shuffled_evenly_over_200_triggers() -> None:
    # Fixed seed: 200 triggers of 3 entries; each entry lands in each slot
    # (sent position, and the randomly selected first suggestion) ~200/3 times.
    rng = random.Random(1414)
    position = [[0] * 3 for _ in range(3)]  # position[entry][sent index]
    selected = [0, 0, 0]
    for _ in range(200):
        perm = blind_order(3, rng)
        blind = present_blind(snapshot(True), perm, rng)
        for sent, real in enumerate(perm):
            position[real][sent] += 1
        selected[perm[blind["select"]]] += 1
    expected = 200 / 3
    for row in position:
        assert all(abs(count - expected) < 20 for count in row), position
    chi2 = sum((c - expected) ** 2 / expected for row in position for c in row)
    assert chi2 < 18.5  # chi-square, 4 degrees of freedom, p = 0.001
    assert all(abs(count - expected) < 20 for count in selected), selected


def test_blind_form_hides_names_and_timings_and_waits_for_every_entry() -> None:
    rng = random.Random(3)
    perm = [2, 0, 1]
    early = present_blind(snapshot(False), perm, rng)
    assert all(e["status"] == "pending" and e["text"] == "" for e in early["entries"])
    assert "select" not in early
    final = present_blind(snapshot(True), perm, rng)
    assert [e["label"] for e in final["entries"]] == ["A", "B", "C"]
    assert [e["text"] for e in final["entries"]] == ["text 2", "text 0", "text 1"]
    for e in final["entries"]:
        assert e["key"] == "" and e["stats"] == ""
        assert not {"ms", "ttft_ms", "output_tokens"} & set(e)
    assert final["select"] in (0, 1, 2) and final["blind"]


def state(i: int, text: str, **kw: Any) -> EntryState:
    s = EntryState(i, f"m{i}", f"p:m{i}", status="ok", text=text, stop_reason="stop")
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def result(total_ms: float) -> Any:
    stats = SimpleNamespace(total_ms=total_ms, ttft_ms=1.0, input_tokens=10, output_tokens=3,
                            tokens_estimated=False)
    return SimpleNamespace(stats=stats)


def test_a_cut_answer_accepted_whole_is_only_a_partial_accept() -> None:
    states = [state(0, "x = 1", stop_reason="length", truncated=True), state(1, "y = 2")]
    out = completion_outcome(states=states, results={0: result(5), 1: result(9)},
                             slots={0: 0, 1: 1}, action="accept", chosen=0, blind=False)
    assert out is not None and out.action == "partial" and out.chosen == (0,)
    assert out.candidates[0].status == "truncated" and out.candidates[1].total_ms == 9
    whole = completion_outcome(states=states, results={}, slots={0: 0, 1: 1},
                               action="accept", chosen=1, blind=False)
    assert whole is not None and whole.action == "accept"


def test_fewer_than_two_distinct_visible_suggestions_are_no_outcome() -> None:
    same = [state(0, "x = 1"), state(1, "x = 1")]
    assert completion_outcome(states=same, results={}, slots={0: 0, 1: 1},
                              action="accept", chosen=0, blind=False) is None
    unseen = [state(0, "x = 1"), state(1, "y = 2")]
    assert completion_outcome(states=unseen, results={}, slots={0: 0},
                              action="dismiss", chosen=None, blind=False) is None
    failed = [state(0, "x = 1"), state(1, "", status="error")]
    assert completion_outcome(states=failed, results={}, slots={0: 0, 1: 1},
                              action="moved_on", chosen=None, blind=False) is None
