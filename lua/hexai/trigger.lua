--- hexai.trigger: the running side of completion (loaded on first use).
---
--- Holds the requests in flight per slot, the debounce timer and the
--- handlers of the text-change autocommands that `hexai.startup` declares.
--- Loaded at the first keystroke in Insert mode (never at start-up).
local M = {}
local H = {}

local completion = require('hexai.completion')

-- Module definition ===========================================================

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
    file = name,
    filetype = vim.bo[buf].filetype,
    commentstring = vim.bo[buf].commentstring,
  }
  -- The lines the context needs go with the trigger: the host never calls back.
  local limits = H.settings().context
  if type(limits) == 'table' and limits.chars then
    -- One string, not a list: the host decodes one value, not one per line.
    local lines
    lines, payload.first_line = H.context_lines(buf, row - 1, limits)
    payload.text, payload.text_lines = table.concat(lines, '\n'), #lines
  end
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
    if not ok then
      vim.notify('hexai: ' .. snapshot.slot .. ': ' .. tostring(err), vim.log.levels.ERROR)
    end
  end
  if active.done and snapshot.slot ~= 'ghost' then H.active[snapshot.slot] = nil end
end

--- Statusline text: entries in flight, else the last latency per entry.
function M.status()
  if not completion.enabled() then return 'hexai: off' end
  if H.running > 0 then return ('hexai: %d running'):format(H.running) end
  if #H.last == 0 then return '' end
  local parts = {}
  for _, item in ipairs(H.last) do
    parts[#parts + 1] = item.ms and ('%s %d ms'):format(item.label, item.ms)
      or ('%s %s'):format(item.label, item.status)
  end
  return 'hexai: ' .. table.concat(parts, ' | ')
end

--- The state of the slots, for tests and `:checkhealth` (a copy).
function M.debug_state()
  return {
    seq = H.seq, enabled = completion.enabled(), running = H.running, tick = H.tick,
    active = vim.deepcopy(H.active),
  }
end

--- Clear the suggestions and stop the timer and what is running.
function M.dismiss()
  H.stop_timer()
  H.invalidate()
end

--- Autocommand handlers (declared by hexai.startup).
function M.on_char(char) H.last_char = char end
function M.on_insert_enter() H.tick = vim.b.changedtick end
function M.on_text_changed() H.on_text_changed() end
function M.on_cursor_moved() H.on_cursor_moved() end

-- Helper data =================================================================

H.seq = 0
H.active = {} -- slot -> { seq, buf, row (0-based), col (byte), callback, done, tick }
H.running = 0 -- entries pending in the latest ghost/menu snapshot
H.last = {} -- { label, ms, status } per entry of the last finished snapshot
H.last_char = nil -- set by InsertCharPre, used once by the next text change
H.tick = nil -- changedtick seen by the last text-change handler
H.last_sent = 0

-- Helper functionality ========================================================

function H.settings() return require('hexai').settings or {} end

function H.record(snapshot)
  local running, last = 0, {}
  for _, e in ipairs(snapshot.entries or {}) do
    if e.status == 'pending' then running = running + 1 end
    last[#last + 1] = { label = e.label, ms = e.ms, status = e.status }
  end
  H.running = running
  if snapshot.done then H.last = last end
end

--- Lines around `row` (0-based): at most `limits.lines` each side (0: no
--- limit) and just over the characters the host can keep (`limits.chars`
--- before the cursor; after it, what the text before leaves but at least
--- `limits.suffix_share` of it, see split_budget in surfaces/completion.py),
--- read in blocks so a 20,000-line buffer costs what the budget holds, not
--- its size. Characters as Python counts them (code points), so the host
--- builds the prompt it would build from the whole buffer.
function H.context_lines(buf, row, limits)
  local count = vim.api.nvim_buf_line_count(buf)
  local max_lines = (limits.lines or 0) > 0 and limits.lines or count
  local budget = limits.chars
  local get = vim.api.nvim_buf_get_lines
  local chars = H.chars
  local current = get(buf, row, row + 1, false)
  -- `used`: characters of the lines taken, a newline each. Strictly over the
  -- budget, so the host's cut to it never falls on the first line's start.
  local before, used, top = {}, 0, row
  while top > 0 and used <= budget and row - top < max_lines do
    local from = math.max(0, top - H.BLOCK, row - max_lines)
    local block = get(buf, from, top, false)
    local ascii = H.ascii(block)
    for k = #block, 1, -1 do
      if used > budget then break end
      used = used + (ascii and #block[k] or chars(block[k])) + 1
      before[#before + 1] = block[k]
      top = top - 1
    end
  end
  local lines = {}
  for k = #before, 1, -1 do lines[#lines + 1] = before[k] end
  lines[#lines + 1] = current[1] or ''
  -- The host gives the text after the cursor `suffix_share` of the budget,
  -- and the rest to the text before it, then each what the other leaves.
  local share = limits.suffix_share
  local after_budget = share and math.max(budget - used, math.ceil(budget * share)) or budget
  used = 0
  local bottom = row + 1
  while bottom < count and used <= after_budget and bottom - row - 1 < max_lines do
    local to = math.min(count, bottom + H.BLOCK, row + 1 + max_lines)
    local block = get(buf, bottom, to, false)
    local ascii = H.ascii(block)
    for _, l in ipairs(block) do
      if used > after_budget then break end
      used = used + (ascii and #l or chars(l)) + 1
      lines[#lines + 1] = l
      bottom = bottom + 1
    end
  end
  return lines, top
end

--- Characters (code points) of `text` (`vim.str_utfindex`: one C pass).
function H.chars(text)
  local ok, n = pcall(H.utf32, text)
  if ok and type(n) == 'number' then return n end
  return vim.fn.strchars(text)
end

H.utf32 = vim.fn.has('nvim-0.11') == 1 and function(text) return vim.str_utfindex(text, 'utf-32') end
  or function(text) return (vim.str_utfindex(text)) end

--- Whether every line of `block` is ASCII (one count for the block: its
--- characters are its bytes).
function H.ascii(block)
  local text = table.concat(block)
  return H.chars(text) == #text
end

H.BLOCK = 128

function H.stop_timer()
  if H.timer then H.timer:stop() end
end

--- Forget the ghost/menu requests and clear what they drew (`keep_space`:
--- typing on the same line keeps the comparison block's space, see hexai.ghost).
function H.invalidate(keep_space)
  if package.loaded['hexai.ghost'] then require('hexai.ghost').clear(keep_space) end
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
  -- Opening the built-in menu changes the text too (see hexai.menu): not typing.
  if package.loaded['hexai.menu'] and require('hexai.menu').owns_change(buf) then return end
  if not completion.is_enabled(buf) then return end
  -- Text-change events are late when keys come faster than redraws: a change
  -- a request already saw (same changedtick) is not a new keystroke.
  for _, slot in ipairs({ 'ghost', 'menu' }) do
    local active = H.active[slot]
    if active and active.buf == buf and active.tick == H.tick then return end
  end
  if package.loaded['hexai.ghost'] and require('hexai.ghost').typed_through(buf) then return end
  H.invalidate(true)
  if not completion.config.auto_trigger or completion.config.display == 'none' then return end
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
  -- No debounce: ask now (a timer would add a loop turn and a vim.schedule).
  if delay <= 0 then return H.fire(buf) end
  H.timer:start(math.max(0, delay), 0, vim.schedule_wrap(function() H.fire(buf) end))
end

function H.fire(buf)
  if vim.api.nvim_get_current_buf() ~= buf then return end
  local mode = vim.api.nvim_get_mode().mode
  if mode:sub(1, 1) ~= 'i' or not completion.is_enabled(buf) then return end
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
  M.request(completion.config.display == 'popup' and 'menu' or 'ghost', { manual = false })
end

return M
