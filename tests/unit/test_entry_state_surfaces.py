"""Every surface tells Lua about an entry with the one entry-state value.

Completion (and its menus) folds a result into an :class:`EntryState`; the ask
view's last update and a code action's result are built by
:func:`result_state` from the same class. Here the same results go through
each surface's payload builder and must come out with the same keys, the same
state vocabulary and the same error and stop fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hexai_nvim.config.model import Entry, ProviderSpec
from hexai_nvim.engine.results import EntryResult, EntryStats, ErrorInfo
from hexai_nvim.host.ask import final_update
from hexai_nvim.host.code_action import cancelled_payload, result_payload
from hexai_nvim.providers.base import ErrorKind, StopReason
from hexai_nvim.surfaces.entry_state import STATUSES, STOP_REASONS, EntryState
from hexai_nvim.surfaces.format import header_stats

SPEC = ProviderSpec(name="p", kind="openai-compatible", base_url="http://127.0.0.1:9")
ENTRY = Entry(surface="ask", index=0, provider=SPEC, model="m", temperature=0.2,
              label="p:m", max_tokens=50, timeout_ms=2000, stream=True)
FIELDS = {f.name for f in dataclasses.fields(EntryState)}


def stats(status: str, error_kind: str | None = None, ttft: float | None = 120.0) -> EntryStats:
    return EntryStats(queued_ms=0.0, ttft_ms=ttft, total_ms=1500.0, input_tokens=12,
                      output_tokens=40, tokens_estimated=False, bytes_sent=10,
                      bytes_received=20, status=status, error_kind=error_kind, chunks=5)


def result(case: str) -> EntryResult:
    if case == "ok":
        return EntryResult(0, ENTRY, "x = 1", False, None, stats("ok"), StopReason.STOP)
    if case == "error":
        error = ErrorInfo(ErrorKind.AUTH, "invalid key", 401)
        return EntryResult(0, ENTRY, "", False, error, stats("error", "auth", None))
    if case == "cut":
        error = ErrorInfo(ErrorKind.SERVER, "the stream ended early")
        return EntryResult(0, ENTRY, "x = ", True, error, stats("truncated", "server"),
                           StopReason.CUT)
    assert case == "cancelled"
    error = ErrorInfo(ErrorKind.CANCELLED, "cancelled")
    return EntryResult(0, ENTRY, "", False, error, stats("cancelled", "cancelled", None))


def completion_payload(r: EntryResult) -> dict[str, Any]:
    state = EntryState(index=r.index, label=r.entry.label, key=r.entry.key)
    state.finish(r, 1500)
    if r.error is None:
        state.text = r.text
    return state.to_lua()


@pytest.mark.parametrize(("case", "status"), [
    ("ok", "ok"), ("error", "error"), ("cut", "error"), ("cancelled", "cancelled"),
])
def test_every_surface_sends_one_entry_state_for_one_result(case: str, status: str) -> None:
    r = result(case)
    payloads = {
        "completion": completion_payload(r),
        "ask": final_update(r),
        "code_action": result_payload(r, r.text if r.error is None else "", "Document code"),
    }
    for surface, payload in payloads.items():
        extra = set(payload) - FIELDS - ({"title"} if surface == "code_action" else set())
        assert not extra, (surface, extra)  # no key of a surface's own
        assert payload["status"] == status and payload["status"] in STATUSES, surface
        assert payload["stop_reason"] in STOP_REASONS, surface
        assert {"index", "label", "key", "status", "text", "stats", "truncated"} <= set(payload)
    completion, ask, action = payloads.values()
    for name in ("status", "error_kind", "error_status", "stop_reason", "stop", "truncated",
                 "label", "key"):
        assert completion.get(name) == ask.get(name) == action.get(name), name
    if r.error is None:
        assert "error_kind" not in ask and "error_message" not in action
    else:
        # The ask view and a code action show the provider's whole message.
        assert ask["error_message"] == action["error_message"] == r.error.message
    assert ask["text"] == ""  # the view has the text from the stream
    assert set(ask["score"]) == {"ttft", "total", "rate", "stop"}


def test_an_answer_with_no_code_is_an_empty_entry_and_a_stopped_one_cancelled() -> None:
    empty = result_payload(result("ok"), "  \n", "Document code")
    assert empty["status"] == "empty" and empty["error_kind"] == "bad_response"
    stopped = cancelled_payload("p:m", ENTRY.key, "Document code")
    assert set(stopped) - {"title"} <= FIELDS
    assert (stopped["status"], stopped["error_kind"], stopped["stop_reason"]) == \
        ("cancelled", "cancelled", "cancelled")


def test_the_ask_header_says_how_an_entry_ended_once() -> None:
    # "error (auth) · failed" said it twice: the state word is enough.
    assert "failed" not in header_stats(result("error"))
    assert "cancelled" not in header_stats(result("cancelled"))
    # A count of what arrived is news, and stays.
    assert header_stats(result("cut")).startswith("cut short by the server at 40 tokens")
