"""``load_config``: all layers, lowest precedence first, into one :class:`Config`.

default < global file < project file < ``HEXAI_*`` environment < editor (``setup{}``)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from hexai_nvim.config import defaults
from hexai_nvim.config.env import env_layer
from hexai_nvim.config.files import (
    global_config_path,
    locator,
    project_config_path,
    read_toml,
)
from hexai_nvim.config.model import Config, ConfigError, Problem
from hexai_nvim.config.resolve import Layer, merge, resolve
from hexai_nvim.config.schema import LayerValidator, provider_names_in
from hexai_nvim.secrets import remember_config

#: How problems and warnings of the editor layer name their origin.
EDITOR_ORIGIN = "setup{}"


def load_config(
    config_path: str | None = None,
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    editor: Mapping[str, Any] | None = None,
) -> Config:
    """Load and validate every layer; the effective, immutable configuration.

    ``config_path`` replaces the global file (like ``--config``); ``cwd`` is where
    the project file search starts (default: the working directory); ``env`` is
    the environment (default: ``os.environ``; it also supplies ``HOME``,
    ``XDG_CONFIG_HOME`` and ``HEXAI_CONFIG``); ``editor`` is the ``setup{}`` table.

    Raises :class:`ConfigError` carrying *every* problem found (and the warnings);
    no other exception leaves this function.
    """
    try:
        return _load(config_path, cwd, os.environ if env is None else env, editor)
    except ConfigError:
        raise
    except Exception as exc:  # the contract: callers only ever see ConfigError
        raise ConfigError(
            [
                Problem(
                    "",
                    f"internal error while loading the configuration: {type(exc).__name__}: {exc}",
                )
            ]
        ) from exc


def load_layers(
    sources: list[tuple[str, str | None, Any]],
    env: Mapping[str, str] | None = None,
    texts: Mapping[str, str] | None = None,
) -> Config:
    """Build a config from given raw layers only: ``(name, origin, table)`` each,
    lowest precedence first, plus the environment layer when ``env`` is given.
    ``texts`` (file -> content) lets messages point at lines.
    ``hexai config diff`` uses it to compare two files on their own."""
    files = _files_of(sources)
    return _build(sources, [], [], files, env, files, texts or {})


def default_config() -> Config:
    """The built-in defaults only: no files, no environment, no editor table."""
    return load_layers([])


def _files_of(sources: list[tuple[str, str | None, Any]]) -> list[str]:
    return [origin for name, origin, _ in sources if origin and name in ("global", "project")]


def _load(
    config_path: str | None,
    cwd: str | None,
    env: Mapping[str, str],
    editor: Mapping[str, Any] | None,
) -> Config:
    problems: list[Problem] = []
    files: list[str] = []
    raw_layers: list[tuple[str, str | None, Any]] = []
    texts: dict[str, str] = {}

    global_path = global_config_path(config_path, env)
    if global_path.path and (global_path.explicit or os.path.lexists(global_path.path)):
        files.append(global_path.path)
        read = read_toml(global_path.path)
        if read.problem:
            problems.append(read.problem)
        else:
            raw_layers.append(("global", global_path.path, read.data))
            texts[global_path.path] = read.text

    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # the working directory was removed: no project file
            cwd = None
    project = project_config_path(cwd) if cwd else None
    if project and not (global_path.path and _same_file(project, global_path.path)):
        files.append(project)
        read = read_toml(project)
        if read.problem:
            problems.append(read.problem)
        else:
            raw_layers.append(("project", project, read.data))
            texts[project] = read.text

    if editor is not None:
        raw_layers.append(("editor", EDITOR_ORIGIN, editor))
    return _build(raw_layers, problems, [], files, env, files, texts)


def _build(
    raw_layers: list[tuple[str, str | None, Any]],
    problems: list[Problem],
    warnings: list[str],
    attempted: list[str],
    env: Mapping[str, str] | None,
    files: list[str],
    texts: Mapping[str, str],
) -> Config:
    # hexai's provider names we cannot serve still load; their entries fail when used.
    known = set(defaults.BUILTIN) | set(defaults.UNSUPPORTED_PROVIDERS)
    for _, _, raw in raw_layers:
        known |= provider_names_in(raw)

    layers: list[Layer] = []
    locators: dict[str, Any] = {}

    def add(name: str, origin: str | None, raw: Any, rename: Any = None) -> None:
        text = texts.get(origin or "")
        locate = locator(text) if text is not None else None
        if locate is not None and origin:
            locators[origin] = locate
        validator = LayerValidator(name, origin, known, rename=rename or {}, locate=locate)
        data = validator.validate(raw)
        problems.extend(validator.problems)
        warnings.extend(validator.warnings)
        layers.append(Layer(name, origin, data, validator.model_origins))

    for name, origin, raw in raw_layers:
        if name in ("global", "project"):
            add(name, origin, raw)
    if env is not None:
        default_provider = defaults.DEFAULT_PROVIDER
        for layer in layers:
            default_provider = layer.data.get("provider", {}).get("name", default_provider)
        from_env = env_layer(env, default_provider, known)
        problems.extend(from_env.problems)
        warnings.extend(from_env.warnings)
        add("env", None, from_env.raw, from_env.rename)
    for name, origin, raw in raw_layers:
        if name == "editor":
            add(name, origin, raw)

    resolution = resolve(
        merge(layers),
        tuple(files),
        quiet=bool(problems),
        reported={problem.path for problem in problems},
        locators=locators,
    )
    problems.extend(resolution.problems)
    all_warnings = warnings + [w for w in resolution.warnings if w not in warnings]
    if problems or resolution.config is None:
        raise ConfigError(problems, warnings=all_warnings, files=attempted)
    config = dataclasses.replace(resolution.config, warnings=tuple(all_warnings))
    # Its secrets are known to the process's scrubber from now on.
    remember_config(config)
    return config


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
