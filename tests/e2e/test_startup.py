"""What `require('hexai').setup()` does at start-up, and what it leaves for first use.

Start-up cost is measured in ``bench/nvim_latency.py``; these tests pin the
behaviour that keeps it low: setup() loads only ``hexai`` and
``hexai.startup``, every command and key still works (loading its module on
first use), and the options given to setup() reach the modules loaded later.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import NvimSession

# hexai.rpc is not among them: it starts the Python host in the background
# right after start-up (see test_host_start).
SURFACES = ["hexai.completion", "hexai.trigger", "hexai.ask", "hexai.ask_view",
            "hexai.code_action", "hexai.check", "hexai.ghost", "hexai.cmp"]

LOADED = "return vim.tbl_filter(function(m) return package.loaded[m] ~= nil end, ...)"


def test_setup_loads_no_surface_module(nvim: NvimSession) -> None:
    nvim.lua("require('hexai').setup({})")
    assert nvim.lua(LOADED, SURFACES) == []
    # Leaving Insert mode, switching buffers and moving stay free as well.
    nvim.nvim.command("new")
    nvim.feed("ihello<Esc>")
    nvim.nvim.command("wincmd p")
    loaded = nvim.lua(LOADED, SURFACES)
    assert "hexai.ask" not in loaded and "hexai.code_action" not in loaded
    assert "hexai.check" not in loaded


def test_commands_and_keys_load_their_module_on_first_use(nvim: NvimSession) -> None:
    nvim.lua("require('hexai').setup({ ask = { height = 7 }, code_action = { height = 5 },"
             " check = { probe_timeout = 3 }, completion = { layout = 'cycle' } })")
    # Options given to setup() reach modules loaded afterwards.
    assert nvim.lua("return require('hexai.ask').config.height") == 7
    assert nvim.lua("return require('hexai.code_action').config.height") == 5
    assert nvim.lua("return require('hexai.check').config.probe_timeout") == 3
    assert nvim.lua("return require('hexai.completion').config.layout") == "cycle"
    # setup() again: modules already loaded take the new options.
    nvim.lua("require('hexai').setup({ ask = { height = 9 }, completion = { enabled = false } })")
    assert nvim.lua("return require('hexai.ask').config.height") == 9
    assert nvim.lua("return require('hexai.code_action').config.height") == 0.4
    assert nvim.lua("return require('hexai.completion').enabled()") is False
    nvim.nvim.command("HexaiToggle on")
    assert nvim.lua("return require('hexai.completion').enabled()") is True


def test_plug_mapping_loads_the_surface(nvim: NvimSession, tmp_path: Path) -> None:
    nvim.lua("require('hexai').setup({})")
    nvim.lua("package.loaded['hexai.rpc'] = { reset = function() end,"
             " notify = function() return true end, request = function() return nil, 'stub' end }")
    nvim.lua("vim.ui.input = function(_, on_done) _G.asked = true; on_done(nil) end")
    nvim.feed("<Plug>(hexai-ask)")
    nvim.wait_for(lambda: nvim.lua("return _G.asked"), what="the ask prompt")
    assert nvim.lua("return package.loaded['hexai.ask'] ~= nil") is True


def test_default_keys_respect_own_mappings_and_config(nvim: NvimSession) -> None:
    nvim.lua("vim.keymap.set('i', '<M-l>', '<Cmd>let g:mine = 1<CR>')")
    nvim.lua("require('hexai').setup({ completion = { keymaps = { dismiss = false } } })")
    keys = {tuple(k) for k in nvim.lua("return require('hexai.startup').default_keys()")}
    assert ("i", "<M-l>") not in keys, "a person's own mapping wins"
    assert "let g:mine" in nvim.lua("return vim.fn.maparg('<M-l>', 'i')")
    assert ("i", "<C-]>") not in keys, "keymaps.dismiss = false skips it"
    assert {("i", "<M-]>"), ("n", "<Leader>ha"), ("x", "<Leader>ha"),
            ("n", "<Leader>hx"), ("x", "<Leader>hx")} <= keys
    assert nvim.lua("return vim.fn.maparg('<M-]>', 'i')") == "<Plug>(hexai-next)"
    # setup() again keeps its own default keys.
    nvim.lua("require('hexai').setup({})")
    again = {tuple(k) for k in nvim.lua("return require('hexai.startup').default_keys()")}
    assert ("n", "<Leader>ha") in again and ("i", "<C-]>") in again
    # A default key the person mapped to something else since stays theirs.
    nvim.lua("vim.keymap.set('n', '<Leader>hx', '<Cmd>let g:own = 1<CR>')")
    # config.toml's [ui] default_keymaps = false (pushed by the host) drops them all.
    nvim.lua("require('hexai').on_settings({ ui = { default_keymaps = false } })")
    assert nvim.lua("return require('hexai.startup').default_keys()") == []
    assert nvim.lua("return vim.fn.maparg('<Leader>ha', 'n')") == ""
    assert nvim.lua("return vim.fn.maparg('<M-]>', 'i')") == ""
    assert "let g:mine" in nvim.lua("return vim.fn.maparg('<M-l>', 'i')")
    assert "let g:own" in nvim.lua("return vim.fn.maparg('<Leader>hx', 'n')")
    assert nvim.lua("return vim.fn.maparg('<Leader>hx', 'x')") == ""


def test_no_default_keys_when_switched_off(nvim: NvimSession) -> None:
    nvim.lua("require('hexai').setup({ default_keymaps = false })")
    assert nvim.lua("return require('hexai.startup').default_keys()") == []
    assert nvim.lua("return vim.fn.maparg('<Plug>(hexai-accept)', 'i')") != ""
