"""The comparison as Markdown: the entry-state words, the blind form before the vote."""

from __future__ import annotations

from hexai_nvim.engine.results import ErrorInfo
from hexai_nvim.providers.base import ErrorKind
from hexai_nvim.surfaces.ask_blind import HIDDEN_ERROR
from hexai_nvim.surfaces.export import ask_markdown
from tests.unit.test_ask_cmd import result

RESULTS = [
    result(0, "x = 1"),
    result(1, "", ErrorInfo(ErrorKind.NOT_FOUND, "The model 'm1' does not exist", 404)),
    result(2, "half an ans", ErrorInfo(ErrorKind.TIMEOUT, "no answer after 2 s")),
]


def test_states_are_the_entry_state_words_of_the_ask_view() -> None:
    md = ask_markdown("why?", RESULTS, vote="p:m0")
    assert "| p:m0 (`p:m0`) | done |" in md
    assert "| p:m1 (`p:m1`) | error (not_found) |" in md
    assert "| p:m2 (`p:m2`) | truncated (timeout) |" in md
    assert "> not_found (HTTP 404): The model 'm1' does not exist" in md
    assert md.rstrip().endswith("Best: p:m0")


def test_the_blind_form_names_no_entry_and_shows_no_figure_or_error_text() -> None:
    order = [RESULTS[2], RESULTS[0], RESULTS[1]]
    md = ask_markdown("why?", order, labels=["Answer A", "Answer B", "Answer C"], blind=True)
    assert [line for line in md.splitlines() if line.startswith("## Answer")] == [
        "## Answer A", "## Answer B", "## Answer C"]
    assert "| Answer C | error (not_found) |" in md
    assert f"> not_found (HTTP 404): {HIDDEN_ERROR}" in md
    for hidden in ("p:m", "m1", " ms", "tok/s", " in / ", "ttft", "does not exist"):
        assert hidden not in md, hidden
    # After the vote: the same order, the names revealed.
    md = ask_markdown("why?", order, labels=["A: p:m2", "B: p:m0", "C: p:m1"], vote="B: p:m0")
    assert "## A: p:m2" in md and "| B: p:m0 (`p:m0`) | done |" in md and "ttft " in md
