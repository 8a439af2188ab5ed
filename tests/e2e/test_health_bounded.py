""":checkhealth hexai never freezes Neovim for long, and a notice never breaks a request.

- With a provider that stalls (headers, then nothing), the health check's probe
  is bounded (2 s) and says to run :HexaiConfigCheck for the full probe.
- With a config problem, the host's error notice arrives while Lua waits in the
  health check's HexaiRequest: the first run must show the problems, not
  "the Python host does not answer".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.e2e.harness import NvimSession

HEALTH_TEXT = (
    "for _, b in ipairs(vim.api.nvim_list_bufs()) do\n"
    "  if vim.bo[b].filetype == 'checkhealth' then\n"
    "    return vim.api.nvim_buf_get_lines(b, 0, -1, false)\n"
    "  end\n"
    "end\nreturn {}"
)


def health(nvim: NvimSession) -> tuple[str, float]:
    started = time.monotonic()
    nvim.nvim.command("checkhealth hexai")
    elapsed = time.monotonic() - started
    return "\n".join(nvim.lua(HEALTH_TEXT)), elapsed


def test_checkhealth_bounds_its_probe_when_a_provider_stalls(
    tmp_path: Path, manifest: Path, sim: Any
) -> None:
    nvim = NvimSession(tmp_path, manifest)
    nvim.write_config(
        f'[providers.slow]\nkind = "openai-compatible"\nbase_url = "{sim.url}/v1"\n'
        f'[providers.fast]\nkind = "openai-compatible"\nbase_url = "{sim.url}/v1"\n'
        '[[models.ask]]\nprovider = "slow"\nmodel = "stuck+fault=stall"\n'
        '[[models.ask]]\nprovider = "fast"\nmodel = "healthok"\n'
        # Every surface names its entry: no default provider (a cloud address) is probed.
        '[[models.completion]]\nprovider = "fast"\nmodel = "healthok"\n'
        '[[models.code_action]]\nprovider = "fast"\nmodel = "healthok"\n'
    )
    try:
        nvim.setup()
        text, elapsed = health(nvim)
        print(f":checkhealth hexai with a stalled provider: {elapsed:.2f} s")
        assert "Failed to run healthcheck" not in text and "stack traceback" not in text
        # The stalled entry is cut at the budget, naming its step; the other answers.
        assert "slow:stuck+fault=stall: no answer within 2 s (one-token round trip)" in text
        assert "fast:healthok: one-token round trip" in text
        assert "bounded to 2 s here: run :HexaiConfigCheck for the full probe" in text
    finally:
        nvim.close()


def test_the_first_checkhealth_with_a_config_problem_shows_the_problems(
    tmp_path: Path, manifest: Path
) -> None:
    nvim = NvimSession(tmp_path, manifest)
    nvim.write_config('[general]\nmax_tokens = "lots"\n')
    try:
        # No request first: the health check is the first thing that starts the host.
        nvim.lua("require('hexai').setup({})")
        text, _elapsed = health(nvim)
        assert "does not answer" not in text, text
        assert "host answers: hexai.nvim" in text
        assert "general.max_tokens: expected an integer" in text
        assert "the configuration has 1 problem" in text
        # The host's notice still reaches the person, after the request.
        nvim.wait_for(lambda: "general.max_tokens" in nvim.messages(), what="the notice")
    finally:
        nvim.close()


def test_a_notice_during_a_request_does_not_become_the_request_s_error(
    tmp_path: Path, manifest: Path
) -> None:
    nvim = NvimSession(tmp_path, manifest)
    nvim.write_config('[general]\nmax_tokens = "lots"\n')
    try:
        nvim.lua("require('hexai').setup({})")
        value, err = [*nvim.lua("return {require('hexai.rpc').request('check.info')}"), None][:2]
        assert err is None and isinstance(value, dict), (value, err)
        assert value["config_ok"] is False
    finally:
        nvim.close()
