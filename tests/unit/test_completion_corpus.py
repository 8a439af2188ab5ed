"""The cleaner on the chat-answer corpus (tests/data/completion_corpus.toml): every case.

Before this cleaner (fences and contiguous repeats only) 24 of the 43 cases
passed; ``bench/cleaner_corpus.py`` prints the current figure. The last five
cases are answers the real SmolLM2-135M gave (``bench/completion_real.py``).
"""

from __future__ import annotations

import pytest

from hexai_nvim.surfaces.completion import CURSOR_MARK, clean_suggestion
from tests.unit.completion_corpus import Case, load_cases, score

CASES = load_cases()


def test_the_corpus_is_big_and_varied_enough() -> None:
    assert len(CASES) >= 30
    assert len({case.lang for case in CASES}) >= 4
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_cleaner_leaves_the_intended_insertion(case: Case) -> None:
    assert clean_suggestion(case.reply, case.context()) == case.want


def test_every_case_passes() -> None:
    passed, failed = score(clean_suggestion, CASES)
    assert passed == len(CASES), [(case.id, got) for case, got in failed]


def test_no_marker_or_template_token_survives() -> None:
    for case in CASES:
        got = clean_suggestion(case.reply, case.context())
        assert CURSOR_MARK not in got and "<|" not in got and "<cursor>" not in got, case.id


def test_closing_brackets_the_code_needs_are_kept() -> None:
    kept = [case for case in CASES if case.want.rstrip().endswith((")", "}", "]"))]
    assert kept, "the corpus must hold answers that end in a needed closing bracket"
    for case in kept:
        assert clean_suggestion(case.reply, case.context()) == case.want, case.id


def test_prose_is_kept_in_comments_docstrings_and_markdown() -> None:
    docstring = Case("doc", "python", 'def add(a, b):\n    """', '\n', "Return the sum of a and b.",
                     "Return the sum of a and b.")
    comment = Case("comment", "python", "# ", "\n", "This is the entry point.",
                   "This is the entry point.")
    markdown = Case("md", "markdown", "# Notes\n\n", "\n", "The cache is rebuilt nightly.",
                    "The cache is rebuilt nightly.")
    for case in (docstring, comment, markdown):
        assert clean_suggestion(case.reply, case.context()) == case.want, case.id
