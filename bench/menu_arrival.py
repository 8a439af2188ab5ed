"""How soon an entry's answer is in each completion menu, with a stalled entry beside it.

For the real nvim-cmp (+ cmp-buffer), the real blink.cmp (``fuzzy =
{ implementation = 'lua' }``) from ``../shared/vendor/`` and the built-in popup:
three entries answer each trigger (one at 50 ms, one after about 2 s, one that
stalls until its 8 s deadline, as in ``tests/e2e/test_menus.py``). Prints,
per menu, the time from the simulator finishing the fast entry's answer to
the item being in the menu (polled every 2 ms over RPC, so it includes one
RPC round trip), p50 and max. Goal: under 200 ms, while the stalled entry
still runs.

Run: ``.venv/bin/python bench/menu_arrival.py [--samples N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hexai_nvim.sim.thread import SimThread  # noqa: E402
from tests.e2e import test_menus as menus  # noqa: E402
from tests.e2e.harness import NvimSession, update_remote_plugins  # noqa: E402


def in_menu(nvim: NvimSession, kind: str) -> bool:
    if kind == "popup":
        return "[fast]" in nvim.lua(menus.PUM)["labels"]
    code = menus.CMP_ITEMS if kind == "cmp" else menus.BLINK_ITEMS
    return "fast" in menus.hexai_items(nvim, code)


def one(root: Path, manifest: Path, sim: Any, kind: str, n: int) -> float:
    name = f"bench-{kind}-{n}"
    folder = root / name
    folder.mkdir()
    nvim = NvimSession(folder, manifest)
    try:
        if kind == "popup":
            nvim.write_config(menus.CONFIG.format(sim=sim.url, name=name, stall_ms=menus.STALL_MS))
            nvim.setup("{ completion = { display = 'popup' } }")
            sample = folder / "sample.py"
            sample.write_text(menus.SAMPLE)
            nvim.nvim.command(f"edit {sample}")
            nvim.nvim.command("normal! 2G$")
        else:
            menus.start(nvim, sim, folder, name, kind)
        menus.type_in_insert_mode(nvim, "res")
        fast = f"{name}-fast+ttft=50+tokens=24"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not in_menu(nvim, kind):
            time.sleep(0.002)
        seen = time.monotonic()
        answered = [r.finished_at for r in sim.state.requests_for(fast) if r.finished_at]
        stalled = menus.running(sim, f"{name}-stall+fault=stall")
        if not answered or not stalled:
            raise RuntimeError(f"{kind}: no fast answer, or the stalled entry already ended")
        return (seen - answered[0]) * 1000
    finally:
        nvim.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hexai-bench-menu-") as tmp, SimThread() as sim:
        root = Path(tmp)
        (root / "rplugin").mkdir()
        manifest = update_remote_plugins(root / "rplugin")
        print("fast entry's answer to its item in the menu (a stalled entry still running):")
        for kind in ("cmp", "blink", "popup"):
            times = [one(root, manifest, sim, kind, n) for n in range(args.samples)]
            print(f"  {kind:6} p50 {statistics.median(times):6.1f} ms   max {max(times):6.1f} ms"
                  f"   (n={len(times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
