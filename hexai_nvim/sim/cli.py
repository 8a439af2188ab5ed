"""``hexai sim``: run the provider simulator on a loopback address.

Prints exactly one line, ``hexai sim listening on http://HOST:PORT``, once it
accepts connections, then serves until SIGINT/SIGTERM or ``--exit-after``.
Only loopback hosts are allowed: the simulator is for tests and demos, never
for a network.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import socket
import sys
from typing import Any

__all__ = ["add_parser", "is_loopback", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run the provider simulator on 127.0.0.1",
        description=(
            "Serve simulated OpenAI, Anthropic and Ollama endpoints. Behaviour is "
            "chosen by the model name (base+opt=val+...) or the X-Hexai-Sim header; "
            "see doc/simulator.md."
        ),
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--exit-after", type=float, default=None, metavar="SECONDS", help="stop after SECONDS"
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="a model listed by /api/tags and /v1/models (repeatable)",
    )
    parser.add_argument(
        "--cap",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest a stall or drip lasts (default 60)",
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if not is_loopback(args.host):
        print(
            f"hexai sim: refusing to listen on {args.host!r}: only loopback addresses"
            " (127.0.0.1, ::1, localhost) are allowed",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.port <= 65535:
        print(f"hexai sim: invalid port {args.port}", file=sys.stderr)
        return 2
    if args.exit_after is not None and args.exit_after < 0:
        print("hexai sim: --exit-after must be >= 0", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args))
    except OSError as exc:
        print(f"hexai sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


async def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from hexai_nvim.sim.server import create_app
    from hexai_nvim.sim.state import SimState

    host = "127.0.0.1" if args.host == "localhost" else args.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, args.port))
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    state = SimState(args.model, cap_s=args.cap)
    runner = web.AppRunner(
        create_app(state), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows; Ctrl-C then ends asyncio.run instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await web.SockSite(runner, sock).start()
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        print(f"hexai sim listening on http://{shown}:{port}", flush=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), args.exit_after)
    finally:
        await runner.cleanup()
    return 0
