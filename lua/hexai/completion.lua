--- hexai.completion: when to ask for suggestions, and where the answers go.
---
--- Every configured completion entry answers the same trigger; the host
--- (Python) builds the prompts, runs the fan-out and cleans each answer, then
--- sends snapshots back to `on_update()`. This module only decides *when* to
--- ask (debounce, trigger characters, hexai's manual_invoke_min_prefix,
--- per-filetype/buffer/global switches) and routes snapshots to the ghost
--- text (`hexai.ghost`), the built-in popup (`hexai.menu`) or a menu source
--- (`hexai.cmp`, `hexai.blink`).
---
--- Design:
--- - Start-up pays for none of it: commands, keys and autocommands are declared
---   by `hexai.startup`; this file loads on first use (the first keystroke in
---   Insert mode) and the running side, `hexai.trigger`, with it.
--- - Keystrokes are debounced with a libuv timer; nothing crosses RPC
---   until the timer fires. A keystroke only sends a (cheap) `cancel` when a
---   request of the previous trigger is still running.
--- - Each request has a sequence number and a slot ("ghost", "menu", "cmp",
---   "blink"); an answer whose seq is not the slot's current one is dropped,
---   so a late answer never paints over newer text.
--- - Typing that matches the shown suggestion keeps it (see hexai.ghost).
---
--- Not done here: prompts, cleaning, which entries run (the host decides).
local M = {}
local H = {}

-- Module definition ===========================================================

M.defaults = {
  -- Ask automatically while typing in Insert mode (after the debounce).
  auto_trigger = true,
  -- Where automatic triggers show their answers: 'ghost' | 'popup' | 'none'.
  display = 'ghost',
  -- Ghost text layout: 'stack' (all entries at once) | 'cycle' (one at a time).
  layout = 'stack',
  -- Filetypes: `false` disables one, `['*']` is the default for the rest.
  filetypes = { ['*'] = true, help = false, gitcommit = false, gitrebase = false },
  -- Lines of the selected suggestion shown below the cursor line.
  max_lines = 12,
  -- Lines shown for each of the other entries (more than 1 lets a later
  -- arrival move the code below).
  other_max_lines = 1,
  -- Keys mapped when `default_keymaps` is true (false/'' skips one); mapped
  -- at start-up by `hexai.startup`, which holds the defaults.
  keymaps = vim.deepcopy(require('hexai.startup').completion_keys),
}

--- Effective options (setup() options over `[ui.completion]` over defaults).
M.config = vim.deepcopy(M.defaults)

--- Take the options of `require('hexai').setup()` (called when this module
--- loads and when setup() runs again).
function M.configure(options)
  H.user = (options or {}).completion or {}
  M.config = H.effective()
  H.enabled = H.user.enabled ~= false
end

--- Whether automatic and manual completion may run in `buf` (0: current).
function M.is_enabled(buf)
  buf = (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
  if not H.enabled or vim.g.hexai_disable then return false end
  if not vim.api.nvim_buf_is_valid(buf) or vim.b[buf].hexai_disable then return false end
  local bt = vim.bo[buf].buftype
  if bt == 'prompt' or bt == 'terminal' or bt == 'quickfix' or bt == 'help' then return false end
  local fts = M.config.filetypes or {}
  local allowed = fts[vim.bo[buf].filetype]
  if allowed == nil then allowed = fts['*'] end
  return allowed ~= false
end

--- Whether completion is switched on globally (see |:HexaiToggle|).
function M.enabled() return H.enabled end

--- Turn completion on or off everywhere (no argument: flip). Returns the new state.
function M.toggle(on)
  if on == nil then on = not H.enabled end
  H.enabled = on and true or false
  if not H.enabled and package.loaded['hexai.trigger'] then require('hexai.trigger').dismiss() end
  return H.enabled
end

--- Ask every entry now, at the cursor (`:HexaiComplete`). `display` defaults
--- to the configured one ('ghost' when that is 'none').
function M.complete(display)
  if not M.is_enabled(0) then
    vim.notify('hexai: completion is disabled here (:HexaiToggle, vim.b.hexai_disable)',
      vim.log.levels.WARN)
    return false
  end
  local trigger = require('hexai.trigger')
  trigger.dismiss()
  display = display or M.config.display
  return trigger.request(display == 'popup' and 'menu' or 'ghost', { manual = true }) ~= nil
end

--- Send one request in `slot` ('ghost', 'menu', or a menu source's name).
--- `opts`: manual, callback (gets every snapshot of this request, or nil when
--- it is superseded or cannot be sent), buf/row/col (default: the cursor).
--- Returns the request's seq, or nil.
function M.request(slot, opts) return require('hexai.trigger').request(slot, opts) end

--- Stop the request of `slot` (every slot when nil) and forget it.
function M.cancel(slot) return require('hexai.trigger').cancel(slot) end

--- Called by the host with a snapshot of one request's entries.
function M.on_update(snapshot) return require('hexai.trigger').on_update(snapshot) end

--- Statusline text: entries in flight, else the last latency per entry.
function M.status()
  if not H.enabled then return 'hexai: off' end
  if not package.loaded['hexai.trigger'] then return '' end
  return require('hexai.trigger').status()
end

--- Accept the selected suggestion (all of it, or 'word' / 'line').
function M.accept(kind) return require('hexai.ghost').accept(kind) end

--- Select the next / previous entry's suggestion.
function M.next() return require('hexai.ghost').cycle(1) end
function M.prev() return require('hexai.ghost').cycle(-1) end

--- Accept entry `n`'s suggestion whole (in blind mode: the n-th letter).
function M.accept_entry(n) return require('hexai.ghost').accept_entry(n) end

--- Clear the suggestions and stop what is running.
function M.dismiss()
  if package.loaded['hexai.ghost'] then require('hexai.ghost').note_dismiss() end
  if package.loaded['hexai.trigger'] then require('hexai.trigger').dismiss() end
end

--- The state of the requests, for tests and `:checkhealth` (a copy).
function M.debug_state() return require('hexai.trigger').debug_state() end

-- Helper data =================================================================

H.enabled = true
H.user = {}

-- Helper functionality ========================================================

--- defaults < config.toml's [ui] < setup({ completion = ... }), the last two
--- checked and folded by the host (`settings.ui_completion`). Until the host
--- has answered for the current setup() options, those apply as given.
function H.effective()
  local hexai = require('hexai')
  local from_host = (hexai.settings or {}).ui_completion
  if type(from_host) ~= 'table' then from_host = {} end
  local rpc = package.loaded['hexai.rpc']
  local checked = hexai.settings_from_host and rpc and rpc.has_options
    and rpc.has_options(hexai.options)
  local config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), from_host,
    checked and {} or (H.user or {}))
  -- A menu source in use and no explicit `display`: the menu is the display.
  if from_host.display == nil and (H.user or {}).display == nil
    and next(require('hexai').menu_sources or {}) ~= nil then
    config.display = 'none'
  end
  return config
end

-- Settings changed (the host (re)loaded the config): re-read the options.
vim.api.nvim_create_autocmd('User', {
  group = vim.api.nvim_create_augroup('hexai.completion', { clear = true }),
  pattern = 'HexaiSettings',
  callback = function() M.config = H.effective() end,
})

-- Before the host has answered, the last session's settings (debounce, ...).
require('hexai').use_cached_settings()
M.configure(require('hexai').options)

return M
