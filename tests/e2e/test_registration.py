"""The plugin registers through :UpdateRemotePlugins and its host answers."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import NvimSession


def test_update_remote_plugins_registers_both_entry_points(manifest: Path) -> None:
    text = manifest.read_text()
    assert "rplugin/python3/hexai.py" in text
    assert "'name': 'HexaiNotify'" in text
    assert "'name': 'HexaiRequest'" in text


def test_host_answers_after_setup(nvim: NvimSession) -> None:
    nvim.setup()
    answer = nvim.lua("return require('hexai.rpc').request('ping')")
    assert answer["set_up"] is True
    assert answer["version"]


def test_setup_does_not_start_the_host(nvim: NvimSession) -> None:
    nvim.lua("require('hexai').setup({})")
    running = nvim.lua("return vim.fn['remote#host#IsRunning']('python3')")
    assert running == 0, "setup() must not start the Python host"


def test_broken_config_is_reported_once_and_host_keeps_running(nvim: NvimSession) -> None:
    nvim.write_config("[general]\nmax_tokens = 'lots'\n")
    nvim.setup()
    nvim.wait_for(lambda: "general.max_tokens" in nvim.messages(), what="config problem message")
    assert "Traceback" not in nvim.messages()
    assert nvim.lua("return require('hexai.rpc').request('ping')")["set_up"] is True


def test_an_unknown_log_level_does_not_break_setup(nvim: NvimSession) -> None:
    nvim.setup(
        "{ log_level = 'chatty', config = { completion = { completion_debounce_ms = 33 } } }"
    )
    nvim.wait_for(lambda: nvim.lua("return require('hexai').settings.debounce_ms") == 33,
                  what="the editor layer to reach the host")
    assert "Error" not in nvim.messages()
