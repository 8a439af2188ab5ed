"""The arena's outcome store: a versioned local file, hashes only unless opted in."""

from __future__ import annotations

import json
from pathlib import Path

from hexai_nvim.arena.store import (
    FORMAT_VERSION,
    Candidate,
    Outcome,
    OutcomeStore,
    default_outcome_path,
    text_hash,
    with_ties,
)


def outcome(ts: float = 100.0, action: str = "accept", chosen: int | None = 0,
            oid: str = "",
            texts: tuple[str, ...] = ("return a + b", "return b + a")) -> Outcome:
    cands = tuple(
        Candidate.of_text(f"p:m{i}", f"m{i}", i, t, visible=True, status="ok",
                          total_ms=100.0 * (i + 1), keep_text=True)
        for i, t in enumerate(texts)
    )
    return Outcome(ts=ts, id=oid or f"t{ts}", surface="completion", action=action,
                   chosen=with_ties(cands, chosen), candidates=cands,
                   prompt="def add(a, b):", prompt_hash=text_hash("def add(a, b):"),
                   prompt_chars=14)


def test_default_path_is_in_the_xdg_state_folder(tmp_path: Path) -> None:
    assert default_outcome_path({"XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "hexai" / "arena-outcomes.jsonl"
    )
    fallback = default_outcome_path({"XDG_STATE_HOME": "relative"})
    assert fallback == Path.home() / ".local" / "state" / "hexai" / "arena-outcomes.jsonl"


def test_by_default_only_hashes_and_lengths_are_stored(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.jsonl")
    assert store.append(outcome())
    raw = (tmp_path / "o.jsonl").read_text()
    assert "return a + b" not in raw and "def add" not in raw
    data = json.loads(raw)
    assert data["v"] == FORMAT_VERSION
    first = data["candidates"][0]
    assert first["hash"] == text_hash("return a + b") and first["chars"] == 12
    assert "text" not in first and "prompt" not in data
    (back,) = store.read()
    assert back.candidates[0].text is None and back.chosen == (0,)
    assert back.candidates[1].total_ms == 200.0


def test_text_is_kept_when_the_user_opts_in(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.jsonl", store_text=True)
    store.append(outcome())
    (back,) = store.read()
    assert back.candidates[0].text == "return a + b" and back.prompt == "def add(a, b):"


def test_identical_suggestions_are_a_tie(tmp_path: Path) -> None:
    tied = outcome(texts=("x = 1", "y = 2", "x = 1"), chosen=2)
    assert tied.chosen == (0, 2) and tied.distinct() == 2
    assert outcome(chosen=None, action="dismiss").chosen == ()


def test_other_versions_and_garbage_are_skipped_never_pruned(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    store = OutcomeStore(path)
    store.append(outcome(ts=1.0))  # very old: still there
    with open(path, "a") as handle:
        handle.write('{"v": 99, "ts": 2}\n')
        handle.write("not json\n\n")
        handle.write('{"v": 1, "ts": 3, "surface": "ask", "action": "vote", '
                     '"chosen": [5], "candidates": []}\n')  # chosen out of range
    store.append(outcome(ts=4.0))
    assert [o.ts for o in store.read()] == [1.0, 4.0]
    assert [o.ts for o in store.read(since=2.0)] == [4.0]
    assert not hasattr(store, "prune")


def test_a_line_with_the_id_of_an_earlier_one_replaces_it(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.jsonl")
    store.append(outcome(ts=1.0, oid="ask-1", action="yank", chosen=0))
    store.append(outcome(ts=2.0, oid="other"))
    store.append(outcome(ts=3.0, oid="ask-1", action="vote", chosen=1))
    assert [(o.id, o.action, o.chosen) for o in store.read()] == [
        ("other", "accept", (0,)), ("ask-1", "vote", (1,))]
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 3  # append-only


def test_an_unwritable_store_reports_false_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = OutcomeStore(blocker / "o.jsonl")
    assert store.append(outcome()) is False
    assert store.read() == []
