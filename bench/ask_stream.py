"""Does a long, fast :HexaiAsk answer make Neovim stutter?

Two entries stream long answers from the simulator on 127.0.0.1 as fast as it
can send them (and a second run at a "fast model" rate of 500 tokens/s) into
the stacked results view. Meanwhile the benchmark asks Neovim a trivial
question (``nvim_eval('1')``) in a loop and records how long each answer
takes: that is what a keystroke waits for. Prints, per run:

- answer length, time to the end, number of draws per entry (batched at most
  every 30 ms per entry, so draws stay few however many pieces arrive);
- Neovim's answer time while streaming: p50 / p95 / max, against an idle
  baseline. Goal: p95 under 10 ms, max under 50 ms.

Run: ``.venv/bin/python bench/ask_stream.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hexai_nvim.sim.thread import SimThread  # noqa: E402
from tests.e2e.harness import NvimSession, update_remote_plugins  # noqa: E402

CONFIG = """
[providers.sim]
kind = "openai-compatible"
base_url = "{url}/v1"

[[models.ask]]
provider = "sim"
model = "{a}"
label = "first"
max_tokens = 100000

[[models.ask]]
provider = "sim"
model = "{b}"
label = "second"
max_tokens = 100000
"""


def pings(nvim: NvimSession, until: float | None = None, count: int | None = None,
          done: object = None) -> list[float]:
    """Answer times of ``nvim_eval('1')`` in ms, until ``done()`` or ``count`` samples."""
    samples: list[float] = []
    while True:
        started = time.perf_counter()
        nvim.nvim.eval("1")
        samples.append((time.perf_counter() - started) * 1000)
        # Drop the redraw notifications pynvim queued meanwhile (we are the UI).
        nvim.nvim._session._pending_messages.clear()
        if count is not None and len(samples) >= count:
            return samples
        if callable(done) and len(samples) % 20 == 0 and done():
            return samples
        if until is not None and time.monotonic() > until:
            return samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(nvim: NvimSession, tokens: int, tps: int, tag: str) -> None:
    rate = f"+tps={tps}" if tps else ""
    a = f"bench{tag}a+tokens={tokens}{rate}"
    b = f"bench{tag}b+tokens={tokens}{rate}+ttft=50"
    nvim.write_config(CONFIG.format(url=SIM.url, a=a, b=b))
    nvim.nvim.command("HexaiConfigReload")
    nvim.wait_for(lambda: nvim.lua("return require('hexai').settings.entries.ask[1]")
                  == "first", timeout=10)
    time.sleep(0.3)

    def finished() -> bool:
        st = nvim.lua("return require('hexai.ask').state()")
        return bool(st) and all(s["state"] not in ("waiting", "streaming")
                                for s in st["sections"])

    started = time.monotonic()
    nvim.nvim.command("HexaiAsk write a long essay")
    busy = pings(nvim, until=started + 120, done=finished)
    nvim.wait_for(finished, timeout=120)
    elapsed = time.monotonic() - started
    st = nvim.lua("return require('hexai.ask').state()")
    chars = [len(s["text"]) for s in st["sections"]]
    draws = [s["updates"] for s in st["sections"]]
    states = [s["state"] for s in st["sections"]]
    label = f"{tokens} tokens/entry, " + (f"{tps} tokens/s" if tps else "as fast as possible")
    print(f"\n{label}")
    print(f"  states {states}, {chars} chars, done in {elapsed:.2f} s")
    print(f"  draws per entry {draws}")
    print(f"  nvim answer time while streaming: p50 {pct(busy, .5):.2f} ms, "
          f"p95 {pct(busy, .95):.2f} ms, max {max(busy):.2f} ms ({len(busy)} samples)")


SIM: SimThread


def main() -> int:
    global SIM
    root = Path(tempfile.mkdtemp(prefix="hexai-bench-"))
    manifest = update_remote_plugins(root / "rplugin")
    with SimThread() as SIM:
        (root / "session").mkdir()
        nvim = NvimSession(root / "session", manifest)
        try:
            # A UI, so Neovim really redraws (and highlights) what streams in;
            # its redraw events are dropped (see pings()).
            nvim.nvim.ui_attach(160, 50, rgb=True, ext_linegrid=True)
            # Messages would wait for <Enter> at a hit-enter prompt: nobody reads them here.
            nvim.lua("vim.notify = function() end")
            nvim.write_config(CONFIG.format(url=SIM.url, a="warm", b="warm2"))
            nvim.setup("{ ask = { focus = false } }")
            idle = pings(nvim, count=300)
            print(f"idle nvim answer time: p50 {statistics.median(idle):.2f} ms, "
                  f"p95 {pct(idle, .95):.2f} ms, max {max(idle):.2f} ms")
            run(nvim, tokens=20000, tps=0, tag="burst")
            run(nvim, tokens=3000, tps=500, tag="steady")
        finally:
            nvim.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
