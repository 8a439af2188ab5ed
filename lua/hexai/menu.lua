--- hexai.menu: the entries' suggestions in Neovim's built-in popup menu.
---
--- Fed asynchronously with `vim.fn.complete()` while the cursor is still
--- where the request was made (as Neovim's own LSP completion does). One item
--- per entry: the menu column shows the entry's label, the info window the
--- full suggestion and its stats. An item holds the suggestion's first line;
--- accepting it (<C-y>) inserts the remaining lines too.
---
--- With hexai's `completion_wait_all = true` the menu opens once every entry
--- has finished; with false it opens at the first answer and grows.
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
        user_data = { hexai = { seq = snapshot.seq, index = e.index, rest = e.text:sub(#lines[1] + 1) } },
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
  local wait_all = (require('hexai').settings or {}).wait_all
  if wait_all ~= false and not snapshot.done then return end
  if vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then return end
  if vim.api.nvim_get_current_buf() ~= snapshot.buf then return end
  local cursor = vim.api.nvim_win_get_cursor(0)
  if cursor[1] - 1 ~= snapshot.row or cursor[2] ~= snapshot.col then return end
  local line = vim.api.nvim_get_current_line()
  local typed = line:sub(1, snapshot.col):match('[%w_]*$') or ''
  local items = M.items(snapshot, typed)
  H.last = { seq = snapshot.seq, count = #items }
  if #items == 0 then return end
  H.open_seq = snapshot.seq
  vim.fn.complete(snapshot.col - #typed + 1, items)
end

--- Whether the popup shows our items.
function M.is_open()
  return H.open_seq ~= nil and vim.fn.pumvisible() == 1
end

--- CompleteDone: an accepted item inserts the rest of a multi-line suggestion.
function M.on_complete_done()
  local item = vim.v.completed_item
  H.open_seq = nil
  local data = type(item) == 'table' and item.user_data
  if type(data) ~= 'table' or type(data.hexai) ~= 'table' then return end
  local reason = (vim.v.event or {}).reason
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

-- Helper functionality ========================================================

function H.shorten(text, width)
  if vim.fn.strchars(text) <= width then return text end
  return vim.fn.strcharpart(text, 0, width - 1) .. '…'
end

return M
