--- hexai.arena: the :HexaiStats view, :HexaiAskExport, and the arena's keys.
---
--- Python decides everything (which outcome is recorded, the rating, the
--- text of the leaderboard, the Markdown of an export); this module opens
--- the buffers that show it and sends what the person did to the host.
local M = {}
local H = {}

-- Module definition ===========================================================

--- `:HexaiStats [days]`: ask the host for the leaderboard (drawn by show()).
function M.stats(days)
  H.days = days
  return require('hexai.rpc').notify('arena.show', { days = days })
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

-- Helper data =================================================================

H.buf = nil
H.days = nil

return M
