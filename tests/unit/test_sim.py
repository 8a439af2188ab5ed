"""The simulator: grammar, deterministic text, wire details, recording, bounds, runners."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hexai_nvim.sim import (
    SimOptionError,
    SimOptions,
    SimState,
    create_app,
    key_digest,
    parse_header,
    parse_model,
    reply_text,
    reply_tokens,
)
from hexai_nvim.sim.cli import is_loopback
from hexai_nvim.sim.thread import SimThread

ClientFactory = Callable[..., Awaitable[Any]]
ROOT = Path(__file__).resolve().parents[2]

OPENAI_BODY = {"messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC_BODY = {"max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> Any:
    return await aiohttp_client(create_app(SimState(["listed-a", "listed-b"])))


def state_of(client: Any) -> SimState:
    from hexai_nvim.sim.server import STATE_KEY

    state: SimState = client.server.app[STATE_KEY]
    return state


# ---------------------------------------------------------------------------
# Grammar
# ---------------------------------------------------------------------------


def test_model_name_grammar() -> None:
    base, options = parse_model("local+ttft=100+tps=200+think+fault=truncate+usage=groq")
    assert base == "local"
    assert options == SimOptions(ttft=100.0, tps=200.0, think=True, fault="truncate", usage="groq")
    assert parse_model("qwen2.5-coder:1.5b") == ("qwen2.5-coder:1.5b", SimOptions())
    _, failing = parse_model("bad+status=429+retry_after=1.5+fail_first=2")
    assert (failing.status, failing.retry_after, failing.fail_first) == (429, 1.5, 2)


def test_header_overrides_the_model_name() -> None:
    _, options = parse_model("m+ttft=100+tokens=5")
    merged = parse_header("ttft=0; status=401 ;crlf", options)
    assert (merged.ttft, merged.tokens, merged.status, merged.crlf) == (0.0, 5, 401, True)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("m+speed=3", "unknown sim option 'speed'"),
        ("m+ttft=soon", "not a number"),
        ("m+ttft=-1", "must be >= 0"),
        ("m+tokens=1.5", "not an integer"),
        ("m+status=200", "must be >= 400"),
        ("m+status=700", "not an HTTP status"),
        ("m+fault=explode", "not one of"),
        ("m+usage=somewhere", "not one of"),
        ("m+think=maybe", "not a boolean"),
        ("m+ttft", "needs a value"),
    ],
)
def test_bad_options_are_named(model: str, problem: str) -> None:
    with pytest.raises(SimOptionError, match=problem):
        parse_model(model)


def test_drip_defaults_to_one_token_per_second() -> None:
    assert parse_model("m+fault=drip")[1].effective_tps == 1.0
    assert parse_model("m+fault=drip+tps=50")[1].effective_tps == 50.0
    assert parse_model("m")[1].effective_tps == 0.0


# ---------------------------------------------------------------------------
# Deterministic text
# ---------------------------------------------------------------------------


def test_reply_text_is_pinned_across_runs_and_versions() -> None:
    # Fixed strings: a change here breaks every test that computes answers.
    assert reply_text("local", "hello") == "value = cache.collect()\nreturn resolve(result)\n"
    assert reply_text("cloud", "hello") == "parser = encode(window, node)\ntoken = update"


def test_reply_text_depends_on_base_model_and_prompt_only() -> None:
    assert reply_text("local+ttft=100+tps=5", "p") == reply_text("local", "p")
    assert reply_text("local", "p") != reply_text("other", "p")
    assert reply_text("local", "p") != reply_text("local", "q")
    assert reply_text("local+tokens=3", "p") == reply_text("local", "p", tokens=3)
    assert len(reply_tokens("local", "p")) == 12
    assert reply_text("local", "p", tokens=0) == ""


def test_shorter_replies_are_prefixes_of_longer_ones() -> None:
    long = reply_text("m", "prompt", tokens=200)
    for n in (1, 5, 12, 50):
        assert long.startswith(reply_text("m", "prompt", tokens=n))
    assert len(long.splitlines()) > 10  # code-like lines


def test_reply_text_is_stable_in_a_fresh_interpreter() -> None:
    code = "from hexai_nvim.sim import reply_text; print(repr(reply_text('m', 'x', tokens=30)))"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    ).stdout.strip()
    assert out == repr(reply_text("m", "x", tokens=30))


# ---------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------


async def test_bad_option_is_a_400_in_the_formats_error_shape(client: Any) -> None:
    resp = await client.post("/v1/chat/completions", json={"model": "m+nope=1", **OPENAI_BODY})
    assert resp.status == 400
    body = await resp.json()
    assert "unknown sim option 'nope'" in body["error"]["message"]
    resp = await client.post("/api/chat", json={"model": "m+nope=1"})
    assert resp.status == 400
    assert "unknown sim option" in (await resp.json())["error"]


@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        ({}, {"model": "c", **ANTHROPIC_BODY}, "anthropic-version"),
        (ANTHROPIC_HEADERS, {"model": "c", "messages": ANTHROPIC_BODY["messages"]}, "max_tokens"),
        (
            ANTHROPIC_HEADERS,
            {"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "s"}]},
            "top-level system",
        ),
    ],
)
async def test_anthropic_endpoint_is_as_strict_as_the_real_one(
    client: Any, headers: dict[str, str], body: dict[str, Any], problem: str
) -> None:
    resp = await client.post("/v1/messages", json=body, headers=headers)
    assert resp.status == 400
    error = await resp.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert problem in error["error"]["message"]


async def test_invalid_json_body_is_a_400(client: Any) -> None:
    resp = await client.post("/v1/chat/completions", data=b"{not json")
    assert resp.status == 400
    assert "JSON" in (await resp.json())["error"]["message"]


async def test_fail_first_fails_only_the_first_requests(client: Any) -> None:
    statuses = []
    for _ in range(3):
        resp = await client.post(
            "/v1/chat/completions",
            json={"model": "flaky+fail_first=2+retry_after=1", **OPENAI_BODY},
        )
        statuses.append((resp.status, resp.headers.get("Retry-After")))
        await resp.read()
    assert statuses == [(503, "1"), (503, "1"), (200, None)]
    assert [r.ordinal for r in state_of(client).requests_for("flaky")] == [1, 2, 3]


async def test_header_chooses_behaviour(client: Any) -> None:
    resp = await client.post(
        "/api/chat",
        json={"model": "plain", "stream": False},
        headers={"X-Hexai-Sim": "status=429;retry_after=3"},
    )
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "3"
    assert (await resp.json()) == {
        "error": "Rate limit reached, please try again later (simulated)."
    }


async def test_status_errors_use_each_formats_body(client: Any) -> None:
    resp = await client.post("/v1/chat/completions", json={"model": "m+status=401", **OPENAI_BODY})
    assert (await resp.json())["error"]["code"] == "invalid_api_key"
    resp = await client.post(
        "/v1/messages", json={"model": "m+status=529", **ANTHROPIC_BODY}, headers=ANTHROPIC_HEADERS
    )
    assert (await resp.json())["error"]["type"] == "overloaded_error"
    resp = await client.post("/api/generate", json={"model": "m+status=404", "prompt": "x"})
    assert (await resp.json())["error"] == 'model "m+status=404" not found, try pulling it first'


async def test_models_are_listed_in_both_shapes(client: Any) -> None:
    await (await client.post("/api/chat", json={"model": "seen+tokens=1", "stream": False})).read()
    tags = await (await client.get("/api/tags")).json()
    assert [m["name"] for m in tags["models"]] == ["listed-a", "listed-b", "seen+tokens=1"]
    openai = await (await client.get("/v1/models")).json()
    assert openai["object"] == "list"
    assert [m["id"] for m in openai["data"]] == ["listed-a", "listed-b", "seen+tokens=1"]
    anthropic = await (await client.get("/v1/models", headers=ANTHROPIC_HEADERS)).json()
    assert anthropic["data"][0] == {
        "type": "model",
        "id": "listed-a",
        "display_name": "listed-a",
        "created_at": "2024-01-01T00:00:00Z",
    }


async def test_requests_are_recorded_with_secrets_masked(client: Any) -> None:
    key = "sk-very-secret-key-1"
    resp = await client.post(
        "/v1/chat/completions",
        json={"model": "rec+tokens=2", **OPENAI_BODY},
        headers={"Authorization": f"Bearer {key}", "X-Api-Key": key, "X-Other": "kept"},
    )
    await resp.read()
    [recorded] = state_of(client).requests
    assert recorded.path == "/v1/chat/completions"
    assert (recorded.model, recorded.base_model, recorded.options.tokens) == (
        "rec+tokens=2",
        "rec",
        2,
    )
    assert recorded.body == {"model": "rec+tokens=2", **OPENAI_BODY}
    assert recorded.headers["Authorization"] == "Bearer ***"
    assert recorded.headers["X-Api-Key"] == "***"
    assert recorded.headers["X-Other"] == "kept"
    assert key not in repr(recorded)
    assert recorded.key_digest == key_digest(key)
    assert recorded.finished and not recorded.disconnected and recorded.status == 200
    assert recorded.finished_at is not None and recorded.finished_at >= recorded.started_at


async def test_openai_stream_wire_details(client: Any) -> None:
    resp = await client.post(
        "/v1/chat/completions",
        json={
            "model": "w+tokens=3",
            "stream": True,
            "stream_options": {"include_usage": True},
            **OPENAI_BODY,
        },
    )
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    raw = (await resp.read()).decode()
    events = [block for block in raw.split("\n\n") if block]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:4]] == reply_tokens(
        "w", "hi", tokens=3
    )
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"
    assert chunks[5]["choices"] == []
    assert chunks[5]["usage"] == {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}


async def test_openai_stream_without_include_usage_has_no_usage_chunk(client: Any) -> None:
    resp = await client.post(
        "/v1/chat/completions", json={"model": "w+tokens=2", "stream": True, **OPENAI_BODY}
    )
    raw = (await resp.read()).decode()
    assert '"usage"' not in raw
    assert raw.endswith("data: [DONE]\n\n")


async def test_anthropic_stream_event_sequence(client: Any) -> None:
    resp = await client.post(
        "/v1/messages",
        json={"model": "c+tokens=2+think", "stream": True, **ANTHROPIC_BODY},
        headers=ANTHROPIC_HEADERS,
    )
    raw = (await resp.read()).decode()
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_start") == 2  # thinking block, then text block
    assert '"thinking_delta"' in raw and '"text_delta"' in raw


async def test_ollama_streams_ndjson_unless_told_not_to(client: Any) -> None:
    resp = await client.post("/api/chat", json={"model": "o+tokens=2", "messages": []})
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in (await resp.read()).decode().splitlines()]
    assert [line["done"] for line in lines] == [False, False, True]
    assert lines[-1]["eval_count"] == 2 and lines[-1]["done_reason"] == "stop"
    resp = await client.post("/api/chat", json={"model": "o+tokens=2", "stream": False})
    whole = await resp.json()
    assert whole["done"] is True and whole["message"]["content"] == reply_text("o", "", tokens=2)


async def test_generate_prompt_is_prompt_plus_suffix(client: Any) -> None:
    resp = await client.post(
        "/api/generate", json={"model": "g", "prompt": "def f(", "suffix": "):", "stream": False}
    )
    assert (await resp.json())["response"] == reply_text("g", "def f():")


async def test_ttft_delays_the_first_token(client: Any) -> None:
    # A lower bound only: the simulator must not answer before its ttft.
    started = time.monotonic()
    resp = await client.post(
        "/api/chat", json={"model": "slow+ttft=150+tokens=1", "stream": True, "messages": []}
    )
    await resp.content.readline()
    assert time.monotonic() - started >= 0.15


async def test_stall_is_bounded_by_its_cap(client: Any) -> None:
    resp = await client.post(
        "/v1/chat/completions",
        json={"model": "s+fault=stall+cap=0.2", "stream": True, **OPENAI_BODY},
    )
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    [recorded] = state_of(client).requests
    assert recorded.finished and not recorded.disconnected


async def test_truncate_ends_cleanly_without_the_end_marker(client: Any) -> None:
    resp = await client.post(
        "/v1/chat/completions", json={"model": "t+fault=truncate", "stream": True, **OPENAI_BODY}
    )
    raw = (await resp.read()).decode()  # a clean end of body: no exception
    assert "[DONE]" not in raw and '"finish_reason":"stop"' not in raw
    assert raw.count('"content":"') == 6


async def test_disconnect_is_seen_without_handler_cancellation() -> None:
    """The polling path: aiohttp runners that do not cancel handlers on disconnect."""
    state = SimState()
    runner = web.AppRunner(create_app(state), handler_cancellation=False)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    port = sock.getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            resp = await session.post(
                f"http://127.0.0.1:{port}/api/chat", json={"model": "x+fault=stall"}
            )
            assert resp.status == 200
            resp.close()
        assert await state.async_wait_for(lambda s: s.disconnects == 1 and s.active == 0, 2.0)
    finally:
        await runner.cleanup()


async def test_reset_forgets_requests(client: Any) -> None:
    await (await client.post("/api/chat", json={"model": "r", "stream": False})).read()
    state = state_of(client)
    assert len(state.requests) == 1
    state.reset()
    assert state.requests == [] and state.disconnects == 0
    await (await client.post("/api/chat", json={"model": "r", "stream": False})).read()
    assert state.requests[0].ordinal == 1


# ---------------------------------------------------------------------------
# Thread runner and CLI
# ---------------------------------------------------------------------------


def post(port: int, path: str, body: dict[str, Any], timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_sim_thread_serves_and_stops_quickly_with_streams_open() -> None:
    with SimThread() as sim:
        assert sim.url == f"http://127.0.0.1:{sim.port}"
        status, body = post(sim.port, "/api/chat", {"model": "th", "stream": False})
        assert status == 200
        assert json.loads(body)["message"]["content"] == reply_text("th", "")
        ended: list[str] = []

        def stall() -> None:
            try:
                post(sim.port, "/api/chat", {"model": "st+fault=stall"}, 30)
            except (http.client.HTTPException, OSError) as exc:
                ended.append(type(exc).__name__)  # the stop cut the stream short

        # Two streams that would never end by themselves.
        stalls = [threading.Thread(target=stall, daemon=True) for _ in range(2)]
        for t in stalls:
            t.start()
        assert sim.state.wait_for(lambda s: s.active == 2, 5.0)
        started = time.monotonic()
    stopped_in = time.monotonic() - started
    assert not sim.running
    assert stopped_in < 5.0  # a bound, not a speed measurement (stop promises ~2 s)
    for t in stalls:
        t.join(5.0)
        assert not t.is_alive()
    assert len(ended) == 2


def test_wait_for_from_another_thread_times_out() -> None:
    assert SimState().wait_for(lambda s: s.active == 1, 0.05) is False


@pytest.mark.parametrize(
    ("host", "ok"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.2", False), ("example.com", False), ("::", False)],
)  # fmt: skip
def test_only_loopback_hosts_are_allowed(host: str, ok: bool) -> None:
    assert is_loopback(host) is ok


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hexai_nvim", "sim", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_cli_refuses_a_non_loopback_host() -> None:
    done = run_cli("--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "only loopback" in done.stderr
    assert done.stdout == ""


def test_cli_prints_one_line_serves_and_stops_on_sigterm() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "hexai_nvim", "sim", "--port", "0", "--exit-after", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("hexai sim listening on http://127.0.0.1:")
            port = int(line.rsplit(":", 1)[1])
            status, body = post(port, "/api/chat", {"model": "cli", "stream": False})
            assert status == 200 and json.loads(body)["done"] is True
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
            assert proc.stdout.read() == ""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_cli_exit_after() -> None:
    done = run_cli("--port", "0", "--exit-after", "0.2")
    assert done.returncode == 0
    assert done.stdout.startswith("hexai sim listening on http://127.0.0.1:")
    assert len(done.stdout.splitlines()) == 1


async def test_drip_sends_tokens_slowly(client: Any) -> None:
    resp = await client.post(
        "/api/chat", json={"model": "d+fault=drip+tps=40+tokens=3", "messages": []}
    )
    lines = []
    async for line in resp.content:
        lines.append(json.loads(line))
    assert "".join(line.get("message", {}).get("content", "") for line in lines) == reply_text(
        "d", "", tokens=3
    )


def test_sim_is_documented() -> None:
    doc = (ROOT / "doc" / "simulator.md").read_text()
    for name in (field for field in SimOptions.__dataclass_fields__):
        assert f"`{name}" in doc, f"option {name} is not documented"


async def test_canned_replies_stream_their_own_text_and_still_obey_max_tokens(
    aiohttp_client: ClientFactory,
) -> None:
    text = "def f(x):\n    return x + 1"
    seen: list[tuple[str, str]] = []

    def replies(base: str, prompt: str) -> str | None:
        seen.append((base, prompt))
        return text if base == "canned" else None

    client = await aiohttp_client(create_app(SimState(replies=replies)))

    async def streamed(model: str, **extra: Any) -> tuple[str, str]:
        resp = await client.post("/v1/chat/completions", json={
            "model": model, "stream": True, **OPENAI_BODY, **extra})
        raw = (await resp.read()).decode()
        chunks = [json.loads(e.removeprefix("data: ")) for e in raw.split("\n\n")
                  if e.startswith("data: {")]
        deltas = [c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]]
        finish = [c["choices"][0]["finish_reason"] for c in chunks
                  if c["choices"] and c["choices"][0]["finish_reason"]]
        return "".join(deltas), finish[-1]

    # Its whole length (not the `tokens` default of 12), in several pieces.
    assert await streamed("canned+tps=0") == (text, "stop")
    assert seen[-1] == ("canned", "hi")
    cut, reason = await streamed("canned", max_tokens=3)
    assert (cut, reason) == ("def f", "length")  # def, " ", f
    # None: the usual generated text.
    assert (await streamed("other+tokens=3"))[0] == reply_text("other", "hi", tokens=3)
