"""One network path: only the provider layer speaks HTTP; surfaces and adapters go through it.

Every request (completion, ask, code action, the config check's model list
and round trip) reaches the network through ``hexai_nvim.providers`` driven by
the engine, so one key policy and one scrubber apply to all of them. These
tests read the source of every module above the engine and fail when one of
them imports an HTTP or socket library or builds a request itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hexai_nvim"
#: The layers above the engine: none of them may talk to the network itself.
ABOVE_ENGINE = ("surfaces", "host", "cli")
#: Modules that open connections or build HTTP requests.
NETWORK_MODULES = ("aiohttp", "http.client", "urllib.request", "socket", "requests", "httpx")
#: Names of the provider layer's HTTP plumbing.
HTTP_PLUMBING = ("HttpPool", "ClientSession", "open_post", "get_json", "proxy_for", "session")


def modules() -> list[Path]:
    found = [p for layer in ABOVE_ENGINE for p in sorted((PACKAGE / layer).glob("*.py"))]
    assert len(found) > 10, found  # the globs found the layers
    return found


def network_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    uses: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            if module.startswith("hexai_nvim.providers.http"):
                uses.append(f"line {node.lineno}: imports {module}")
            uses.extend(
                f"line {node.lineno}: imports {alias.name}"
                for alias in node.names
                if alias.name in HTTP_PLUMBING
            )
        elif isinstance(node, ast.Attribute) and node.attr in HTTP_PLUMBING:
            uses.append(f"line {node.lineno}: uses .{node.attr}")
        uses.extend(
            f"line {node.lineno}: imports {name}"
            for name in names
            if any(name == m or name.startswith(m + ".") for m in NETWORK_MODULES)
        )
    return uses


@pytest.mark.parametrize("path", modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_module_above_the_engine_speaks_http(path: Path) -> None:
    assert network_uses(path) == []


def test_the_pin_catches_a_module_that_speaks_http(tmp_path: Path) -> None:
    rogue = tmp_path / "rogue.py"
    rogue.write_text(
        "import aiohttp\n"
        "async def f(http):\n"
        "    session = await http.session()\n"
        "    return await session.get('http://127.0.0.1:9/models')\n"
    )
    assert network_uses(rogue) == ["line 1: imports aiohttp", "line 3: uses .session"]


def test_the_check_asks_the_engine_for_models_and_round_trips() -> None:
    source = (PACKAGE / "surfaces" / "check.py").read_text()
    assert "engine.list_models(" in source
    assert "engine.fan_out(" in source
