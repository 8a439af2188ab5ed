"""Helpers for the config tests: files in temporary directories, an isolated
environment (never the user's real ~/.config), and the hexai-format samples."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hexai_nvim.config import Config, ConfigError, load_config

#: A config in hexai's documented format (global file of the issue's example).
HEXAI_GLOBAL = """\
[general]
max_tokens = 2048
request_timeout = 120
context_mode = "window"
coding_temperature = 0.3

[completion]
completion_debounce_ms = 300
completion_wait_all = false

[provider]
name = "ollama"

[openai]
model = "gpt-4.1"
temperature = 0.1

[ollama]
model = "qwen2.5-coder:7b"
base_url = "http://127.0.0.1:11434"

[[models.completion]]
provider = "openai"
model = "gpt-4.1-mini"
temperature = 0.0

[[models.completion]]
provider = "ollama"

[models.code_action]
provider = "openai"
model = "gpt-4o"
temperature = 0.4
"""

#: The project file of the example: hexai's string shorthand.
HEXAI_PROJECT = """\
[provider]
name = "openai"

[models]
completion = "gpt-4.1-nano"
"""

#: The issue's acceptance case: a typo'd provider in the second completion
#: entry, a string where a number belongs, and an unknown section.
THREE_MISTAKES = """\
[general]
max_tokens = "lots"

[[models.completion]]
provider = "openai"
model = "gpt-4.1-mini"

[[models.completion]]
provider = "olama"
model = "qwen2.5-coder:7b"

[telemetry]
enabled = true
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def home_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment whose HOME is ``home`` (so the global file is
    ``home/.config/hexai/config.toml``) and nothing else unless given."""
    return {"HOME": str(home), **extra}


def make_repo(root: Path, project_text: str | None = None, *, git_file: bool = False) -> Path:
    """A git work tree at ``root`` (``.git`` dir, or a file as in worktrees)."""
    root.mkdir(parents=True, exist_ok=True)
    if git_file:
        (root / ".git").write_text("gitdir: /elsewhere/.git/worktrees/x\n")
    else:
        (root / ".git").mkdir(exist_ok=True)
    if project_text is not None:
        write(root, ".hexaiconfig.toml", project_text)
    return root


def load(
    tmp: Path,
    global_text: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    project_text: str | None = None,
    editor: Mapping[str, Any] | None = None,
) -> Config:
    """Load with a global file (if given) under ``tmp/home`` and a project
    file (if given) in the git repo ``tmp/repo``, from ``tmp/repo/src``."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    if global_text is not None:
        write(home, ".config/hexai/config.toml", global_text)
    repo = make_repo(tmp / "repo", project_text)
    cwd = repo / "src"
    cwd.mkdir(exist_ok=True)
    return load_config(cwd=str(cwd), env=home_env(home, **dict(env or {})), editor=editor)


def problems_of(tmp: Path, global_text: str | None = None, **kwargs: Any) -> ConfigError:
    try:
        load(tmp, global_text, **kwargs)
    except ConfigError as exc:
        return exc
    raise AssertionError("expected a ConfigError")


def entries(config: Config, surface: str) -> list[tuple[str, str, float]]:
    return [(e.provider.name, e.model, e.temperature) for e in config.entries(surface)]
