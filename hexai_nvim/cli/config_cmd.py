"""``hexai config check|show|diff|init``.

Exit codes: ``check`` 0 valid, 1 invalid; ``show`` 0, or 1 when the config is
invalid; ``diff`` 0 same, 1 different, 2 when a file cannot be loaded; ``init``
0 written, 1 refused or failed; 2 for usage errors everywhere. Nothing prints a
traceback or a secret: API keys are masked, ``api_key_cmd`` and header values
are never echoed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

from hexai_nvim.config import ConfigError, Problem, load_config
from hexai_nvim.config.diff import changes_header, diff_configs
from hexai_nvim.config.example import EXAMPLE_TOML
from hexai_nvim.config.files import global_config_path, read_toml
from hexai_nvim.config.loader import load_layers
from hexai_nvim.config.view import describe_config
from hexai_nvim.surfaces.format import count_of

PROG = "hexai config"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="check, show, diff or create the configuration",
        description="Check, show, compare or create hexai.nvim's configuration "
        "(hexai's TOML format; see doc/config.md).",
    )
    sub = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    parser.set_defaults(config_parser=parser)

    check = sub.add_parser(
        "check",
        help="validate all layers; exit 0 valid, 1 invalid",
        description="Load every layer (defaults, global, project, HEXAI_* environment) "
        "and report every problem and warning. Exit 0 when valid, 1 when not.",
    )
    check.add_argument("--config", metavar="PATH", help="use PATH as the global file")
    check.add_argument("--json", action="store_true", help="print problems as JSON")

    show = sub.add_parser(
        "show",
        help="the effective config with each value's source",
        description="Print the effective configuration: each value with the layer "
        "it came from, the entries per surface, and per provider whether an API key "
        "was found (masked).",
    )
    show.add_argument("--config", metavar="PATH", help="use PATH as the global file")
    show.add_argument("--json", action="store_true", help="print as JSON")

    diff = sub.add_parser(
        "diff",
        help="differences between two config files",
        description="Compare the effective configs of two files (each on its own over "
        "the defaults, no project file or environment), in hexai's reload format. "
        "Exit 0 when equal, 1 when different, 2 when a file cannot be loaded.",
    )
    diff.add_argument("old", metavar="A")
    diff.add_argument("new", metavar="B")

    init = sub.add_parser(
        "init",
        help="write a commented example config",
        description="Write the commented example config to PATH (default: the global "
        "config file). Never overwrites an existing file.",
    )
    init.add_argument("path", nargs="?", metavar="PATH")


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "config_command", None)
    handlers = {"check": _check, "show": _show, "diff": _diff, "init": _init}
    if command not in handlers:
        args.config_parser.print_help(sys.stderr)
        return 2
    try:
        return handlers[command](args)
    except BrokenPipeError:  # `hexai config show | head`: hexai_nvim.cli.main ends quietly
        raise
    except Exception as exc:  # the promise: a message, never a traceback
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


# -- check


def _problem_data(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "message": problem.message,
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
    }


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        if args.json:
            _print_json(
                {
                    "valid": False,
                    "problems": [_problem_data(p) for p in exc.problems],
                    "warnings": list(exc.warnings),
                    "files": list(exc.files),
                }
            )
        else:
            for problem in exc.problems:
                print(f"error: {problem}")
            for warning in exc.warnings:
                print(f"warning: {warning}")
            print(
                f"{PROG}: invalid: {count_of(len(exc.problems), 'problem')}, "
                f"{count_of(len(exc.warnings), 'warning')}"
            )
        return 1
    if args.json:
        _print_json(
            {
                "valid": True,
                "problems": [],
                "warnings": list(config.warnings),
                "files": list(config.files),
            }
        )
        return 0
    for warning in config.warnings:
        print(f"warning: {warning}")
    files = ", ".join(config.files) if config.files else "no config files, defaults only"
    print(f"{PROG}: valid ({files}); {count_of(len(config.warnings), 'warning')}")
    return 0


# -- show


def _show(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{PROG}: invalid config; run `hexai config check` for details", file=sys.stderr)
        return 1
    view = describe_config(config)
    if args.json:
        _print_json(view)
    else:
        _print_view(view, sys.stdout)
    return 0


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _print_view(view: dict[str, Any], out: TextIO) -> None:
    write = out.write
    write("Files (lowest precedence first):\n")
    for path in view["files"] or ["(none: defaults only)"]:
        write(f"  {path}\n")
    write("\nValues:\n")
    width = max(len(key) for key in view["values"])
    for key, item in view["values"].items():
        write(f"  {key:<{width}}  {_value_text(item['value'])}  [{item['source']}]\n")
    write("\nEntries:\n")
    for surface, models in view["models"].items():
        write(f"  {surface} [{models['source']}]\n")
        for entry in models["entries"]:
            write(
                f"    {entry['index']}. {entry['label']}  ({entry['provider']}:{entry['model']}"
                f", temperature {entry['temperature']:g}, max_tokens {entry['max_tokens']}"
                f", timeout {entry['timeout_ms']} ms, stream {_value_text(entry['stream'])})\n"
            )
    write("\nProviders:\n")
    for name, provider in view["providers"].items():
        key = provider.get("key")
        if key is None:
            key_text = "not looked up"
        elif key["found"]:
            key_text = f"{key['masked']} from {key['source']}"
        elif key["source"] == "none":
            names = ", ".join(provider["api_key_env"]) or "none configured"
            optional = "" if provider["needs_key"] else "; optional for a local server"
            key_text = f"not found (variables: {names}{optional})"
        else:
            key_text = key["source"]
        if provider["withheld"] and key is not None and key["found"]:
            key_text += ", withheld (not sent)"
        write(
            f"  {name}: {provider['kind']} at {provider['base_url']}"
            f" [{provider['sources']['base_url']}]\n"
        )
        write(
            f"    model {provider['model'] or '(none)'} [{provider['sources']['model']}]"
            f"; key {key_text}\n"
        )
        extras = [
            f"{field} {_value_text(provider[field])}"
            for field in ("temperature", "max_concurrency", "timeout_ms")
            if provider[field] is not None
        ]
        if provider["headers"]:
            extras.append(
                "headers " + ", ".join(f"{k}={v}" for k, v in provider["headers"].items())
            )
        if provider["withheld_headers"]:
            extras.append("headers withheld (not sent): " + ", ".join(provider["withheld_headers"]))
        if not provider["stream"]:
            extras.append("stream false")
        fim_mode = provider["fim_mode"]
        extras.append(
            f"completion {'chat' if fim_mode == 'off' else 'fim ' + fim_mode}"
            + (f" (fim = {provider['fim']})" if provider["fim"] != "auto" else "")
        )
        if extras:
            write(f"    {'; '.join(extras)}\n")
    if view["warnings"]:
        write("\nWarnings:\n")
        for warning in view["warnings"]:
            write(f"  {warning}\n")


# -- diff


def _load_file(path: str) -> Any:
    read = read_toml(path)
    if read.problem is not None:
        raise ConfigError([read.problem], files=[path])
    return load_layers([("global", path, read.data)], texts={path: read.text})


def _diff(args: argparse.Namespace) -> int:
    configs = []
    for path in (args.old, args.new):
        try:
            configs.append(_load_file(path))
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            print(f"{PROG} diff: cannot load {path}", file=sys.stderr)
            return 2
    lines = diff_configs(configs[0], configs[1], dotted=True)
    # The header is the reload message's, so both read the same.
    print(changes_header("Config diff", len(lines)))
    if not lines:
        return 0
    for line in lines:
        print(line)
    return 1


# -- init


def _init(args: argparse.Namespace) -> int:
    path = args.path or global_config_path(None, os.environ).path
    if not path:
        print(
            f"{PROG} init: cannot tell where the global config goes "
            "(no HOME or XDG_CONFIG_HOME); give a PATH",
            file=sys.stderr,
        )
        return 1
    path = os.path.expanduser(path)
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(EXAMPLE_TOML)
    except FileExistsError:
        print(f"{PROG} init: {path} already exists; not overwriting it", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG} init: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


# -- helpers


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
