"""The arena: which model is better for *you*, measured from your own work.

- :mod:`~hexai_nvim.arena.store`: the outcome records (what was shown, what
  the person chose), versioned JSONL under ``$XDG_STATE_HOME/hexai/``.
- :mod:`~hexai_nvim.arena.rating`: a Bradley-Terry/Luce choice model with a
  position term, fitted in pure Python, with intervals.
- :mod:`~hexai_nvim.arena.board`: the leaderboard (rating, accept rate,
  latency, cost) and how it reads in a terminal, in Neovim and as JSON.

Nothing here does network I/O or knows Neovim.
"""
