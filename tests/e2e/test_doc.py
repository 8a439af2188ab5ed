"""doc/hexai.txt: :helptags is clean, every command and <Plug> mapping has a tag, links resolve."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.e2e.harness import REPO, NvimSession

DOC = REPO / "doc" / "hexai.txt"


def helptags(nvim: NvimSession, tmp_path: Path) -> dict[str, str]:
    """Run :helptags on a copy of the doc folder (the repository stays untouched)."""
    doc = tmp_path / "rtp" / "doc"
    doc.mkdir(parents=True)
    shutil.copy(DOC, doc / "hexai.txt")
    nvim.nvim.command("messages clear")
    nvim.nvim.command(f"helptags {doc}")  # raises on E154 (duplicate tag) and friends
    assert nvim.lua("return vim.v.errmsg") == ""
    tags: dict[str, str] = {}
    for line in (doc / "tags").read_text().splitlines():
        name, file, _ = line.split("\t", 2)
        tags[name] = file
    nvim.lua("vim.opt.runtimepath:prepend(...)", str(tmp_path / "rtp"))
    return tags


def test_helptags_clean_and_every_command_and_plug_mapping_has_a_tag(
    nvim: NvimSession, tmp_path: Path
) -> None:
    tags = helptags(nvim, tmp_path)
    nvim.lua("require('hexai').setup({})")
    commands = [c for c in nvim.lua("return vim.tbl_keys(vim.api.nvim_get_commands({}))")
                if c.startswith("Hexai")]
    assert len(commands) >= 10, commands
    missing = [c for c in commands if f":{c}" not in tags]
    assert not missing, f"commands without a help tag: {missing}"

    plugs: set[str] = set()
    for mode in ("n", "x", "i", "o", "s", "c", "t"):
        lhs = nvim.lua("return vim.tbl_map(function(m) return m.lhs end,"
                       " vim.api.nvim_get_keymap(...))", mode)
        plugs.update(name for name in lhs if name.startswith("<Plug>(hexai"))
    assert "<Plug>(hexai-ask)" in plugs and "<Plug>(hexai-code-action)" in plugs
    missing = sorted(p for p in plugs if p not in tags)
    assert not missing, f"<Plug> mappings without a help tag: {missing}"

    # :help finds them.
    nvim.nvim.command("help :HexaiAsk")
    assert nvim.lua("return vim.fn.expand('%:t')") == "hexai.txt"
    assert "*:HexaiAsk*" in nvim.lua("return vim.api.nvim_get_current_line()")


def test_every_link_resolves(nvim: NvimSession, tmp_path: Path) -> None:
    tags = helptags(nvim, tmp_path)
    runtime = Path(nvim.lua("return vim.env.VIMRUNTIME")) / "doc" / "tags"
    known = set(tags) | {line.split("\t", 1)[0] for line in runtime.read_text().splitlines()}
    text = DOC.read_text()
    # Links outside code examples: |name| with no spaces.
    prose = re.sub(r"(?:^| )>\w*\n.*?^<", "", text, flags=re.S | re.M)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    links = set(re.findall(r"(?<![\\|])\|([^ \t|]+)\|", prose))
    assert links, "no links found"
    dangling = sorted(link for link in links if link not in known)
    assert not dangling, f"links to no tag: {dangling}"
