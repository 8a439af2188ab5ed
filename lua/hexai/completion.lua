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
--- - Keystrokes are debounced here with a libuv timer; nothing crosses RPC
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
  -- Lines shown for each of the other entries.
  other_max_lines = 3,
  -- Keys mapped when `default_keymaps` is true (false/'' skips one).
  keymaps = {
    complete = '<M-\\>',
    accept = '<M-l>',
    accept_word = '<M-w>',
    accept_line = '<M-j>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
  },
}

--- Effective options (setup() options over `[ui.completion]` over defaults).
M.config = vim.deepcopy(M.defaults)

--- Set up autocommands, commands, <Plug> mappings and default keys.
--- Called by `require('hexai').setup()`.
function M.setup(options)
  options = options or {}
  H.user = options.completion or {}
  H.default_keymaps = options.default_keymaps ~= false
  M.config = H.effective()
  H.enabled = H.user.enabled ~= false
  H.autocmds()
  H.commands()
  H.plug_mappings()
  if H.default_keymaps then H.default_keys() end
  H.register_cmp()
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

--- Turn completion on or off everywhere (no argument: flip). Returns the new state.
function M.toggle(on)
  if on == nil then on = not H.enabled end
  H.enabled = on and true or false
  if not H.enabled then H.invalidate() end
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
  H.stop_timer()
  H.invalidate()
  display = display or M.config.display
  return M.request(display == 'popup' and 'menu' or 'ghost', { manual = true }) ~= nil
end

--- Send one request in `slot`. `opts`: manual, callback (gets every snapshot of
--- this request, or nil when it is superseded or cannot be sent), buf/row/col
--- (defaults: the current window's cursor). Returns the seq, or nil.
function M.request(slot, opts)
  opts = opts or {}
  local previous = H.active[slot]
  if previous and previous.callback and not previous.done then
    pcall(previous.callback, nil)
  end
  H.seq = H.seq + 1
  local seq = H.seq
  local buf = opts.buf or vim.api.nvim_get_current_buf()
  local row, col = opts.row, opts.col
  if not row then
    local cursor = vim.api.nvim_win_get_cursor(0)
    row, col = cursor[1], cursor[2]
  end
  local name = vim.api.nvim_buf_get_name(buf)
  local payload = {
    seq = seq,
    slot = slot,
    buf = buf,
    row = row,
    col = col,
    line_count = vim.api.nvim_buf_line_count(buf),
    manual = opts.manual and true or false,
    path = name ~= '' and vim.fn.fnamemodify(name, ':~:.') or '',
    filetype = vim.bo[buf].filetype,
    commentstring = vim.bo[buf].commentstring,
  }
  H.active[slot] = {
    seq = seq, buf = buf, row = row - 1, col = col, callback = opts.callback,
    done = false, tick = vim.b[buf].changedtick,
  }
  H.last_sent = vim.uv.now()
  if not require('hexai.rpc').notify('complete', payload) then
    H.active[slot] = nil
    if opts.callback then pcall(opts.callback, nil) end
    return nil
  end
  return seq
end

--- Stop the request of `slot` (every slot when nil) and forget it.
function M.cancel(slot)
  local running = false
  for name, active in pairs(H.active) do
    if slot == nil or name == slot then
      if not active.done then
        running = true
        if active.callback then pcall(active.callback, nil) end
      end
      H.active[name] = nil
    end
  end
  if running then require('hexai.rpc').notify('cancel', slot and { slot = slot } or nil) end
end

--- Called by the host with a snapshot of one request's entries.
function M.on_update(snapshot)
  if type(snapshot) ~= 'table' then return end
  local active = H.active[snapshot.slot]
  if not active or active.seq ~= snapshot.seq then return end -- stale: never drawn
  active.done = snapshot.done and true or false
  H.record(snapshot)
  if snapshot.slot == 'ghost' then
    require('hexai.ghost').update(snapshot)
  elseif snapshot.slot == 'menu' then
    require('hexai.menu').update(snapshot)
  elseif active.callback then
    local ok, err = pcall(active.callback, snapshot)
    if not ok then vim.notify('hexai: ' .. snapshot.slot .. ': ' .. tostring(err), vim.log.levels.ERROR) end
  end
  if active.done and snapshot.slot ~= 'ghost' then H.active[snapshot.slot] = nil end
end

--- Statusline text: entries in flight, else the last latency per entry.
function M.status()
  if not H.enabled then return 'hexai: off' end
  if H.running > 0 then return ('hexai: %d running'):format(H.running) end
  if #H.last == 0 then return '' end
  local parts = {}
  for _, item in ipairs(H.last) do
    parts[#parts + 1] = item.ms and ('%s %d ms'):format(item.label, item.ms)
      or ('%s %s'):format(item.label, item.status)
  end
  return 'hexai: ' .. table.concat(parts, ' | ')
end

--- Accept the selected suggestion (all of it, or 'word' / 'line').
function M.accept(kind) return require('hexai.ghost').accept(kind) end

--- Select the next / previous entry's suggestion.
function M.next() return require('hexai.ghost').cycle(1) end
function M.prev() return require('hexai.ghost').cycle(-1) end

--- Clear the suggestions and stop what is running.
function M.dismiss()
  H.stop_timer()
  H.invalidate()
end

--- The state of the slots, for tests and `:checkhealth` (a copy).
function M.debug_state()
  return {
    seq = H.seq, enabled = H.enabled, running = H.running, tick = H.tick,
    active = vim.deepcopy(H.active),
  }
end

-- Helper data =================================================================

H.seq = 0
H.enabled = true
H.active = {} -- slot -> { seq, buf, row (0-based), col (byte), callback, done }
H.running = 0 -- entries pending in the latest ghost/menu snapshot
H.last = {} -- { label, ms, status } per entry of the last finished snapshot
H.last_char = nil -- set by InsertCharPre, used once by the next text change
H.tick = nil -- changedtick seen by the last text-change handler
H.last_sent = 0
H.user = {}

-- Helper functionality ========================================================

--- defaults < config.toml's [ui] (completion_layout, auto_trigger, ghost_text,
--- disabled_filetypes, [ui.completion]) < setup({ completion = ... }).
function H.effective()
  local ui = (require('hexai').settings or {}).ui or {}
  local from_toml = {}
  if ui.completion_layout then from_toml.layout = ui.completion_layout end
  if ui.auto_trigger ~= nil then from_toml.auto_trigger = ui.auto_trigger end
  if ui.ghost_text == false then from_toml.display = 'none' end
  if type(ui.disabled_filetypes) == 'table' and #ui.disabled_filetypes > 0 then
    from_toml.filetypes = {}
    for _, ft in ipairs(ui.disabled_filetypes) do from_toml.filetypes[ft] = false end
  end
  if type(ui.completion) == 'table' then
    from_toml = vim.tbl_deep_extend('force', from_toml, ui.completion)
  end
  return vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), from_toml, H.user or {})
