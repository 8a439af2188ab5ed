--- hexai.nvim: run several LLM provider:model entries side by side.
---
--- Python (the remote host) decides; Lua draws and maps keys. `setup()` only
--- stores options, defines highlights, commands and keys: nothing talks to the
--- host until the first use, so start-up stays fast.
---
--- Usage: `require('hexai').setup({ config = { ... } })` where `config` has the
--- shape of config.toml and overrides it (the "editor" layer). See :help hexai.
local M = {}
local H = {}

M.defaults = {
  -- Overrides of config.toml, same shape (e.g. { models = { completion = {...} } }).
  config = {},
  -- Use this file instead of the global config.toml (like `hexai --config`).
  config_path = nil,
  -- Map the default keys (see :help hexai-mappings).
  default_keymaps = true,
  log_level = 'INFO',
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

--- Surface modules: each may define `setup(options)`.
H.modules = { 'hexai.completion', 'hexai.ask', 'hexai.code_action', 'hexai.check' }

function M.setup(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  require('hexai.rpc').reset()
  H.highlights()
  H.commands()
  for _, name in ipairs(H.modules) do
    local ok, mod = pcall(require, name)
    if ok and type(mod) == 'table' and mod.setup then
      mod.setup(M.options)
    elseif not ok and not tostring(mod):find('not found') then
      vim.notify('hexai: ' .. name .. ': ' .. tostring(mod), vim.log.levels.ERROR)
    end
  end
end

--- Called by the host with the effective settings after each config load.
function M.on_settings(settings)
  M.settings = vim.tbl_extend('force', M.settings, settings or {})
  vim.api.nvim_exec_autocmds('User', { pattern = 'HexaiSettings', modeline = false })
end

--- Called by the host to tell the person something (never a traceback).
function M.notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'hexai' })
end

--- Statusline text: entries in flight and last latencies (see :help hexai-statusline).
function M.status()
  local ok, completion = pcall(require, 'hexai.completion')
  if ok and completion.status then return completion.status() end
  return ''
end

--- Path of the host's log file.
function M.log_file()
  return vim.fn.stdpath('log') .. '/hexai.log'
end

function H.highlights()
  local links = {
    HexaiSuggestion = 'Comment',
    HexaiLabel = 'Special',
    HexaiError = 'DiagnosticError',
    HexaiPending = 'NonText',
  }
  for group, target in pairs(links) do
    vim.api.nvim_set_hl(0, group, { link = target, default = true })
  end
end

function H.commands()
  vim.api.nvim_create_user_command('HexaiLog', function()
    vim.cmd.split(vim.fn.fnameescape(M.log_file()))
  end, { desc = 'hexai: open the log file' })
end

return M
