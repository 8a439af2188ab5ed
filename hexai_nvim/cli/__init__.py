"""The ``hexai`` terminal command: ``hexai config|ask|stats|sim``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``hexai config check`` never pays for aiohttp. A subcommand whose stdout reader
goes away (``hexai stats | head``) ends quietly with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("hexai_nvim.cli.config_cmd", "check, show, diff or create the configuration"),
    "ask": ("hexai_nvim.cli.ask_cmd", "ask every configured entry, side by side"),
    "stats": ("hexai_nvim.cli.stats_cmd", "request statistics per provider:model"),
    "sim": ("hexai_nvim.sim.cli", "run the provider simulator on 127.0.0.1"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="hexai", description="hexai.nvim: several LLM provider:model pairs side by side"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = args_list[0] if args_list and args_list[0] in COMMANDS else None
    for name, (module_name, help_text) in COMMANDS.items():
        if name == wanted:
            importlib.import_module(module_name).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: 2 for usage errors, 0 for --help
        return int(exc.code or 0)
    if wanted is None:
        parser.print_help(sys.stderr)
        return 2
    # Everything the terminal is shown passes the one scrubber.
    from hexai_nvim.secrets import ScrubbedStream

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(out), ScrubbedStream(err)  # type: ignore[assignment]
    try:
        return int(importlib.import_module(COMMANDS[wanted][0]).run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `hexai ... | head`: the reader left, which is no failure of ours. Point
        # stdout at /dev/null so that the flush at exit cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        sys.stdout, sys.stderr = out, err


if __name__ == "__main__":
    sys.exit(main())
