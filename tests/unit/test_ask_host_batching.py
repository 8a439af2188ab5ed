"""The ask host: streamed text is batched per entry, headers get their stats line."""

from __future__ import annotations

import asyncio

from hexai_nvim.engine.results import EntryStats
from hexai_nvim.host.ask import FLUSH_INTERVAL_S, StreamBatcher
from hexai_nvim.surfaces.format import format_stats


async def test_first_piece_goes_out_at_once_then_pieces_are_coalesced() -> None:
    sent: list[tuple[float, int, str]] = []
    loop = asyncio.get_running_loop()
    batcher = StreamBatcher(lambda i, t: sent.append((loop.time(), i, t)), interval_s=0.05)
    start = loop.time()
    batcher.add(0, "a")
    for piece in "bcdef":
        batcher.add(0, piece)
    assert [t for _, _, t in sent] == ["a"]
    await asyncio.sleep(0.12)
    assert [t for _, _, t in sent] == ["a", "bcdef"]
    # The second draw waited for the interval.
    assert sent[1][0] - start >= 0.045


async def test_entries_are_batched_independently() -> None:
    sent: list[tuple[int, str]] = []
    batcher = StreamBatcher(lambda i, t: sent.append((i, t)), interval_s=10)
    batcher.add(0, "x")
    batcher.add(1, "y")
    batcher.add(0, "z")
    assert sent == [(0, "x"), (1, "y")]
    batcher.flush(0)
    assert sent[-1] == (0, "z")
    batcher.close()


async def test_many_fast_pieces_make_few_draws() -> None:
    draws: list[str] = []
    batcher = StreamBatcher(lambda i, t: draws.append(t), interval_s=FLUSH_INTERVAL_S)
    text = "".join(f"w{i} " for i in range(2000))
    for i in range(2000):
        batcher.add(0, f"w{i} ")
        if i % 100 == 0:
            await asyncio.sleep(0.005)  # the model keeps writing for ~0.1 s
    batcher.close()
    assert "".join(draws) == text
    assert len(draws) <= 10


async def test_close_flushes_what_is_pending_and_disarms_timers() -> None:
    sent: list[str] = []
    batcher = StreamBatcher(lambda i, t: sent.append(t), interval_s=0.02)
    batcher.add(0, "a")
    batcher.add(0, "b")
    batcher.close()
    await asyncio.sleep(0.05)
    assert sent == ["a", "b"]


def stats(**kw: object) -> EntryStats:
    base: dict[str, object] = dict(
        queued_ms=0.0, ttft_ms=120.0, total_ms=1840.0, input_tokens=52, output_tokens=130,
        tokens_estimated=False, bytes_sent=1, bytes_received=2, status="ok", chunks=20,
    )
    base.update(kw)
    return EntryStats(**base)  # type: ignore[arg-type]


def test_stats_line_has_ttft_total_tokens_and_rate() -> None:
    line = format_stats(stats())
    assert line.startswith("ttft 120 ms · total 1.84 s · 52 in / 130 out tok · ")
    assert line.endswith(" tok/s")


def test_estimated_tokens_are_marked_and_missing_values_left_out() -> None:
    line = format_stats(stats(ttft_ms=None, input_tokens=None, tokens_estimated=True))
    assert "ttft" not in line
    assert "? in / ~130 out tok" in line
