--- hexai.ghost: draw every entry's suggestion at the cursor, labelled.
---
--- Layout 'stack' (default): the selected suggestion inline as ghost text
--- (its further lines below), its label at the end of the line, then one
--- labelled virtual line per other entry:
---   [ollama:qwen2.5-coder 140 ms] return a + b
---   [openai:gpt-4.1-mini …]                      (still running)
---   [anthropic:claude 35 ms] auth: HTTP 401 ...   (failed, dim: HexaiErrorDim)
--- Layout 'cycle': only the selected suggestion, annotated `(i/n label)`.
---
--- Design:
--- - The first suggestion to arrive is selected; later arrivals never change
---   the selection (only next/prev do).
--- - The state is anchored where the request was made. Typing that matches
---   the selected suggestion keeps it and shortens it (`typed_through`);
---   suggestions that no longer match are hidden.
--- - Everything is redrawn from the state: one namespace, cleared each time.
local M = {}
local H = {}

M.ns = vim.api.nvim_create_namespace('hexai.ghost')

-- Module definition ===========================================================

--- Merge a snapshot from the host (see hexai.completion.on_update) and redraw.
function M.update(snapshot)
  local st = H.state
  if not st or st.seq ~= snapshot.seq then
    if st then M.clear() end
    local buf = snapshot.buf
    if not buf or buf == 0 then buf = vim.api.nvim_get_current_buf() end
    st = {
      seq = snapshot.seq, buf = buf, row = snapshot.row, col = snapshot.col,
      typed = '', entries = {}, arrival = {}, selected = nil,
    }
    H.state = st
  end
  st.problem = snapshot.problem
  st.done = snapshot.done
  for _, e in ipairs(snapshot.entries or {}) do
    local i = e.index + 1
    local old = st.entries[i]
    st.entries[i] = e
    if e.status == 'ok' and not (old and old.status == 'ok') then
      st.arrival[#st.arrival + 1] = i
    end
  end
  local typed = H.typed_text(st)
  if typed == nil then return M.clear() end
  st.typed = typed
  H.ensure_selection(st)
  H.render()
end

--- Remove everything drawn and forget the suggestions.
function M.clear()
  local st = H.state
  H.state = nil
  if st and vim.api.nvim_buf_is_valid(st.buf) then
    vim.api.nvim_buf_clear_namespace(st.buf, M.ns, 0, -1)
  end
end

--- Whether suggestions (or pending/error lines) are shown.
function M.visible() return H.state ~= nil end

--- The text typed since the request matches a shown suggestion: keep it,
--- shortened. Returns false when the caller should start over.
function M.typed_through(buf)
  local st = H.state
  if not st or st.buf ~= buf then return false end
  local typed = H.typed_text(st)
  if not typed or typed == '' then return false end
  local function fits(i)
    local e = st.entries[i]
    return e and e.status == 'ok' and #typed < #e.text and vim.startswith(e.text, typed)
  end
  if not (st.selected and fits(st.selected)) then
    local found = nil
    for _, i in ipairs(st.arrival) do
      if fits(i) then found = i break end
    end
    if not found then return false end
    st.selected = found
  end
  st.typed = typed
  H.render()
  return true
end

--- Select the next (`step` 1) or previous (-1) entry's suggestion.
function M.cycle(step)
  local st = H.state
  if not st then return false end
  local shown = H.shown(st)
  if #shown < 2 then return false end
  local pos = 1
  for k, i in ipairs(shown) do
    if i == st.selected then pos = k end
  end
  st.selected = shown[((pos - 1 + step) % #shown) + 1]
  H.render()
  return true
end

--- Insert the selected suggestion at the cursor: all of it, or its next
--- 'word' or 'line'. Returns true when something was inserted.
function M.accept(kind)
  local st = H.state
  if not st or not st.selected or vim.api.nvim_get_current_buf() ~= st.buf then return false end
  local e = st.entries[st.selected]
  local rest = e.text:sub(#st.typed + 1)
  if rest == '' then return false end
  local piece = rest
  if kind == 'word' then
    piece = rest:match('^%s*[%w_]+') or rest:match('^%s*[^%w_%s]+') or rest:match('^%s+') or rest
  elseif kind == 'line' then
    piece = rest:match('^\n[^\n]*') or rest:match('^[^\n]+') or rest
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local lines = vim.split(piece, '\n', { plain = true })
  vim.api.nvim_buf_set_text(st.buf, row, col, row, col, lines)
  local end_row = row + #lines - 1
  local end_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  if piece == rest then
    M.clear() -- all of it taken: the next keystroke (or the text change) starts over
  else
    st.typed = st.typed .. piece
    H.render()
  end
  return true
end

--- What is shown, for tests and the statusline: selected label, entries.
function M.snapshot()
  local st = H.state
  if not st then return nil end
  local sel = st.selected and st.entries[st.selected]
  return {
    seq = st.seq,
    typed = st.typed,
    selected = sel and sel.label or nil,
    selected_text = sel and sel.text:sub(#st.typed + 1) or nil,
    entries = vim.deepcopy(st.entries),
  }
end

-- Helper functionality ========================================================

function H.opt(name)
  local config = require('hexai.completion').config or {}
  return config[name]
end

--- Text between the anchor and the cursor, or nil when the cursor is elsewhere.
function H.typed_text(st)
  if not vim.api.nvim_buf_is_valid(st.buf) or vim.api.nvim_get_current_buf() ~= st.buf then
    return nil
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  if row < st.row or (row == st.row and col < st.col) or row - st.row > 200 then return nil end
  local ok, parts = pcall(vim.api.nvim_buf_get_text, st.buf, st.row, st.col, row, col, {})
  if not ok then return nil end
  return table.concat(parts, '\n')
end

--- Entries with a suggestion still matching what was typed, in arrival order.
function H.shown(st)
  local out = {}
  for _, i in ipairs(st.arrival) do
    local e = st.entries[i]
    if e.status == 'ok' and #st.typed < #e.text and vim.startswith(e.text, st.typed) then
      out[#out + 1] = i
    end
  end
  return out
end

function H.ensure_selection(st)
  local shown = H.shown(st)
  for _, i in ipairs(shown) do
    if i == st.selected then return end
  end
  st.selected = shown[1]
end

function H.tag(e)
  if e.status == 'pending' then return '[' .. e.label .. ' …]' end
  local ms = e.ms and (' ' .. e.ms .. ' ms') or ''
  return '[' .. e.label .. ms .. ']'
end

function H.split(text) return vim.split(text, '\n', { plain = true }) end

function H.render()
  local st = H.state
  if not st or not vim.api.nvim_buf_is_valid(st.buf) then return end
  vim.api.nvim_buf_clear_namespace(st.buf, M.ns, 0, -1)
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local layout = H.opt('layout') or 'stack'
  local max_lines = H.opt('max_lines') or 12
  local other_max = H.opt('other_max_lines') or 3
  local shown = H.shown(st)
  local indent = (vim.api.nvim_buf_get_lines(st.buf, row, row + 1, false)[1] or ''):match('^%s*')

  local inline, virt_lines, eol = nil, {}, {}
  local sel = st.selected and st.entries[st.selected]
  if sel then
    local lines = H.split(sel.text:sub(#st.typed + 1))
    if lines[1] ~= '' then inline = { { lines[1], 'HexaiSuggestion' } } end
    local last = math.min(#lines, max_lines)
    for k = 2, last do virt_lines[#virt_lines + 1] = { { lines[k], 'HexaiSuggestion' } } end
    if #lines > last then
      virt_lines[#virt_lines + 1] = { { ('… %d more lines'):format(#lines - last), 'HexaiPending' } }
    end
    if layout == 'cycle' then
      local pos = 1
      for k, i in ipairs(shown) do
        if i == st.selected then pos = k end
      end
      eol[#eol + 1] = { (' (%d/%d %s)'):format(pos, #shown, sel.label), 'HexaiLabel' }
    else
      eol[#eol + 1] = { ' ' .. H.tag(sel), 'HexaiLabel' }
    end
  end

  if layout == 'cycle' then
    local pending = 0
    for _, e in pairs(st.entries) do
      if e.status == 'pending' then pending = pending + 1 end
    end
    if pending > 0 then eol[#eol + 1] = { (' +%d pending'):format(pending), 'HexaiPending' } end
  else
    for i = 1, table.maxn(st.entries) do
      local e = st.entries[i]
      if e and i ~= st.selected then H.entry_lines(st, e, indent, other_max, virt_lines) end
    end
  end
  if st.problem then
    virt_lines[#virt_lines + 1] = { { indent .. '[hexai] ' .. st.problem, 'HexaiErrorDim' } }
  end

  if inline or #virt_lines > 0 then
    vim.api.nvim_buf_set_extmark(st.buf, M.ns, row, col, {
      virt_text = inline,
      virt_text_pos = inline and 'inline' or nil,
      virt_lines = #virt_lines > 0 and virt_lines or nil,
      hl_mode = 'combine',
      right_gravity = false,
    })
  end
  if #eol > 0 then
    vim.api.nvim_buf_set_extmark(st.buf, M.ns, row, 0, {
      virt_text = eol, virt_text_pos = 'eol', hl_mode = 'combine',
    })
  end
end

--- The labelled virtual lines of one non-selected entry.
function H.entry_lines(st, e, indent, max, out)
  local tag = H.tag(e)
  if e.status == 'ok' then
    if not (#st.typed < #e.text and vim.startswith(e.text, st.typed)) then return end
    local lines = H.split(e.text:sub(#st.typed + 1))
    out[#out + 1] = { { indent .. tag .. ' ', 'HexaiLabel' }, { lines[1], 'HexaiSuggestion' } }
    local pad = indent .. string.rep(' ', vim.fn.strdisplaywidth(tag) + 1)
    for k = 2, math.min(#lines, max) do
      out[#out + 1] = { { pad .. lines[k], 'HexaiSuggestion' } }
    end
    if #lines > max then
      out[#out + 1] = { { pad .. ('… %d more lines'):format(#lines - max), 'HexaiPending' } }
    end
  elseif e.status == 'pending' then
    out[#out + 1] = { { indent .. tag, 'HexaiPending' } }
  elseif e.status == 'error' then
    local msg = e.error_kind or 'error'
    if e.error_message and e.error_message ~= '' then msg = msg .. ': ' .. e.error_message end
    -- Dim: a failed entry is information next to the others' suggestions, not an alarm.
    out[#out + 1] = { { indent .. tag .. ' ', 'HexaiLabel' }, { msg, 'HexaiErrorDim' } }
  elseif e.status == 'empty' then
    out[#out + 1] = { { indent .. tag .. ' ', 'HexaiLabel' }, { '(no suggestion)', 'HexaiPending' } }
  end
end

return M