end

--- Settings changed (the host (re)loaded the config): re-read options, and
--- drop the default keys if config.toml says `[ui] default_keymaps = false`.
function H.on_settings()
  M.config = H.effective()
  local ui = (require('hexai').settings or {}).ui or {}
  if ui.default_keymaps == false and H.mapped_defaults then
    for _, lhs in ipairs(H.mapped_defaults) do pcall(vim.keymap.del, 'i', lhs) end
    H.mapped_defaults = nil
  end
end

function H.settings() return require('hexai').settings or {} end

function H.autocmds()
  local group = vim.api.nvim_create_augroup('hexai.completion', { clear = true })
  local au = function(event, fn, pattern)
    vim.api.nvim_create_autocmd(event, { group = group, callback = fn, pattern = pattern })
  end
  au('InsertCharPre', function() H.last_char = vim.v.char end)
  au({ 'TextChangedI', 'TextChangedP' }, function() H.on_text_changed() end)
  au('CursorMovedI', function() H.on_cursor_moved() end)
  au('CursorMoved', function() H.on_cursor_moved() end)
  au('InsertEnter', function() H.tick = vim.b.changedtick end)
  au({ 'InsertLeave', 'BufLeave' }, function() M.dismiss() end)
  au('CompleteDone', function() require('hexai.menu').on_complete_done() end)
  au('User', function() H.on_settings() end, 'HexaiSettings')
end

function H.commands()
  vim.api.nvim_create_user_command('HexaiComplete', function(args)
    local display = args.args ~= '' and args.args or nil
    M.complete(display)
  end, {
    nargs = '?',
    complete = function() return { 'ghost', 'popup' } end,
    desc = 'hexai: ask every completion entry at the cursor',
  })
  vim.api.nvim_create_user_command('HexaiToggle', function(args)
    local on = nil
    if args.args == 'on' then on = true elseif args.args == 'off' then on = false end
    local state = M.toggle(on)
    vim.notify('hexai: completion ' .. (state and 'on' or 'off'), vim.log.levels.INFO)
  end, {
    nargs = '?',
    complete = function() return { 'on', 'off' } end,
    desc = 'hexai: turn completion on or off everywhere',
  })
end

H.plugs = {
  complete = { 'hexai-complete', function() M.complete() end },
  menu = { 'hexai-menu', function() M.complete('popup') end },
  accept = { 'hexai-accept', function() M.accept() end },
  accept_word = { 'hexai-accept-word', function() M.accept('word') end },
  accept_line = { 'hexai-accept-line', function() M.accept('line') end },
  next = { 'hexai-next', function() M.next() end },
  prev = { 'hexai-prev', function() M.prev() end },
  dismiss = { 'hexai-dismiss', function() M.dismiss() end },
}

