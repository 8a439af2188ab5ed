"""The engine layer: every request of every surface goes through it (see :mod:`.core`).

One module per owner; import from the module that owns the name:

- :mod:`hexai_nvim.engine.core`: :class:`~hexai_nvim.engine.core.Engine`, the facade
  (``fan_out``, ``list_models``, ``update_config``, ``close``) and what a caller may
  rely on;
- :mod:`hexai_nvim.engine.results`: the values handed out (``EntryResult``,
  ``EntryStats``, ``ErrorInfo``, ``ModelListing``);
- :mod:`hexai_nvim.engine.events`: what a fan-out reports while it runs;
- :mod:`hexai_nvim.engine.fanout`: ``FanOut``, the entries' tasks, deadlines,
  cancellation and fallback;
- :mod:`hexai_nvim.engine.run`: one entry's request (checks, slots, retries,
  stream, result);
- :mod:`hexai_nvim.engine.keys`, :mod:`hexai_nvim.engine.context`,
  :mod:`hexai_nvim.engine.limits`, :mod:`hexai_nvim.engine.tokens`: the key cache
  and policy, the context fit, the concurrency limits, token estimates;
- :mod:`hexai_nvim.engine.sink`: ``ResultSink``, the protocol of where finished
  results go (the stats store implements it).

Importing this package loads nothing: the host imports the engine on first use.
"""
