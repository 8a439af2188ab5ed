"""Blind mode of the ask surface: what an update keeps before and after the reveal."""

from __future__ import annotations

import random
from collections import Counter

from hexai_nvim.arena.record import reveal_words
from hexai_nvim.surfaces.ask_blind import HIDDEN_ERROR, BlindAsk, blind_name


def final(index: int, **kw: object) -> dict[str, object]:
    update: dict[str, object] = {
        "index": index, "label": "qwen", "key": "ollama:qwen2.5", "status": "ok", "text": "",
        "stats": "ttft 80 ms · total 1.20 s · 12 in / 40 out tok · 33.3 tok/s", "ms": 1200,
        "ttft_ms": 80, "output_tokens": 40, "tokens_per_s": 33.3, "tokens_estimated": True,
        "stop_reason": "stop", "score": {"ttft": "80 ms", "total": "1.20 s", "rate": "33.3 tok/s"},
    }
    update.update(kw)
    return update


def test_before_the_reveal_an_update_has_a_letter_and_no_name_figure_or_error_text() -> None:
    blind = BlindAsk([2, 0, 1])  # slot A shows entry 2, B entry 0, C entry 1
    shown, out = blind.present(0, final(0))
    assert shown == 1 and out["index"] == 1 and out["label"] == "Answer B" and out["key"] == ""
    assert out["stats"] == "" and out["score"] == {}
    for name in ("ms", "ttft_ms", "output_tokens", "tokens_per_s", "tokens_estimated"):
        assert name not in out
    assert "qwen" not in str(out) and "ms" not in str(out.values())
    # A cut answer still says so, without its token count.
    _, cut = blind.present(1, final(1, stop_reason="length", stop="cut at 40 tokens (token limit)"))
    assert cut["stop"] == cut["stats"] == "cut (token limit)" and "40" not in str(cut)
    assert cut["score"] == {"stop": "cut (token limit)"}
    # An error keeps its kind and status; its text (which names the model) waits.
    _, err = blind.present(2, final(2, status="error", error_kind="not_found", error_status=404,
                                    error_message="The model 'qwen2.5' does not exist"))
    assert err["error_kind"] == "not_found" and err["error_status"] == 404
    assert err["error_message"] == HIDDEN_ERROR and err["label"] == "Answer A"
    # Streamed text and running states pass as they are.
    assert blind.present(2, {"status": "streaming", "append": "x = 1"}) == (
        0, {"status": "streaming", "append": "x = 1"})


def test_after_the_reveal_updates_pass_whole_in_their_shown_slot() -> None:
    blind = BlindAsk([1, 0])
    blind.revealed = True
    shown, out = blind.present(1, final(1, error_message="boom"))
    assert shown == 0 and out["label"] == "A: qwen" and out["key"] == "ollama:qwen2.5"
    assert out["ms"] == 1200 and out["stats"].startswith("ttft 80 ms")
    assert blind.real(0) == 1 and blind.real(1) == 0 and blind.real(2) is None
    assert blind.real(True) is None and blind.slots() == {1: 0, 0: 1}


def test_reveal_words_name_every_letter_and_mark_the_choice() -> None:
    blind = BlindAsk([2, 0, 1])
    words = reveal_words(["qwen", "llama", "mistral"], blind.perm, chosen=0)
    assert words == "A = mistral, B = qwen ✓, C = llama"
    assert "✓" not in reveal_words(["a", "b", "c"], blind.perm, chosen=None)
    assert blind_name(27) == "Answer #28"


def test_every_entry_takes_every_slot_about_as_often_over_600_questions() -> None:
    rng = random.Random(14)
    counts = [[0] * 3 for _ in range(3)]  # counts[entry][slot]
    orders: Counter[tuple[int, ...]] = Counter()
    for _ in range(600):
        blind = BlindAsk.shuffled(3, rng)
        orders[tuple(blind.perm)] += 1
        for real in range(3):
            counts[real][blind.shown(real)] += 1
    assert all(abs(c - 200) < 40 for row in counts for c in row), counts
    # The six orders about as often: chi-square, 5 degrees of freedom, p = 0.001.
    assert len(orders) == 6
    assert sum((n - 100) ** 2 / 100 for n in orders.values()) < 20.5, orders
    # The same seed gives the same orders.
    first, again = (BlindAsk.shuffled(3, random.Random(7)) for _ in range(2))
    assert first.perm == again.perm
