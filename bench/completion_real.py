#!/usr/bin/env python3
"""Completion answers of a real small model: chat prompt (before/after) and FIM, raw and cleaned.

Run from the repository root with the venv's Python, after ``make test`` built
the real server once (``tests/llama_server.py``)::

    .venv/bin/python bench/completion_real.py [--cases 12] [--max-tokens 24]

Starts llama-cpp-python with SmolLM2-135M on 127.0.0.1 (nothing else is
contacted), and for the first N cases of ``tests/data/completion_corpus.toml``
asks three ways: the chat prompt this project used before (its templates are
kept below), today's chat prompt, and FIM through ``/v1/completions``. Prints
per way how many answers hold a cursor marker or a prompt header (raw and
after :func:`clean_suggestion`), how many start with prose, and how many give
no suggestion at all.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hexai_nvim.config.model import Entry, ProviderSpec
from hexai_nvim.providers import HttpPool, make_provider
from hexai_nvim.providers.base import Call, TextDelta
from hexai_nvim.surfaces.completion import CURSOR_MARK, build_request, clean_suggestion
from tests import llama_server
from tests.unit.completion_corpus import load_cases

#: The chat templates before the few-shot prompt (for the "before" figure).
OLD_PROMPTS = {
    "completion": {
        "system_general": (
            "You are a code completion engine. Answer with only the text to insert at the "
            "cursor: no explanations, no Markdown, no code fences. Continue exactly at the "
            "cursor and never repeat text that is already left or right of it."
        ),
        "user_general": (
            "Complete the code at the cursor.\nFile: {{file}}\nEnclosing function: {{function}}\n"
            "Line above: {{above}}\nCurrent line (cursor at character {{char}}): {{current}}\n"
            "Line below: {{below}}\nAnswer with the inserted text only."
        ),
        "additional_context": "More of the file, the cursor marked as " + CURSOR_MARK
        + ":\n{{context}}",
    }
}
MARKER_RE = re.compile(r"<\|[a-z_]+\|>|cursor marked|</?cursor>", re.IGNORECASE)
PROSE_RE = re.compile(r"^\s*(here|sure|certainly|the |this |to complete|i |you |below)",
                      re.IGNORECASE)


async def ask(http: HttpPool, spec: ProviderSpec, model: str, request: object) -> str:
    call = Call(model=model, request=request, stream=False)  # type: ignore[arg-type]
    provider = make_provider(spec, http)
    return "".join([e.text async for e in provider.stream(call) if isinstance(e, TextDelta)])


async def run(
    server: llama_server.LlamaServer, cases: int, max_tokens: int, show: bool
) -> None:
    ways = {
        "chat, before": (ProviderSpec("c", "openai-compatible", server.base_url, fim="off"),
                         OLD_PROMPTS),
        "chat, now": (ProviderSpec("c", "openai-compatible", server.base_url, fim="off"), {}),
        "fim /v1/completions": (ProviderSpec("f", "openai-compatible", server.base_url), {}),
    }
    http = HttpPool()
    try:
        for way, (spec, prompts) in ways.items():
            counts = dict(raw_marker=0, raw_prose=0, marker=0, prose=0, empty=0)
            picked = load_cases()[:cases]
            for case in picked:
                ctx = case.context()
                entry = Entry("completion", 0, spec, server.model, 0.0, "x", max_tokens, 60000,
                              False)
                raw = await ask(http, spec, server.model, build_request(ctx, entry, prompts))
                cleaned = clean_suggestion(raw, ctx)
                if show:
                    print(f"  [{way}] {case.id}: {raw!r} -> {cleaned!r}")
                counts["raw_marker"] += bool(MARKER_RE.search(raw))
                counts["raw_prose"] += bool(PROSE_RE.match(raw))
                counts["marker"] += bool(MARKER_RE.search(cleaned))
                counts["prose"] += bool(PROSE_RE.match(cleaned))
                counts["empty"] += not cleaned
            n = len(picked)
            print(f"{way:<20} raw: marker {counts['raw_marker']}/{n}, "
                  f"prose {counts['raw_prose']}/{n} | cleaned: marker {counts['marker']}/{n}, "
                  f"prose {counts['prose']}/{n}, empty {counts['empty']}/{n}", flush=True)
    finally:
        await http.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--show", action="store_true", help="print every answer")
    args = parser.parse_args()
    build = llama_server.ensure()
    with llama_server.LlamaServer(build) as server:
        asyncio.run(run(server, args.cases, args.max_tokens, args.show))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
