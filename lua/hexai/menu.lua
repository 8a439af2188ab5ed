--- hexai.menu: the entries' suggestions in Neovim's built-in popup menu.
---
--- Fed asynchronously with `vim.fn.complete()` while the cursor is still
--- where the request was made (as Neovim's own LSP completion does). One item
--- per entry: the menu column shows the entry's label, the info window the
--- full suggestion and its stats. An item holds the suggestion's first line;
--- accepting it (<C-y>) inserts the remaining lines too.
---
--- Design:
--- - The menu opens at the first answer and `complete()` is called again with
---   the merged list as each further entry arrives: a slow or stalled entry
---   never holds back the others (hexai's `completion_wait_all` does not delay
---   this menu, which can grow while open).
--- - The menu never changes the text on its own, whatever 'completeopt' says:
---   while it is open the buffer gets a local 'completeopt' with `menuone`
---   and `noselect` (and without `longest`, `preinsert`, `noinsert`), put back
---   on CompleteDone and InsertLeave. Nothing is selected until you press
---   <C-n>/<C-p>, so no text appears that you did not ask for, and nothing
---   re-triggers from it.
--- - While you have an item selected the list is not replaced (`complete()`
---   would reset your selection); entries that arrived meanwhile are added
---   when nothing is selected again.
--- - The arena (|hexai-arena|): every list given to `complete()` is what the
---   menu shows (slot = the item's row); CompleteDone says how it ended
---   (`v:event.reason`: `accept` <C-y>, `cancel` <C-e>; `discard` with an
---   item of ours still in `v:completed_item`: selected with <C-n> and typed
---   on, so that item was taken).
local M = {}
local H = {}

-- Module definition ===========================================================

--- Open the menu for the cursor (same as `:HexaiComplete popup`).
function M.open() return require('hexai.completion').complete('popup') end

--- Items for a snapshot, one per entry with a suggestion, in config order.
--- `typed` is the keyword left of the start column, put in front of each word.
function M.items(snapshot, typed)
  typed = typed or ''
  local items = {}
  for _, e in ipairs(snapshot.entries or {}) do
    if e.status == 'ok' and e.text ~= '' then
      local lines = vim.split(e.text, '\n', { plain = true })
      local first = typed .. lines[1]
      items[#items + 1] = {
        word = first,
        abbr = H.shorten(first ~= '' and first or '⏎ ' .. (lines[2] or ''), 60),
        -- The menu column also says when the answer did not simply finish.
        menu = '[' .. e.label .. ']' .. ((e.stop_reason and e.stop_reason ~= 'stop') and (' ' .. e.stop_reason) or ''),
        kind = 'hexai',
        info = M.documentation(e),
        empty = 1,
        dup = 1,
        icase = 1,
        user_data = { hexai = { seq = snapshot.seq, index = e.index, rest = e.text:sub(#lines[1] + 1),
          text = e.text } },
      }
    end
  end
  return items
end

--- The full suggestion followed by its stats line.
function M.documentation(e)
  return e.text .. '\n\n' .. M.stats_line(e)
end

--- `label · 140 ms · first token 90 ms · 12 tokens · 85.3 tok/s`
function M.stats_line(e)
  local parts = { e.label }
  if e.ms then parts[#parts + 1] = e.ms .. ' ms' end
  if e.ttft_ms then parts[#parts + 1] = 'first token ' .. e.ttft_ms .. ' ms' end
  if e.output_tokens then parts[#parts + 1] = e.output_tokens .. ' tokens' end
  if e.tokens_per_s then parts[#parts + 1] = e.tokens_per_s .. ' tok/s' end
  if e.stop and e.stop ~= '' then
    parts[#parts + 1] = e.stop
  elseif e.truncated then
    parts[#parts + 1] = 'truncated'
  end
  return table.concat(parts, ' · ')
end

--- Called with each snapshot of a 'menu' request (see hexai.completion).
function M.update(snapshot)
  if vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then return end
  if vim.api.nvim_get_current_buf() ~= snapshot.buf then return end
  if M.is_open() and vim.fn.complete_info({ 'selected' }).selected ~= -1 then
    -- The person is choosing: keep their selection, merge later.
    H.pending = snapshot
    return
  end
  H.pending = nil
  local cursor = vim.api.nvim_win_get_cursor(0)
  if cursor[1] - 1 ~= snapshot.row or cursor[2] ~= snapshot.col then return end
  local line = vim.api.nvim_get_current_line()
  local typed = line:sub(1, snapshot.col):match('[%w_]*$') or ''
  local items = M.items(snapshot, typed)
  H.last = { seq = snapshot.seq, count = #items }
  if #items == 0 then return end
  if H.open_seq == snapshot.seq and H.shown == #items and vim.fn.pumvisible() == 1 then return end
  H.open_seq, H.shown = snapshot.seq, #items
  H.guard_completeopt(snapshot.buf)
  H.replacing = true -- a CompleteDone of the list being replaced is not the end
  local ok, err = pcall(vim.fn.complete, snapshot.col - #typed + 1, items)
  H.replacing = false
  if not ok then error(err) end
  -- complete() puts the typed text back itself (a change nobody typed).
  H.own_tick = { buf = snapshot.buf, tick = vim.b[snapshot.buf].changedtick }
  local shown = {}
  for _, item in ipairs(items) do
    shown[#shown + 1] = { index = item.user_data.hexai.index, text = item.user_data.hexai.text }
  end
  require('hexai.arena').menu_shown('menu', snapshot.seq,
    { buf = snapshot.buf, row = snapshot.row, col = snapshot.col }, shown)
end
--- Whether the last change of `buf` is the menu's own (`complete()` re-inserts
--- the typed text): then it is not typing and must not trigger a request.
function M.owns_change(buf)
  local own = H.own_tick
  return own ~= nil and own.buf == buf and vim.b[buf].changedtick == own.tick
end

--- Whether the popup shows our items.
function M.is_open()
  return H.open_seq ~= nil and vim.fn.pumvisible() == 1
end

--- CompleteDone: an accepted item inserts the rest of a multi-line suggestion.
function M.on_complete_done()
  if H.replacing then return end
  local item = vim.v.completed_item
  H.open_seq, H.shown, H.pending = nil, nil, nil
  H.restore_completeopt()
  local data = type(item) == 'table' and item.user_data
  local reason = (vim.v.event or {}).reason
  H.note_outcome(reason, type(data) == 'table' and data.hexai or nil)
  if type(data) ~= 'table' or type(data.hexai) ~= 'table' then return end
  local rest = data.hexai.rest
  if reason ~= 'accept' or type(rest) ~= 'string' or rest == '' then return end
  -- Text is locked during CompleteDone.
  vim.schedule(function()
    local cursor = vim.api.nvim_win_get_cursor(0)
    local row, col = cursor[1] - 1, cursor[2]
    local lines = vim.split(rest, '\n', { plain = true })
    vim.api.nvim_buf_set_text(0, row, col, row, col, lines)
    vim.api.nvim_win_set_cursor(0, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
  end)
end

--- The 'completeopt' used while our menu is open, from the person's one:
--- always a menu (also for one item), never a pre-selected or pre-inserted
--- item; their other flags (fuzzy, popup, preview, ...) stay.
function M.safe_completeopt(current)
  local keep = {}
  for _, flag in ipairs(vim.split(current or '', ',', { plain = true, trimempty = true })) do
    if not H.unsafe[flag] then keep[#keep + 1] = flag end
  end
  for _, flag in ipairs({ 'menu', 'menuone', 'noselect' }) do
    if not vim.tbl_contains(keep, flag) then keep[#keep + 1] = flag end
  end
  return table.concat(keep, ',')
end

-- Helper data =================================================================

--- Flags that would make complete() insert or select text by itself.
H.unsafe = { longest = true, preinsert = true, noinsert = true, menu = true, menuone = true,
  noselect = true }

-- Helper functionality ========================================================

--- Tell the arena how the menu ended (see the module's Design).
function H.note_outcome(reason, hexai)
  local arena = require('hexai.arena')
  if type(hexai) == 'table' and hexai.seq and (reason == 'accept' or reason == 'discard') then
    -- Typed on after <C-n>: the item's first line stays, its further lines do not.
    local whole = reason == 'accept' or (hexai.rest or '') == ''
    arena.menu_chosen('menu', hexai.seq, hexai.index, whole and 'accept' or 'partial')
  elseif reason == 'cancel' then
    arena.menu_dismissed('menu')
  else
    arena.menu_closed('menu')
  end
end

--- Give `buf` the safe local 'completeopt' (remembering its own local value).
function H.guard_completeopt(buf)
  if not H.saved then
    H.saved = { buf = buf, value = vim.bo[buf].completeopt }
    H.autocmds()
  end
  local current = H.saved.value ~= '' and H.saved.value or vim.go.completeopt
  vim.bo[buf].completeopt = M.safe_completeopt(current)
end

function H.restore_completeopt()
  local saved = H.saved
  H.saved = nil
  if saved and vim.api.nvim_buf_is_valid(saved.buf) then
    vim.bo[saved.buf].completeopt = saved.value
  end
end

--- Once: put 'completeopt' back when Insert mode ends; merge what arrived
--- while an item was selected once nothing is selected.
function H.autocmds()
  if H.group then return end
  H.group = vim.api.nvim_create_augroup('hexai.menu', { clear = true })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = H.group,
    callback = function()
      H.open_seq, H.shown, H.pending = nil, nil, nil
      H.restore_completeopt()
    end,
  })
  vim.api.nvim_create_autocmd('CompleteChanged', {
    group = H.group,
    callback = function()
      if not H.pending or vim.v.event.completed_item == nil then return end
      if next(vim.v.event.completed_item) ~= nil then return end -- still selected
      local snapshot = H.pending
      vim.schedule(function()
        if H.pending == snapshot then M.update(snapshot) end
      end)
    end,
  })
end


H.shorten = require('hexai').clip

return M
