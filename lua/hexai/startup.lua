--- hexai.startup: what `require('hexai').setup()` declares, for every surface.
---
--- Commands, <Plug> mappings, default keys, autocommands and highlights.
--- Every callback `require`s the surface module it needs when it runs, so
--- start-up loads this file and `hexai` only; `hexai.completion`,
--- `hexai.ask`, `hexai.code_action` and `hexai.check` load on first use and
--- read their options from `require('hexai').options` then.
---
--- Keep this file small: Neovim parses it at every start-up.
local M = {}
local H = {}

--- Default Insert-mode keys of completion (`setup({ completion = { keymaps } })`).
M.completion_keys = {
  complete = '<M-\\>',
  accept = '<M-l>',
  accept_word = '<M-w>',
  accept_line = '<M-j>',
  next = '<M-]>',
  prev = '<M-[>',
  dismiss = '<C-]>',
}
-- <M-1> .. <M-9>: accept entry N's suggestion (in blind mode: A, B, C ...).
for n = 1, 9 do M.completion_keys['accept_' .. n] = '<M-' .. n .. '>' end

--- Declare everything for `options` (the merged options of `hexai.setup()`).
--- Running it again replaces what it declared before.
function M.apply(options)
  H.highlights()
  H.drop_default_keys()
  local group = vim.api.nvim_create_augroup('hexai', { clear = true })
  -- `:colorscheme` clears every group first: declare the defaults again.
  H.au(group, 'ColorScheme', H.highlights)
  H.au(group, 'User', function()
    local ui = require('hexai').settings.ui or {}
    if ui.default_keymaps == false then H.drop_default_keys() end
  end, 'HexaiSettings')
  H.completion(options, group)
  H.ask()
  H.code_action()
  H.check()
  H.cmd('HexaiLog', function() vim.cmd.split(vim.fn.fnameescape(require('hexai').log_file())) end,
    { desc = 'hexai: open the log file' })
  if options.default_keymaps ~= false then H.default_keys(options) end
  H.host(options, group)
  -- Surfaces already in use take the new options now.
  for _, name in ipairs({ 'hexai.completion', 'hexai.ask', 'hexai.code_action', 'hexai.check' }) do
    local mod = package.loaded[name]
    if type(mod) == 'table' and mod.configure then mod.configure(options) end
  end
end

-- Surfaces ====================================================================

--- Start the Python host in the background (see hexai.rpc) at the moment
--- `host_start` names, so the first suggestion does not wait for it.
function H.host(options, group)
  local function start()
    local rpc = require('hexai.rpc')
    if rpc.start then rpc.start() end
  end
  if options.host_start == 'insert' then
    vim.api.nvim_create_autocmd('InsertEnter', { group = group, once = true, callback = start })
  elseif options.host_start ~= 'first_use' then
    -- After start-up: nothing of it adds to the start-up time.
    if vim.v.vim_did_enter == 1 then
      vim.schedule(start)
    else
      vim.api.nvim_create_autocmd('VimEnter', {
        group = group, once = true, callback = function() vim.schedule(start) end,
      })
    end
  end
end

function H.completion(options, group)
  local function loaded(name) return package.loaded[name] end
  local function enabled() return loaded('hexai.trigger') or require('hexai.completion').is_enabled(0) end
  -- Cheap events stay cheap: nothing is loaded until a text change needs it.
  H.au(group, 'InsertCharPre', function()
    if enabled() then require('hexai.trigger').on_char(vim.v.char) end
  end)
  H.au(group, 'InsertEnter', function()
    if loaded('hexai.trigger') then require('hexai.trigger').on_insert_enter() end
    -- nvim-cmp may load after us; looking it up on disk at start-up would cost time.
    if loaded('cmp') and not H.cmp_done then H.cmp_done = require('hexai.cmp').register() end
  end)
  H.au(group, { 'TextChangedI', 'TextChangedP' }, function()
    if enabled() then require('hexai.trigger').on_text_changed() end
  end)
  H.au(group, { 'CursorMovedI', 'CursorMoved' }, function()
    if loaded('hexai.trigger') then require('hexai.trigger').on_cursor_moved() end
  end)
  H.au(group, { 'InsertLeave', 'BufLeave' }, function()
    if loaded('hexai.trigger') then require('hexai.trigger').dismiss() end
  end)
  H.au(group, 'CompleteDone', function()
    if loaded('hexai.menu') then require('hexai.menu').on_complete_done() end
  end)
  if loaded('cmp') then H.cmp_done = require('hexai.cmp').register() end

  H.cmd('HexaiComplete', function(o)
    require('hexai.completion').complete(o.args ~= '' and o.args or nil)
  end, {
    nargs = '?',
    complete = function() return { 'ghost', 'popup' } end,
    desc = 'hexai: ask every completion entry at the cursor',
  })
  H.cmd('HexaiToggle', function(o)
    local state = require('hexai.completion').toggle(({ on = true, off = false })[o.args])
    vim.notify('hexai: completion ' .. (state and 'on' or 'off'), vim.log.levels.INFO)
  end, { nargs = '?', complete = function() return { 'on', 'off' } end,
    desc = 'hexai: turn completion on or off everywhere' })

  for name, plug in pairs(H.completion_plugs) do
    local fn, arg = plug[2], plug[3]
    local cb = function() require('hexai.completion')[fn](arg) end
    H.plug('in', plug[1], cb, 'hexai: ' .. name:gsub('_', ' '))
  end
