"""The arena's host side: one outcome per trigger when ghost text and a menu both show it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hexai_nvim.arena.store import OutcomeStore
from hexai_nvim.config.model import ArenaSettings
from hexai_nvim.host import arena
from hexai_nvim.surfaces.entry_state import EntryState


class FakeRuntime:
    def __init__(self, blind: bool = False) -> None:
        self.config = SimpleNamespace(arena=ArenaSettings(blind=blind))
        self.notes: list[str] = []

    def notify(self, text: str, level: Any = None) -> None:
        self.notes.append(text)


def ctx(before: str = "def add(a, b):\n    res", after: str = "\n") -> Any:
    return SimpleNamespace(filetype="python", before=before, after=after)


def states(*texts: str) -> list[EntryState]:
    return [EntryState(i, f"m{i}", f"p:m{i}", status="ok", text=t, stop_reason="stop")
            for i, t in enumerate(texts)]


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeRuntime:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return FakeRuntime()


def stored(tmp_path: Path) -> OutcomeStore:
    return OutcomeStore(tmp_path / "hexai" / "arena-outcomes.jsonl")


def report(rt: FakeRuntime, slot: str, seq: int, action: str, chosen: int | None = None) -> bool:
    payload = {"seq": seq, "slot": slot, "action": action, "slots": [[0, 0], [1, 1]]}
    if chosen is not None:
        payload["chosen"] = chosen
    return arena.arena_outcome(rt, payload)  # type: ignore[arg-type]


def test_a_menu_choice_replaces_the_twin_ghost_moved_on(rt: FakeRuntime, tmp_path: Path) -> None:
    arena.remember(rt, 1, "ghost", states("x = 1", "y = 2"), ctx())  # type: ignore[arg-type]
    arena.remember(rt, 2, "cmp", states("x = 1", "y = 2"), ctx())  # type: ignore[arg-type]
    assert report(rt, "ghost", 1, "moved_on")
    assert report(rt, "cmp", 2, "accept", 1)
    (only,) = stored(tmp_path).read()  # one id: the accept replaced the moved-on
    assert only.action == "accept" and only.chosen == (1,) and only.via == "cmp"
    lines = (tmp_path / "hexai" / "arena-outcomes.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"via":"ghost"' in lines[0]


def test_a_choice_is_never_replaced_and_two_non_choices_are_one(
    rt: FakeRuntime, tmp_path: Path
) -> None:
    arena.remember(rt, 1, "blink", states("x = 1", "y = 2"), ctx())  # type: ignore[arg-type]
    arena.remember(rt, 2, "ghost", states("x = 1", "y = 2"), ctx())  # type: ignore[arg-type]
    assert report(rt, "blink", 1, "accept", 0)
    assert not report(rt, "ghost", 2, "typed", 0)
    assert [o.via for o in stored(tmp_path).read()] == ["blink"]
    arena.remember(rt, 3, "menu", states("a", "b"), ctx("z = "))  # type: ignore[arg-type]
    arena.remember(rt, 4, "ghost", states("a", "b"), ctx("z = "))  # type: ignore[arg-type]
    assert report(rt, "menu", 3, "dismiss")
    assert not report(rt, "ghost", 4, "moved_on")
    assert [(o.via, o.action) for o in stored(tmp_path).read()] == [
        ("blink", "accept"), ("popup", "dismiss")]


def test_other_text_or_the_same_surface_is_not_a_twin(rt: FakeRuntime, tmp_path: Path) -> None:
    arena.remember(rt, 1, "ghost", states("x = 1", "y = 2"), ctx())  # type: ignore[arg-type]
    arena.remember(rt, 2, "ghost", states("x = 1", "y = 2"), ctx())  # type: ignore[arg-type]
    arena.remember(rt, 3, "cmp", states("x = 1", "y = 2"), ctx("other"))  # type: ignore[arg-type]
    assert report(rt, "ghost", 1, "moved_on")
    assert report(rt, "ghost", 2, "moved_on")
    assert report(rt, "cmp", 3, "accept", 0)
    assert len(stored(tmp_path).read()) == 3


def test_blind_twins_share_one_order_and_menus_are_blind_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    rt = FakeRuntime(blind=True)
    for seed in range(20):
        arena.arena_state(rt).rng.seed(seed)  # type: ignore[arg-type]
        texts = [f"t{seed}-{i}" for i in range(3)]
        ghost = arena.remember(rt, 10 * seed, "ghost", states(*texts), ctx(f"s{seed}"))  # type: ignore[arg-type]
        menu = arena.remember(rt, 10 * seed + 1, "cmp", states(*texts), ctx(f"s{seed}"))  # type: ignore[arg-type]
        del ghost, menu
        records = arena.arena_state(rt).triggers  # type: ignore[arg-type]
        perm_ghost = records[("ghost", 10 * seed)].perm
        perm_menu = records[("cmp", 10 * seed + 1)].perm
        assert perm_ghost is not None and perm_ghost == perm_menu
    snap = {"seq": 191, "slot": "cmp", "done": True,
            "entries": [s.to_lua() for s in states("t19-0", "t19-1", "t19-2")]}
    shown = arena.present(rt, snap)  # type: ignore[arg-type]
    assert [e["label"] for e in shown["entries"]] == ["A", "B", "C"] and shown["blind"]


def test_a_word_typed_between_the_menu_and_the_ghost_request_is_still_one_moment(
    rt: FakeRuntime, tmp_path: Path
) -> None:
    arena.remember(rt, 1, "cmp", states("x = 1", "y = 2"), ctx("    r"))  # type: ignore[arg-type]
    arena.remember(rt, 2, "ghost", states("x", "y"), ctx("    res"))  # type: ignore[arg-type]
    triggers = arena.arena_state(rt).triggers  # type: ignore[arg-type]
    assert triggers[("ghost", 2)].twin is triggers[("cmp", 1)]
    assert not arena._same_moment(ctx("    res"), ctx("    res ("))  # not a word apart
    assert not arena._same_moment(ctx("    res"), ctx("    res", after=" x\n"))
