"""The Python host starts in the background: Neovim never waits for it."""

from __future__ import annotations

from tests.e2e.harness import NvimSession


def test_the_host_starts_as_a_background_job_and_answers_on_its_channel(
    nvim: NvimSession,
) -> None:
    started = nvim.lua("""
      require('hexai').setup({ host_start = 'first_use' })
      local rpc = require('hexai.rpc')
      assert(rpc.channel() == nil, 'first_use: nothing started by setup()')
      rpc.start()
      local chan = rpc.channel()
      -- start() returned while the host process is still coming up: the editor
      -- did not wait for it (it has not even introduced itself yet).
      local info = vim.api.nvim_get_chan_info(chan)
      return { chan = chan, running = vim.fn.jobwait({ chan }, 0)[1] == -1,
               introduced = info.client ~= nil and info.client.name ~= nil }
    """)
    assert started["running"] and not started["introduced"]
    nvim.wait_host()
    info = nvim.lua("return vim.api.nvim_get_chan_info(...).client", started["chan"])
    assert "host" in info["name"]
    # Neovim's own (blocking) python3 host was never started.
    assert nvim.nvim.eval("remote#host#IsRunning('python3')") == 0


def test_by_default_the_host_starts_after_start_up_without_a_request(nvim: NvimSession) -> None:
    nvim.lua("require('hexai').setup({})")
    nvim.wait_for(lambda: nvim.lua("return require('hexai.rpc').channel() ~= nil"),
                  what="the host started after start-up")
    assert nvim.lua("return package.loaded['hexai.completion'] == nil")


def test_the_first_trigger_uses_the_debounce_of_the_last_run(nvim: NvimSession) -> None:
    nvim.lua("require('hexai').on_settings({ debounce_ms = 123 })")
    fresh = nvim.lua("""
      package.loaded['hexai'].settings.debounce_ms = 800  -- as in a fresh Neovim
      package.loaded['hexai'].settings_from_host = false
      require('hexai').use_cached_settings()
      return require('hexai').settings.debounce_ms
    """)
    assert fresh == 123
