"""Tokens/s as hexai reports it, against the real llama.cpp server's own count.

Starts the real server of the tests (llama-cpp-python + SmolLM2-135M, built once
per machine by ``tests/llama_server.py``) on 127.0.0.1 and asks it the same
question through the engine, streamed and whole, a few times each. After every
answer it reads the server's own figures from its log (llama.cpp's
``llama_perf_context_print: eval time = X ms / N runs (... tokens per second)``)
and prints, per mode:

- hexai's output tokens and where they came from (``server`` usage for whole
  answers; ``chunks`` for streams, which carry no usage on this server) next to
  the server's N;
- hexai's tokens/s next to the server's, and their ratio (goal 1.00 ± 0.05).

Run: ``.venv/bin/python bench/real_rate.py [runs] [max_tokens]`` (default 3 runs per
mode, 96 tokens; one warm-up answer first, not counted).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
from pathlib import Path
from types import MappingProxyType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hexai_nvim.config.model import (  # noqa: E402
    CompletionSettings,
    Config,
    EngineSettings,
    Entry,
    General,
    ProviderSpec,
)
from hexai_nvim.engine.core import Engine  # noqa: E402
from hexai_nvim.engine.results import EntryResult  # noqa: E402
from hexai_nvim.providers.base import Message, Request  # noqa: E402
from tests.llama_server import LlamaServer, ensure  # noqa: E402

PROMPT = "Write a short story about a lighthouse keeper and a storm."
MAX_TOKENS = 96
EVAL = re.compile(r"^llama_perf_context_print:\s+eval time =\s*([\d.]+) ms /\s*(\d+) runs\s*"
                  r"\(\s*[\d.]+ ms per token,\s*([\d.]+) tokens per second\)", re.M)


def entry(server: LlamaServer, stream: bool) -> Entry:
    spec = ProviderSpec(name="local", kind="openai-compatible", base_url=server.base_url,
                        api_key_env=(), max_concurrency=1)
    return Entry(surface="ask", index=0, provider=spec, model=server.model, temperature=0,
                 label=f"local ({'streamed' if stream else 'whole'})", max_tokens=MAX_TOKENS,
                 timeout_ms=600_000, stream=stream)


def server_eval(log: Path, seen: int) -> tuple[tuple[float, int, float] | None, int]:
    """The server's newest ``eval time`` line after the first ``seen`` ones."""
    found = list(EVAL.finditer(log.read_text(errors="replace")))
    if len(found) <= seen:
        return None, len(found)
    last = found[-1]
    return (float(last.group(1)), int(last.group(2)), float(last.group(3))), len(found)


async def ask(engine: Engine, one: Entry) -> EntryResult:
    request = Request(messages=(Message("user", PROMPT),), max_tokens=MAX_TOKENS, temperature=0)
    try:
        [result] = await engine.fan_out([one], request).wait()
    finally:
        await engine.close()
    return result


def main() -> None:
    global MAX_TOKENS
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    MAX_TOKENS = int(sys.argv[2]) if len(sys.argv) > 2 else MAX_TOKENS
    build = ensure()
    with LlamaServer(build) as server:
        entries = {mode: entry(server, mode == "streamed") for mode in ("streamed", "whole")}
        config = Config(general=General(), completion=CompletionSettings(),
                        engine=EngineSettings(),
                        providers=MappingProxyType({"local": entries["whole"].provider}),
                        models=MappingProxyType({"ask": tuple(entries.values())}))
        print(f"real llama.cpp server (llama-cpp-python, SmolLM2-135M), {runs} runs per mode, "
              f"max_tokens {MAX_TOKENS}, temperature 0")
        # One answer first (not counted): the server loads and caches the prompt.
        asyncio.run(ask(Engine(config), entries["whole"]))
        seen = server_eval(server.log_path, 0)[1]
        for mode, one in entries.items():
            ratios: list[float] = []
            for n in range(1, runs + 1):
                engine = Engine(config)
                result = asyncio.run(ask(engine, one))
                figures, seen = server_eval(server.log_path, seen)
                if figures is None or not result.ok:
                    print(f"  {mode:8} run {n}: no figures (ok={result.ok}, "
                          f"{result.error and result.error.label()})")
                    continue
                _eval_ms, server_tokens, server_rate = figures
                stats = result.stats
                rate = stats.tokens_per_s or 0.0
                ratios.append(rate / server_rate)
                print(f"  {mode:8} run {n}: hexai {stats.output_tokens} tok "
                      f"({stats.output_source}) {rate:6.1f} tok/s | server {server_tokens} tok "
                      f"{server_rate:6.1f} tok/s | ratio {rate / server_rate:.3f}")
            if ratios:
                print(f"{mode}: tokens/s ratio hexai/server median {statistics.median(ratios):.3f}"
                      f" (min {min(ratios):.3f}, max {max(ratios):.3f}; goal 1.00 ± 0.05)")


if __name__ == "__main__":
    main()
