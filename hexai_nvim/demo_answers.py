"""What the simulated models of ``make demo`` answer about its sample file.

The simulator normally answers with deterministic filler; for the demo it asks
:func:`reply` first (see :class:`hexai_nvim.sim.state.SimState`), so that the
suggestions are code that fits where they are inserted, the answers to
:HexaiAsk read like answers, and a code action documents the function it was
given. Each model answers in its own words, the way two real models differ.

Anything the demo has no canned answer for gets None: the simulator's usual
text, so the demo never stops answering.
"""

from __future__ import annotations

import re

#: Base model names of the demo's two simulated models.
LOCAL_BASE = "qwen2.5-coder"
CLOUD_BASE = "gpt-4.1-mini"

#: How the completion surface marks the cursor for chat models.
CURSOR_MARK = "<|cursor|>"
#: The line after which the demo opens a new line (``demo.SAMPLE_ROW``).
ANCHOR = "low, high = min(values), max(values)"

#: Completions at the new line below :data:`ANCHOR` (the cursor sits after
#: the indentation, so the first line has none of its own).
COMPLETIONS = {
    LOCAL_BASE: (
        "if high == low:\n"
        "        return [0.0 for _ in values]\n"
        "    return [(v - low) / (high - low) for v in values]"
    ),
    CLOUD_BASE: (
        "span = high - low\n"
        "    return [(v - low) / span if span else 0.0 for v in values]"
    ),
}

ASK_NORMALISE = {
    LOCAL_BASE: (
        "`normalise()` rescales the numbers so that the smallest becomes 0 and the "
        "largest 1. It finds both ends once:\n"
        "\n"
        "```python\n"
        "low, high = min(values), max(values)\n"
        "```\n"
        "\n"
        "and should then map every value `v` to `(v - low) / (high - low)`. As written "
        "it stops after that line, so it returns `None`.\n"
        "\n"
        "Two edge cases to handle:\n"
        "- all values equal: `high - low` is 0, so the division fails;\n"
        "- an empty list: `min()` raises `ValueError`."
    ),
    CLOUD_BASE: (
        "It is meant to be a min-max scaler, but the body is unfinished: it computes "
        "the range and returns nothing. A complete version:\n"
        "\n"
        "```python\n"
        "def normalise(values):\n"
        '    """Scale values to the range 0..1."""\n'
        "    if not values:\n"
        "        return []\n"
        "    low, high = min(values), max(values)\n"
        "    span = high - low\n"
        "    if span == 0:\n"
        "        return [0.0 for _ in values]\n"
        "    return [(v - low) / span for v in values]\n"
        "```\n"
        "\n"
        "Returning zeros for a constant list is a choice: `0.5` or raising "
        "`ValueError` are defensible too. `mean()` above has the same empty-list "
        "problem (`ZeroDivisionError`)."
    ),
}

ASK_OTHER = {
    LOCAL_BASE: (
        "In this demo the models are simulated and only know `sample.py`. Try "
        "`:HexaiAsk what does normalise do?`, or select lines and run "
        "`:'<,'>HexaiAsk explain this`."
    ),
    CLOUD_BASE: (
        "I am a simulated model (this is `make demo`, offline), so I can only talk "
        "about `sample.py`: ask what `normalise` or `mean` does, or how to test them."
    ),
}

ASK_TESTS = {
    LOCAL_BASE: (
        "```python\n"
        "from sample import mean, normalise\n"
        "\n"
        "def test_mean():\n"
        "    assert mean([1, 2, 3]) == 2\n"
        "\n"
        "def test_normalise_spans_0_to_1():\n"
        "    assert normalise([2, 4, 6]) == [0.0, 0.5, 1.0]\n"
        "```"
    ),
    CLOUD_BASE: (
        "With pytest, pin the ends and the edge cases:\n"
        "\n"
        "```python\n"
        "import pytest\n"
        "from sample import mean, normalise\n"
        "\n"
        "@pytest.mark.parametrize('values, want', [([2, 4, 6], [0.0, 0.5, 1.0]),\n"
        "                                          ([5, 5], [0.0, 0.0])])\n"
        "def test_normalise(values, want):\n"
        "    assert normalise(values) == want\n"
        "\n"
        "def test_mean_of_nothing_raises():\n"
        "    with pytest.raises(ZeroDivisionError):\n"
        "        mean([])\n"
        "```"
    ),
}

DOCUMENTED_MEAN = (
    "def mean(values):\n"
    '    """Return the mean of ``values`` (a non-empty sequence of numbers)."""\n'
    "    total = sum(values)\n"
    "    return total / len(values)"
)
SIMPLIFIED_MEAN = "def mean(values):\n    return sum(values) / len(values)"
DOCUMENTED_NORMALISE = (
    "def normalise(values):\n"
    '    """Scale values to the range 0..1.\n'
    "\n"
    "    The smallest value maps to 0 and the largest to 1; ``values`` must not be\n"
    "    empty.\n"
    '    """\n'
    "    low, high = min(values), max(values)"
)

_ACTION = re.compile(
    r"^(?P<kind>Document this code|Simplify this code|Code to rewrite"
    r"|Selected code):\n(?P<code>.*)\Z", re.S | re.M)


def reply(base_model: str, prompt: str) -> str | None:
    """The canned answer of ``base_model`` to ``prompt`` (None: none canned)."""
    if base_model not in COMPLETIONS:
        return None
    action = _ACTION.search(prompt)
    if action is not None:
        return _code_action(action.group("kind"), action.group("code"))
    if CURSOR_MARK in prompt or not _is_question(prompt):
        return _completion(base_model, prompt)
    question = prompt.rsplit("```", 1)[-1].lower()
    if "test" in question:
        return ASK_TESTS[base_model]
    if "normalise" in question or "normalize" in question or "explain" in question \
            or "this" in question or "mean" in question:
        return ASK_NORMALISE[base_model]
    return ASK_OTHER[base_model]


def _is_question(prompt: str) -> bool:
    """An ask (prose, maybe after a fenced file) rather than a FIM prefix (code)."""
    if prompt.startswith("File: "):
        return True
    return ANCHOR not in prompt and "def " not in prompt


def _completion(base_model: str, prompt: str) -> str | None:
    """The suggestion when the cursor is on the line below :data:`ANCHOR`, minus
    what was typed there already; None anywhere else."""
    # Chat: the file with the cursor marked (the header names the mark too).
    # FIM: the text before the cursor, then the (here empty) text after it.
    before = prompt.rsplit(CURSOR_MARK, 1)[0] if CURSOR_MARK in prompt else prompt.rstrip("\n")
    head, sep, typed = before.rpartition("\n")
    if not sep or not head.rstrip().endswith(ANCHOR):
        return None
    text = COMPLETIONS[base_model]
    typed = typed.strip()
    if not text.startswith(typed):
        return None
    return text[len(typed):]


def _code_action(kind: str, code: str) -> str:
    if "def mean(" in code:
        return SIMPLIFIED_MEAN if kind.startswith("Simplify") else DOCUMENTED_MEAN
    if "def normalise(" in code and kind.startswith("Document"):
        return DOCUMENTED_NORMALISE
    # Nothing canned: answer with the code unchanged (the preview says so).
    return code.rstrip("\n")
