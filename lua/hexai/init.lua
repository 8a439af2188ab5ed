--- hexai.nvim: run several LLM provider:model entries side by side.
---
--- Python (the remote host) decides; Lua draws and maps keys. `setup()` only
--- stores options and declares highlights, commands and keys (`hexai.startup`):
--- nothing talks to the host and no surface module loads until the first use,
--- so start-up stays fast.
---
--- Usage: `require('hexai').setup({ config = { ... } })` where `config` has the
--- shape of config.toml and overrides it (the "editor" layer). See :help hexai.
local M = {}
local H

M.defaults = {
  -- Overrides of config.toml, same shape (e.g. { models = { completion = {...} } }).
  config = {},
  -- Use this file instead of the global config.toml (like `hexai --config`).
  config_path = nil,
  -- Map the default keys (see :help hexai-mappings).
  default_keymaps = true,
  log_level = 'INFO',
  -- When the Python host starts, always in the background (the editor never
  -- waits): 'startup' (right after start-up), 'insert' (first Insert mode),
  -- 'first_use' (the first request).
  host_start = 'startup',
}

--- Options given to setup(), merged over the defaults (nil before setup()).
M.options = nil

--- Settings pushed by the host after each (re)load of the configuration.
M.settings = {
  debounce_ms = 800,
  throttle_ms = 0,
  manual_invoke_min_prefix = 0,
  trigger_characters = {},
  wait_all = true,
  ui = {},
  entries = {},
}

--- Store the options and declare commands, keys, autocommands and highlights
--- (see `hexai.startup`). The surface modules load on first use.
function M.setup(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  -- New options go with the next call: send "setup" again (nothing to do before the first).
  if package.loaded['hexai.rpc'] then require('hexai.rpc').reset() end
  require('hexai.startup').apply(M.options)
end

--- Called by the host with the effective settings after each config load.
function M.on_settings(settings)
  M.settings = vim.tbl_extend('force', M.settings, settings or {})
  M.settings_from_host = true
  H.save_settings(M.settings)
  vim.api.nvim_exec_autocmds('User', { pattern = 'HexaiSettings', modeline = false })
end

--- Menu sources in use ({ cmp = true, blink = true }); see below.
M.menu_sources = {}

--- A completion menu source (nvim-cmp's `hexai`, blink.cmp's `hexai.blink`)
--- is in use: the automatic ghost text turns itself off unless `display` was
--- set explicitly, so a trigger runs one fan-out (the menu's), not two, and
--- no ghost lines draw under the menu.
function M.menu_source_registered(name)
  if M.menu_sources[name] then return end
  M.menu_sources[name] = true
  local completion = package.loaded['hexai.completion']
  if completion and completion.configure then completion.configure(M.options) end
end

--- Whether `M.settings` came from the host in this session (else: defaults,
--- or the last run's, see `M.use_cached_settings`).
M.settings_from_host = false

--- The settings the host sent in the last session (`{}` when none), so the
--- first trigger uses the configured debounce before the host has answered.
function M.cached_settings()
  local ok, lines = pcall(vim.fn.readfile, H.settings_file())
  if not ok or not lines[1] then return {} end
  local decoded_ok, data = pcall(vim.json.decode, table.concat(lines, '\n'))
  return (decoded_ok and type(data) == 'table') and data or {}
end

--- Take the last session's settings unless the host has sent this session's
--- (called once by the completion module when it loads).
function M.use_cached_settings()
  if M.settings_from_host or H.cache_used then return end
  H.cache_used = true
  M.settings = vim.tbl_extend('force', M.settings, M.cached_settings())
end

--- Called by the host to tell the person something (never a traceback).
--- Never at once: a notice from the host may arrive while Lua waits for the
--- host (a `HexaiRequest`, :checkhealth collecting), and an error message
--- shown there would be thrown into that wait instead of it getting its
--- answer. Shown once nothing waits (see hexai.rpc.when_idle).
function M.notify(msg, level)
  level = level or vim.log.levels.INFO
  require('hexai.rpc').when_idle(function()
    if level <= vim.log.levels.INFO and H.typing() and H.builtin_notify() then msg = H.fit(msg) end
    vim.notify(msg, level, { title = 'hexai' })
  end)
end

--- `text` cut to `width` display cells, ending in "…" when cut (no `width`:
--- whole). The one clip of every view (notices, menus, the ask view).
function M.clip(text, width)
  if not width or vim.fn.strdisplaywidth(text) <= width then return text end
  if width <= 1 then return width == 1 and '…' or '' end
  local cut = vim.fn.strcharpart(text, 0, width - 1)
  while vim.fn.strdisplaywidth(cut) > width - 1 do
    cut = vim.fn.strcharpart(cut, 0, vim.fn.strchars(cut) - 1)
  end
  return cut .. '…'
end

--- Statusline text: entries in flight and last latencies (see :help hexai-statusline).
function M.status()
  -- Statuslines run at every redraw from start-up on: before completion's
  -- first use there is nothing to report, so don't load it for that.
  local completion = package.loaded['hexai.completion']
  if completion and completion.status then return completion.status() end
  return ''
end

H = {}

--- Whether vim.notify is Neovim's own, which echoes (nvim-notify, noice,
--- fidget ... replace it with something that never asks for Enter).
function H.builtin_notify()
  local info = debug.getinfo(vim.notify, 'S')
  return info ~= nil and (info.source or ''):find('vim/_editor.lua', 1, true) ~= nil
end

--- Insert or Replace mode: a "Press ENTER" prompt would stop the typing.
function H.typing()
  local mode = vim.api.nvim_get_mode().mode
  return mode:sub(1, 1) == 'i' or mode:sub(1, 1) == 'R'
end

--- A one-line notice cut to the echo area, so it never stops the person
--- typing with "Press ENTER" (warnings and errors are shown whole, and
--- outside Insert mode everything is).
function H.fit(msg)
  if msg:find('\n') or vim.v.echospace < 12 then return msg end
  return M.clip(msg, vim.v.echospace)
end

--- What the first trigger of a new session needs before the host answers.
H.cached_keys = { 'debounce_ms', 'throttle_ms', 'manual_invoke_min_prefix',
  'trigger_characters', 'context', 'ui', 'ui_completion' }

function H.settings_file() return vim.fn.stdpath('state') .. '/hexai/settings.json' end

function H.save_settings(settings)
  local keep = {}
  for _, key in ipairs(H.cached_keys) do keep[key] = settings[key] end
  local ok, text = pcall(vim.json.encode, keep)
  if not ok or text == H.saved then return end
  H.saved = text
  local path = H.settings_file()
  pcall(vim.fn.mkdir, vim.fs.dirname(path), 'p')
  pcall(vim.fn.writefile, { text }, path)
end

--- Path of the host's log file.
function M.log_file()
  return vim.fn.stdpath('log') .. '/hexai.log'
end

return M
