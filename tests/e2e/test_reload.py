""":HexaiConfigReload: a broken file keeps the last good config; a fixed one shows the diff."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import NvimSession


def config(sim_url: str, model: str, extra: str = "") -> str:
    return (
        f'[providers.sim]\nkind = "openai-compatible"\nbase_url = "{sim_url}/v1"\n'
        f'[[models.ask]]\nprovider = "sim"\nmodel = "{model}"\n{extra}'
    )


def reloaded(nvim: NvimSession, count: int) -> Any:
    return nvim.wait_for(
        lambda: nvim.lua("return require('hexai.check').last_reload and _G.reloads == ...", count)
        and nvim.lua("return require('hexai.check').last_reload"),
        timeout=15, what=f"reload #{count}",
    )


def ask_and_wait(nvim: NvimSession, sim: Any, model: str, prompt: str) -> None:
    nvim.nvim.command(f"HexaiAsk {prompt}")
    nvim.wait_for(
        lambda: any(r.body["messages"][-1]["content"] == prompt
                    for r in sim.state.requests_for(model)),
        timeout=15, what=f"{model} asked {prompt!r}",
    )


def test_reload_keeps_the_last_good_config_then_shows_the_diff(
    nvim: NvimSession, sim: Any
) -> None:
    nvim.write_config(config(sim.url, "reloadold"))
    nvim.setup()
    nvim.lua("_G.reloads = 0\nvim.api.nvim_create_autocmd('User', {pattern = 'HexaiConfigReloaded',"
             " callback = function() _G.reloads = _G.reloads + 1 end})")

    # Break the file: the problem is shown, the old entries stay in use.
    nvim.write_config(config(sim.url, "reloadnew", '[general]\nmax_tokens = "lots"\n'))
    nvim.nvim.command("HexaiConfigReload")
    outcome = reloaded(nvim, 1)
    assert outcome["ok"] is False
    assert "general.max_tokens" in outcome["message"]
    nvim.wait_for(lambda: "general.max_tokens" in nvim.messages(), what="problem shown")
    assert "config not reloaded" in nvim.messages()
    assert nvim.lua("return require('hexai').settings.entries.ask") == ["sim:reloadold"]
    ask_and_wait(nvim, sim, "reloadold", "still the old one?")
    assert not sim.state.requests_for("reloadnew")

    # Fix it: hexai's diff summary is shown and the new entry answers.
    nvim.write_config(config(sim.url, "reloadnew", '[general]\nmax_tokens = 512\n'))
    nvim.nvim.command("HexaiConfigReload")
    outcome = reloaded(nvim, 2)
    assert outcome["ok"] is True
    message = outcome["message"]
    # hexai's format: header, bare key names as hexai's store has them, sorted.
    assert message.startswith("Reloaded config (2 changes):\n")
    assert "- max_tokens: 4000 → 512" in message
    assert "sim:reloadold@" in message and "sim:reloadnew@" in message
    nvim.wait_for(lambda: "Reloaded config (" in nvim.messages(), what="diff shown")
    nvim.wait_for(lambda: nvim.lua("return require('hexai').settings.entries.ask")
                  == ["sim:reloadnew"], what="new entries pushed")
    ask_and_wait(nvim, sim, "reloadnew", "the new one now?")