end

--- keymaps name -> { <Plug> name, hexai.completion function, its argument }
H.completion_plugs = {
  complete = { 'hexai-complete', 'complete' },
  menu = { 'hexai-menu', 'complete', 'popup' },
  accept = { 'hexai-accept', 'accept' },
  accept_word = { 'hexai-accept-word', 'accept', 'word' },
  accept_line = { 'hexai-accept-line', 'accept', 'line' },
  next = { 'hexai-next', 'next' },
  prev = { 'hexai-prev', 'prev' },
  dismiss = { 'hexai-dismiss', 'dismiss' },
}
for n = 1, 9 do H.completion_plugs['accept_' .. n] = { 'hexai-accept-' .. n, 'accept_entry', n } end

function H.ask()
  local function ask() return require('hexai.ask') end
  H.cmd('HexaiAsk', function(o) ask().ask(o.args, o.range > 0 and { o.line1, o.line2 } or nil) end,
    { nargs = '*', range = true, desc = 'hexai: ask every ask entry (range: with the lines)' })
  H.cmd('HexaiAskRetry', function() ask().retry() end, { desc = 'hexai: ask the last question again' })
  H.cmd('HexaiAskDiff', function(o) ask().diff(o.fargs[1], o.fargs[2]) end,
    { nargs = '*', desc = 'hexai: diff two answers of the last ask' })
  H.cmd('HexaiAskLayout', function(o) ask().set_layout(o.args ~= '' and o.args or nil) end, {
    nargs = '?',
    complete = function() return { 'stacked', 'columns' } end,
    desc = 'hexai: results layout (stacked, columns; no argument toggles)',
  })
  H.cmd('HexaiCancel', function() ask().cancel_all() end, { desc = 'hexai: stop everything still running' })
  H.cmd('HexaiAskExport', function(o) require('hexai.arena').export(o.args) end,
    { nargs = '?', complete = 'file', desc = 'hexai: the last ask as Markdown (to a file or a buffer)' })
  H.cmd('HexaiStats', function(o) require('hexai.arena').stats(o.args ~= '' and o.args or nil) end,
    { nargs = '?', desc = 'hexai: arena leaderboard (optional: last N days)' })
  H.plug('n', 'hexai-ask', function() ask().ask(nil, nil) end, 'hexai: ask')
  H.plug('x', 'hexai-ask', ':HexaiAsk<CR>', 'hexai: ask about the selection')
  H.plug('n', 'hexai-ask-retry', function() ask().retry() end, 'hexai: ask again')
  H.plug('nx', 'hexai-cancel', function() ask().cancel_all() end, 'hexai: cancel')
end

function H.code_action()
  H.cmd('HexaiCodeAction', function(o)
    if o.range > 0 then
      require('hexai.code_action').run(o.line1, o.line2)
    else
      require('hexai.code_action').run()
    end
  end, { range = true, desc = 'hexai: code action on the range (first code_action entry)' })
  H.plug('n', 'hexai-code-action', function() require('hexai.code_action').run() end, 'hexai: code action')
  H.plug('x', 'hexai-code-action', ':HexaiCodeAction<CR>', 'hexai: code action on the selection')
end

