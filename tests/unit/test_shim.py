"""The rplugin shim finds the package both installed and from a plain checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "rplugin" / "python3" / "hexai.py"

# Loads the shim the way pynvim's host does (only its folder on sys.path) after
# hiding the editable install, as for a plugin manager's checkout.
CHECKOUT = f"""
import importlib.util, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
sys.path[:] = [p for p in sys.path if p not in ("", {str(REPO)!r})]
try:
    import hexai_nvim
except ImportError:
    pass
else:
    raise SystemExit("hexai_nvim still importable: the test hides nothing")
sys.path.insert(0, {str(SHIM.parent)!r})
spec = importlib.util.spec_from_file_location("hexai", {str(SHIM)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(module.HexaiPlugin._nvim_plugin, module.HexaiPlugin.__module__)
"""


def test_shim_loads_the_plugin_from_a_checkout_without_an_install(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHECKOUT], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.split() == ["True", "hexai_nvim.host"]


def test_shim_is_not_named_like_the_package() -> None:
    assert SHIM.stem != "hexai_nvim"
    assert len(SHIM.read_text().splitlines()) < 30, "the shim stays thin"


MISSING = f"""
import builtins, importlib.util, sys
real = builtins.__import__
def no_voluptuous(name, *a, **k):
    if name.split(".")[0] == "voluptuous":
        raise ImportError("No module named 'voluptuous'")
    return real(name, *a, **k)
builtins.__import__ = no_voluptuous
spec = importlib.util.spec_from_file_location("hexai", {str(SHIM)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
plugin = module.HexaiPlugin
names = sorted(getattr(m, "_nvim_rpc_method_name", "") for m in vars(plugin).values()
               if callable(m) and getattr(m, "_nvim_rpc_method_name", None))
print(plugin.__name__, names)
print(plugin(None).request([])["error"])
"""


def test_a_missing_dependency_still_registers_both_functions_and_says_what_is_missing(
    tmp_path: Path,
) -> None:
    done = subprocess.run([sys.executable, "-c", MISSING], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    first, second = done.stdout.strip().splitlines()[:2]
    assert first.startswith("HexaiUnavailable") and "HexaiNotify" in first
    assert "HexaiRequest" in first
    assert "cannot load in the Python host" in second and "voluptuous" in second
