--- hexai.arena: the :HexaiStats view, :HexaiAskExport, and the arena's keys.
---
--- Python decides everything (which outcome is recorded, the rating, the
--- text of the leaderboard, the Markdown of an export); this module opens
--- the buffers that show it and sends what the person did to the host.
---
--- Menu outcomes: the built-in popup (`hexai.menu`), nvim-cmp (`hexai.cmp`)
--- and blink.cmp (`hexai.blink`) tell this module what their menu showed
--- (`menu_shown`) and how it ended (`menu_chosen`, `menu_other`,
--- `menu_dismissed`, `menu_closed`); one tracker per menu keeps the trigger's
--- hexai items with their slot (position among hexai's items the first time
--- each was shown) and sends one `arena.outcome` per trigger:
--- - `accept`: a hexai item was confirmed (`chosen` = its entry);
--- - `dismiss`: the menu was aborted/cancelled, or closed with nothing typed
---   since it was last shown (<C-e>, <Esc>);
--- - `typed`: the text typed since the trigger starts with one suggestion;
--- - `moved_on`: another source's item was confirmed, the typing went another
---   way, or the cursor left. While the typing still follows a suggestion
---   after the menu closed (a multi-line one typed by hand), it waits.
local M = {}
local H = {}

-- Module definition ===========================================================

--- `:HexaiStats [days]`: ask the host for the leaderboard (drawn by show()).
function M.stats(days)
  H.days = days
  -- The table is cut to fit the screen (the view opens full width).
  return require('hexai.rpc').notify('arena.show', { days = days, width = vim.o.columns - 1 })
end

