#!/usr/bin/env python3
"""Completion cleaner on the chat-answer corpus: how many answers become the intended insertion.

Run from the repository root with the venv's Python::

    .venv/bin/python bench/cleaner_corpus.py [--show-failures]

Reads ``tests/data/completion_corpus.toml`` (prefix/suffix cases in several
languages with the replies chat models typically give: fenced, restating the
cursor line or the line after it, prose, echoed markers) and prints the pass
rate of :func:`hexai_nvim.surfaces.completion.clean_suggestion`, per language
and in all. No network.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hexai_nvim.surfaces.completion import clean_suggestion
from tests.unit.completion_corpus import load_cases, score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    cases = load_cases()
    passed, failed = score(clean_suggestion, cases)
    total = Counter(case.lang for case in cases)
    bad = Counter(case.lang for case, _ in failed)
    for lang in sorted(total):
        ok = total[lang] - bad[lang]
        print(f"{lang:<12} {ok:>3}/{total[lang]:<3}")
    print(f"{'all':<12} {passed:>3}/{len(cases):<3} ({100 * passed / len(cases):.1f}%)")
    if args.show_failures:
        for case, got in failed:
            print(f"FAIL {case.id}: got {got!r}, want {case.want!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