function H.plug_mappings()
  for _, plug in pairs(H.plugs) do
    vim.keymap.set({ 'i', 'n' }, '<Plug>(' .. plug[1] .. ')', plug[2],
      { silent = true, desc = 'hexai: ' .. plug[1]:gsub('^hexai%-', '') })
  end
end

--- Map the default keys that are still free (a person's own mappings win).
function H.default_keys()
  H.mapped_defaults = {}
  for name, lhs in pairs(M.config.keymaps or {}) do
    local plug = H.plugs[name]
    local existing = type(lhs) == 'string' and lhs ~= '' and vim.fn.maparg(lhs, 'i') or nil
    if plug and existing and (existing == '' or existing:find('<Plug>(hexai-', 1, true)) then
      vim.keymap.set('i', lhs, '<Plug>(' .. plug[1] .. ')', { remap = true, silent = true })
      table.insert(H.mapped_defaults, lhs)
    end
  end
end

function H.register_cmp()
  local ok, cmp = pcall(require, 'cmp')
  if ok and type(cmp) == 'table' and cmp.register_source then
    require('hexai.cmp').register()
  end
end

function H.record(snapshot)
  local running, last = 0, {}
  for _, e in ipairs(snapshot.entries or {}) do
    if e.status == 'pending' then running = running + 1 end
    last[#last + 1] = { label = e.label, ms = e.ms, status = e.status }
  end
  H.running = running
  if snapshot.done then H.last = last end
end

function H.stop_timer()
  if H.timer then H.timer:stop() end
end

--- Forget the ghost/menu requests and clear what they drew.
function H.invalidate()
  if package.loaded['hexai.ghost'] then require('hexai.ghost').clear() end
  for _, slot in ipairs({ 'ghost', 'menu' }) do
    local active = H.active[slot]
    if active then
      if not active.done then require('hexai.rpc').notify('cancel', { slot = slot }) end
      H.active[slot] = nil
    end
  end
  H.running = 0
end

function H.on_text_changed()
  H.tick = vim.b.changedtick
  local char = H.last_char
  H.last_char = nil
  -- Moving through a popup menu's items changes the text: not typing.
  if vim.fn.pumvisible() == 1 and vim.fn.complete_info({ 'selected' }).selected ~= -1 then return end
  local buf = vim.api.nvim_get_current_buf()
  if not M.is_enabled(buf) then return end
  -- Text-change events are late when keys come faster than redraws: a change
  -- a request already saw (same changedtick) is not a new keystroke.
  for _, slot in ipairs({ 'ghost', 'menu' }) do
    local active = H.active[slot]
    if active and active.buf == buf and active.tick == H.tick then return end
  end
  if package.loaded['hexai.ghost'] and require('hexai.ghost').typed_through(buf) then return end
  H.invalidate()
  if not M.config.auto_trigger or M.config.display == 'none' then return end
  local is_trigger = char ~= nil and vim.tbl_contains(H.settings().trigger_characters or {}, char)
  H.schedule(is_trigger and 0 or (H.settings().debounce_ms or 800), buf)
end

function H.on_cursor_moved()
  -- Typing moves the cursor too; that is handled by the text-change handler.
  if vim.b.changedtick ~= H.tick then return end
  local drawn = package.loaded['hexai.ghost'] and require('hexai.ghost').visible()
  if drawn or H.active.ghost or H.active.menu then M.dismiss() end
end

function H.schedule(delay, buf)
  H.timer = H.timer or vim.uv.new_timer()
  H.timer:stop()
  H.timer:start(math.max(0, delay), 0, vim.schedule_wrap(function() H.fire(buf) end))
end

function H.fire(buf)
  if vim.api.nvim_get_current_buf() ~= buf then return end
  local mode = vim.api.nvim_get_mode().mode
  if mode:sub(1, 1) ~= 'i' or not M.is_enabled(buf) then return end
  local settings = H.settings()
  -- hexai's completion_throttle_ms: minimum spacing between requests.
  local throttle = settings.throttle_ms or 0
  local wait = throttle - (vim.uv.now() - H.last_sent)
  if throttle > 0 and wait > 0 then return H.schedule(wait, buf) end
  -- hexai's manual_invoke_min_prefix: enough of a word typed, unless a trigger character.
  local min_prefix = settings.manual_invoke_min_prefix or 0
  if min_prefix > 0 then
    local cursor = vim.api.nvim_win_get_cursor(0)
    local before = vim.api.nvim_get_current_line():sub(1, cursor[2])
    local last = before:sub(-1)
    local word = before:match('[%w_]*$') or ''
    if #word < min_prefix and not vim.tbl_contains(settings.trigger_characters or {}, last) then
      return
    end
  end
  M.request(M.config.display == 'popup' and 'menu' or 'ghost', { manual = false })
end

return M