--- Show the leaderboard's lines in the stats view (one per tab page, reused).
function M.show(lines)
  local buf = H.buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = require('hexai.scratch').create('hexai://stats', 'hexaistats')
    H.buf = buf
    vim.keymap.set('n', 'q', '<Cmd>close<CR>', { buffer = buf, nowait = true, desc = 'hexai: close' })
    vim.keymap.set('n', 'r', function() M.stats(H.days) end,
      { buffer = buf, nowait = true, desc = 'hexai: refresh the leaderboard' })
  end
  require('hexai.scratch').set_lines(buf, 0, -1, lines)
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd('botright ' .. math.min(#lines + 1, math.max(8, math.floor(vim.o.lines / 2))) .. 'split')
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    vim.wo[win].wrap = false
    vim.wo[win].number = false
    vim.wo[win].relativenumber = false
  end
  return buf
end

--- `:HexaiAskExport [file]`: the last ask as Markdown, to `file` or a new buffer.
function M.export(path)
  return require('hexai.rpc').notify('ask.export', { path = path ~= '' and path or nil })
end

--- A new Markdown buffer holding `lines` (the person may edit and save it).
function M.open_markdown(lines)
  vim.cmd('tabnew')
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].filetype = 'markdown'
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modified = false
  return buf
end

--- A menu (`slot`: 'menu', 'cmp', 'blink') shows trigger `seq`'s items.
--- `anchor`: { buf, row (0-based), col } of the request; `items`: the hexai
--- items in the order shown, each { index = entry index as sent, text = the
--- suggestion after the anchor }.
function M.menu_shown(slot, seq, anchor, items)
  local t = H.menus[slot]
  if t and t.seq ~= seq then
    -- A newer trigger (a menu asks again after a space or a '('): the older
    -- one waits while the typing still follows one of its suggestions.
    H.menus[slot] = nil
    H.settle(t, 'watch')
    t = nil
  end
  if not t then
    if #items == 0 then return end
    t = { slot = slot, seq = seq, buf = anchor.buf, row = anchor.row, col = anchor.col,
      slots = {}, texts = {}, last_typed = '' }
    H.menus[slot] = t
    H.live[t] = true
    H.watch()
  end
  t.phase = 'open'
  for k, item in ipairs(items) do
    if t.slots[item.index] == nil then t.slots[item.index] = k - 1 end
    t.texts[item.index] = item.text
  end
  t.shown_at = H.where()
end

--- A hexai item of trigger `seq` (entry `index` as sent) was confirmed
--- (`action` 'accept', or 'partial' when only part of it went in).
function M.menu_chosen(slot, seq, index, action)
  local t = H.menus[slot]
  if not t or t.seq ~= seq or t.reported then return end
  t.action, t.chosen = action or 'accept', index
  if t.phase ~= 'closing' then H.settle(t, 'final') end
end

--- Another source's item was confirmed: the person moved on.
function M.menu_other(slot) H.ended(slot, 'moved_on') end

--- The menu was aborted (nvim-cmp's abort, the popup's <C-e>).
function M.menu_dismissed(slot) H.ended(slot, 'dismiss') end

--- The menu closed without saying why. Decided once the event loop has
--- run (`wait_ms` later: blink.cmp closes its menu before it accepts).
function M.menu_closed(slot, wait_ms)
  local t = H.menus[slot]
  if not t or t.reported or t.phase ~= 'open' then return end
  t.phase = 'closing'
  local now = H.where()
  t.unchanged = vim.deep_equal(now, t.shown_at)
  local function decide()
    if t.phase == 'closing' then H.settle(t, 'close') end
  end
  if (wait_ms or 0) > 0 then vim.defer_fn(decide, wait_ms) else vim.schedule(decide) end
end

-- Helper data =================================================================

H.buf = nil
H.days = nil
--- Menu slot -> the tracker of its latest trigger (see M.menu_shown).
H.menus = {}
--- Every tracker not reported yet (older triggers still being typed included).
H.live = {}

-- Helper functionality ========================================================

--- The menu of `slot` ended with `action` (unless an earlier event said more).
function H.ended(slot, action)
  local t = H.menus[slot]
  if not t or t.reported then return end
  t.action = t.action or action
  if t.phase ~= 'closing' then H.settle(t, 'final') end
end

--- Buffer, cursor and cursor line now (what "nothing typed" compares).
function H.where()
  local cursor = vim.api.nvim_win_get_cursor(0)
  return { vim.api.nvim_get_current_buf(), cursor[1], cursor[2], vim.api.nvim_get_current_line() }
end

--- Decide a tracker's outcome if it can be: `phase` 'close' (the menu just
--- closed), 'watch' (typing after it closed), 'final' (decide now).
function H.settle(t, phase)
  if t.reported then return end
  local action, chosen = t.action, t.chosen
  if not action then
    -- Out of Insert mode the cursor stepped back: what was typed when it ended.
    local typed = vim.fn.mode():sub(1, 1) == 'i' and require('hexai.ghost').typed_since(t)
      or t.last_typed
    local best = nil
    for index, text in pairs(t.texts) do
      if typed and text ~= '' and vim.startswith(typed, text) and (not best or #text > #t.texts[best]) then
        best = index
      end
    end
    if best then
      action, chosen = 'typed', best
    elseif phase == 'close' and (t.unchanged or vim.fn.mode():sub(1, 1) ~= 'i') then
      action = 'dismiss' -- closed with nothing typed since it was shown, or by leaving Insert mode
    elseif phase ~= 'final' and typed and typed ~= '' then
      for _, text in pairs(t.texts) do
        if vim.startswith(text, typed) then
          t.phase = 'watch' -- still typing one of them by hand
          return
        end
      end
    end
  end
  t.reported = true
  H.live[t] = nil
  if H.menus[t.slot] == t then H.menus[t.slot] = nil end
  local slots = {}
  for index, slot in pairs(t.slots) do slots[#slots + 1] = { index, slot } end
  if #slots < 2 then return end -- one suggestion is no comparison
  table.sort(slots, function(a, b) return a[2] < b[2] end)
  require('hexai.rpc').notify('arena.outcome', {
    seq = t.seq, slot = t.slot, action = action or 'moved_on', chosen = chosen, slots = slots,
  })
end

--- Once: typing after a menu closed, and leaving Insert mode, settle what waits.
function H.watch()
  if H.group then return end
  H.group = vim.api.nvim_create_augroup('hexai.arena.menus', { clear = true })
  vim.api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI' }, {
    group = H.group,
    callback = function()
      for _, t in ipairs(vim.tbl_keys(H.live)) do
        t.last_typed = require('hexai.ghost').typed_since(t)
        if t.phase == 'watch' then H.settle(t, 'watch') end
      end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = H.group,
    -- Scheduled: after the menus' own handlers, which close the menu on leaving.
    callback = function()
      vim.schedule(function()
        for _, t in ipairs(vim.tbl_keys(H.live)) do
          -- A menu still open when Insert mode ended was closed by leaving it.
          if t.phase == 'open' then H.settle(t, 'close') elseif t.phase == 'watch' then H.settle(t, 'final') end
        end
      end)
    end,
  })
end

return M