function H.check()
  H.cmd('HexaiConfigCheck', function(o) require('hexai.check').open({ probe = not o.bang }) end,
    { bang = true, desc = 'hexai: check the config and probe every entry (! skips the probe)' })
  H.cmd('HexaiConfigReload', function() require('hexai.check').reload() end,
    { desc = 'hexai: re-read the configuration' })
end

-- Helpers =====================================================================

--- Linked by default (`:hi default`), so colour schemes win.
H.links = {
  HexaiLabel = 'Special',
  HexaiError = 'DiagnosticError',
  HexaiAskHeader = 'Title',
  HexaiAskStats = 'Comment',
  HexaiAskDone = 'DiagnosticOk',
  HexaiCheckOk = 'DiagnosticOk',
  HexaiCheckWarn = 'DiagnosticWarn',
  HexaiCheckError = 'DiagnosticError',
  HexaiCheckSection = 'Title',
}

--- The dim groups of the ghost text: linked like the others when the target
--- has a terminal colour, else the target's GUI look plus a grey of the
--- 256-colour palette (Neovim's default scheme gives `Comment` and `NonText`
--- GUI colours only, so a linked suggestion looked like code in a terminal).
H.dim = {
  HexaiSuggestion = { 'Comment', 244 },
  -- A failed entry's line in the ghost text: shown, but it should not shout.
  HexaiErrorDim = { 'DiagnosticUnnecessary', 243 },
  HexaiPending = { 'NonText', 240 },
}

function H.highlights()
  for group, target in pairs(H.links) do
    vim.api.nvim_set_hl(0, group, { link = target, default = true })
  end
  for group, spec in pairs(H.dim) do
    local target = vim.api.nvim_get_hl(0, { name = spec[1], link = false })
    if target.ctermfg then
      vim.api.nvim_set_hl(0, group, { link = spec[1], default = true })
    else
      vim.api.nvim_set_hl(0, group, {
        default = true, fg = target.fg or 0x808080, ctermfg = spec[2],
        italic = target.italic, cterm = { italic = target.italic },
      })
    end
  end
end

function H.au(group, event, callback, pattern)
  vim.api.nvim_create_autocmd(event, { group = group, callback = callback, pattern = pattern })
end

H.cmd = vim.api.nvim_create_user_command

--- <Plug>(name) in each mode of `modes` ('nx'); `rhs` is a function or keys.
-- nvim_set_keymap rather than vim.keymap.set: cheaper, and this runs at start-up.
function H.plug(modes, name, rhs, desc)
  local opts = { silent = true, desc = desc }
  if type(rhs) == 'function' then opts.callback, rhs = rhs, '' end
  for mode in modes:gmatch('.') do
    vim.api.nvim_set_keymap(mode, '<Plug>(' .. name .. ')', rhs, opts)
  end
end

--- Map the default keys that are still free (a person's own mappings win).
function H.default_keys(options)
  local keys = vim.tbl_extend('force', M.completion_keys, (options.completion or {}).keymaps or {})
  for name, lhs in pairs(keys) do
    local plug = H.completion_plugs[name]
    if plug and type(lhs) == 'string' and lhs ~= '' then H.default_key('i', lhs, plug[1]) end
  end
  H.default_key('nx', '<Leader>ha', 'hexai-ask')
  H.default_key('nx', '<Leader>hx', 'hexai-code-action')
end

--- { mode, lhs } of every default key mapped, so they can be dropped again.
H.mapped = {}

function H.default_key(modes, lhs, plug)
  for mode in modes:gmatch('.') do
    local existing = vim.fn.maparg(lhs, mode)
    if existing == '' or existing:find('<Plug>(hexai-', 1, true) then
      local desc = 'hexai: ' .. plug:sub(7)
      vim.api.nvim_set_keymap(mode, lhs, '<Plug>(' .. plug .. ')', { silent = true, desc = desc })
      H.mapped[#H.mapped + 1] = { mode, lhs }
    end
  end
end

--- Remove the default keys (config.toml's `[ui] default_keymaps = false`);
--- a key the person has mapped since to something else stays theirs.
function H.drop_default_keys()
  for _, m in ipairs(H.mapped) do
    if vim.fn.maparg(m[2], m[1]):find('<Plug>(hexai-', 1, true) then
      pcall(vim.api.nvim_del_keymap, m[1], m[2])
    end
  end
  H.mapped = {}
end

--- The default keys currently mapped (for tests).
function M.default_keys() return vim.deepcopy(H.mapped) end

return M
