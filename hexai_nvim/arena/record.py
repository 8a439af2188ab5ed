"""From a completion trigger and what the person did to an :class:`Outcome`; blind mode.

Pure functions (no Neovim, no I/O), used by :mod:`hexai_nvim.host.arena`:

- :func:`blind_order` shuffles the entries of one trigger; :func:`present_blind`
  turns a completion snapshot into its blind form: labels ``A``, ``B``, ``C``…
  in shuffled order (the entry at sent index ``k`` is labelled with the
  ``k``-th letter), no timings or token counts, nothing but "pending" until
  every entry is done (arrival order would tell who is fast), and the
  selected suggestion chosen at random among those with text.
- :func:`completion_outcome` builds the record from the entries' final states
  and results and Lua's report (what was visible in which slot, the action,
  the entry chosen). An accept of an answer that was cut (its stop reason is
  not ``stop``) is recorded as ``partial``: a cut answer is never a full accept.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hexai_nvim.arena.store import Candidate, Outcome, text_hash, with_ties

if TYPE_CHECKING:
    from hexai_nvim.engine.results import EntryResult
    from hexai_nvim.surfaces.entry_state import EntryState

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: What Lua may report for a completion trigger.
COMPLETION_ACTIONS = frozenset({"accept", "partial", "typed", "dismiss", "moved_on"})
#: Snapshot fields that tell how fast an entry was (hidden in blind mode).
_TIMING_FIELDS = ("ms", "ttft_ms", "output_tokens", "tokens_per_s", "tokens_estimated")


def blind_order(n: int, rng: random.Random) -> list[int]:
    """``perm[sent_index] = entry index``: a uniformly random order of ``n`` entries."""
    perm = list(range(n))
    rng.shuffle(perm)
    return perm


def letter(k: int) -> str:
    return LETTERS[k] if k < len(LETTERS) else f"#{k + 1}"


def reveal_words(labels: Sequence[str], perm: Sequence[int], chosen: int | None) -> str:
    """The names behind the letters, short enough for one message line:
    ``A = qwen ✓, B = llama, C = mistral`` (``labels`` by entry index,
    ``perm[shown slot] = entry index``, ``chosen`` the entry picked, ✓)."""
    return ", ".join(f"{letter(shown)} = {labels[real]}{' ✓' if real == chosen else ''}"
                     for shown, real in enumerate(perm))


def present_blind(
    snapshot: Mapping[str, Any], perm: Sequence[int], rng: random.Random
) -> dict[str, Any]:
    """The blind form of a completion snapshot (see the module docstring)."""
    sent_of = {real: sent for sent, real in enumerate(perm)}
    done = bool(snapshot.get("done"))
    entries: list[dict[str, Any]] = []
    for entry in snapshot.get("entries", ()):
        e = dict(entry)
        sent = sent_of.get(int(e["index"]), int(e["index"]))
        e["index"] = sent
        e["label"] = letter(sent)
        e["key"] = ""
        for name in _TIMING_FIELDS:
            e.pop(name, None)
        if not done and e.get("status") in ("streaming", "ok", "empty", "error"):
            e.update(status="pending", text="")
            for name in ("error_kind", "error_message", "error_status", "stop", "stop_reason"):
                e.pop(name, None)
        e["stats"] = "…" if e.get("status") == "pending" else ""
        entries.append(e)
    entries.sort(key=lambda e: e["index"])
    out = dict(snapshot)
    out["entries"] = entries
    out["blind"] = True
    if done:
        with_text = [e["index"] for e in entries if e.get("status") == "ok" and e.get("text")]
        if with_text:
            out["select"] = rng.choice(with_text)
    return out


def prompt_fingerprint(before: str, after: str) -> tuple[str, int]:
    """Hash and length of the text around the cursor (what is kept of the prompt)."""
    text = before + "\x00" + after
    return text_hash(text), len(before) + len(after)


def completion_outcome(
    *,
    states: Sequence[EntryState],
    results: Mapping[int, EntryResult],
    slots: Mapping[int, int],
    action: str,
    chosen: int | None,
    blind: bool,
    filetype: str = "",
    prompt: tuple[str, int] | None = None,
    prompt_text: str | None = None,
    keep_text: bool = False,
    ts: float | None = None,
    via: str = "",
    outcome_id: str | None = None,
) -> Outcome | None:
    """The outcome of one trigger, or None when it showed fewer than two distinct
    suggestions. ``slots``: entry index -> slot it was seen in (visible entries);
    ``chosen``: entry index (for accept/partial/typed); ``via``: where it was
    shown (see :mod:`hexai_nvim.arena.store`); ``outcome_id``: the trigger's id
    (a new one when None)."""
    if action not in COMPLETION_ACTIONS:
        return None
    candidates: list[Candidate] = []
    for state in states:
        result = results.get(state.index)
        stats = result.stats if result is not None else None
        has_text = state.status == "ok" and bool(state.text)
        status = "truncated" if state.truncated and has_text else state.status
        candidates.append(Candidate.of_text(
            state.key, state.label, slots.get(state.index, -1),
            state.text if has_text else "",
            visible=has_text and state.index in slots,
            status=status,
            stop=state.stop_reason,
            total_ms=None if stats is None or stats.total_ms is None else round(stats.total_ms, 1),
            ttft_ms=None if stats is None or stats.ttft_ms is None else round(stats.ttft_ms, 1),
            input_tokens=None if stats is None else stats.input_tokens,
            output_tokens=None if stats is None else stats.output_tokens,
            tokens_estimated=False if stats is None else stats.tokens_estimated,
            keep_text=keep_text,
        ))
    shown = {c.hash for c in candidates if c.visible and c.hash is not None}
    if len(shown) < 2:
        return None
    pick: int | None = None
    if action in ("accept", "partial", "typed") and chosen is not None:
        pick = next((i for i, s in enumerate(states) if s.index == chosen), None)
        if pick is None or not candidates[pick].visible:
            return None
        if action == "accept" and candidates[pick].stop not in (None, "stop"):
            action = "partial"  # a cut answer taken whole is still only part of one
    elif action in ("accept", "partial", "typed"):
        return None
    fp_hash, fp_len = prompt if prompt is not None else (None, 0)
    return Outcome(
        ts=time.time() if ts is None else ts,
        id=outcome_id or secrets.token_hex(6),
        surface="completion",
        via=via,
        action=action,
        chosen=with_ties(candidates, pick),
        candidates=tuple(candidates),
        blind=blind,
        filetype=filetype,
        prompt_hash=fp_hash,
        prompt_chars=fp_len,
        prompt=prompt_text if keep_text else None,
    )


#: What the ask view may report.
ASK_ACTIONS = frozenset({"vote", "all_bad", "yank", "insert"})


def ask_outcome(
    *,
    outcome_id: str,
    prompt: str,
    results: Sequence[EntryResult],
    action: str,
    chosen: int | None,
    slots: Mapping[int, int] | None = None,
    blind: bool = False,
    keep_text: bool = False,
    ts: float | None = None,
) -> Outcome | None:
    """The outcome of a vote, a yank or a put in the ask view (``chosen``: the
    result's index; None for ``all_bad``). ``slots``: result index -> the slot
    it was shown in (blind mode's shuffle; else the results' order). None when
    fewer than two distinct answers were there to choose from."""
    if action not in ASK_ACTIONS:
        return None
    candidates: list[Candidate] = []
    for position, result in enumerate(results):
        stats = result.stats
        answered = bool(result.text.strip()) and (result.error is None or result.truncated)
        slot = position if slots is None else slots.get(result.index, position)
        candidates.append(Candidate.of_text(
            result.entry.key, result.entry.label, slot, result.text if answered else "",
            visible=answered,
            status=stats.status,
            stop=result.stop_reason.value,
            total_ms=None if stats.total_ms is None else round(stats.total_ms, 1),
            ttft_ms=None if stats.ttft_ms is None else round(stats.ttft_ms, 1),
            input_tokens=stats.input_tokens,
            output_tokens=stats.output_tokens,
            tokens_estimated=stats.tokens_estimated,
            keep_text=keep_text,
        ))
    if len({c.hash for c in candidates if c.visible}) < 2:
        return None
    pick: int | None = None
    if action != "all_bad":
        pick = next((i for i, r in enumerate(results) if r.index == chosen), None)
        if pick is None or not candidates[pick].visible:
            return None
    fp_hash, fp_len = text_hash(prompt), len(prompt)
    return Outcome(
        ts=time.time() if ts is None else ts,
        id=outcome_id,
        surface="ask",
        action=action,
        chosen=with_ties(candidates, pick),
        candidates=tuple(candidates),
        blind=blind,
        prompt_hash=fp_hash,
        prompt_chars=fp_len,
        prompt=prompt if keep_text else None,
    )
