--- hexai.ask_view: draws the results of :HexaiAsk (no decisions, no RPC).
---
--- The model is a list of sections, one per entry, owned by `hexai.ask`:
---   { label, state, lines = { 'text', ... }, stats = '...', error = { kind, message } }
--- `lines` is the streamed text split at newlines (the last line may still grow).
---
--- Layouts:
---   - `stacked`: one buffer, one section after the other (config order), each a
---     header line, the text, and a blank separator line;
---   - `columns`: one window (and buffer) per section, side by side, each
---     starting with its header line.
--- Appending text touches only the last line of a section and the new lines,
--- so a long answer costs the same per update as a short one.
local M = {}
local H = {}

local scratch = require('hexai.scratch')

M.ns = vim.api.nvim_create_namespace('hexai_ask')

--- Per-view state: `sections` (the model, shared with hexai.ask), `layout`,
--- `stack_buf`, `col_bufs[i]`, `wins` (list), `opts` (height, focus, on_keys).
H.view = { sections = {}, layout = 'stacked', col_bufs = {}, wins = {}, prompt = '' }

H.state_text = {
  waiting = 'waiting…',
  streaming = 'streaming…',
  done = 'done',
  truncated = 'truncated',
  error = 'error',
  cancelled = 'cancelled',
}

H.state_hl = {
  waiting = 'HexaiPending',
  streaming = 'HexaiPending',
  done = 'HexaiAskDone',
  truncated = 'HexaiError',
  error = 'HexaiError',
  cancelled = 'HexaiPending',
}

-- Module definition ===========================================================

--- Start showing a new ask: `sections` is the model (kept by reference).
---@param sections table[]
---@param layout string 'stacked'|'columns'
---@param opts table { prompt, height, focus, on_buffer = function(buf) (maps keys) }
function M.open(sections, layout, opts)
  H.view.sections = sections
  H.view.layout = layout == 'columns' and 'columns' or 'stacked'
  H.view.opts = opts or {}
  H.view.prompt = (opts or {}).prompt or ''
  H.windows()
  M.render_all()
end

--- Whether the view has a window on screen.
function M.is_open()
  for _, win in ipairs(H.view.wins) do
    if vim.api.nvim_win_is_valid(win) then return true end
  end
  return false
end

function M.layout() return H.view.layout end

--- Show the same sections in the other layout (or in `layout`).
function M.set_layout(layout)
  local current = M.section_at_cursor()
  M.close()
  H.view.layout = layout or (H.view.layout == 'stacked' and 'columns' or 'stacked')
  H.windows()
  M.render_all()
  if current then M.focus_section(current) end
end

--- Close every window of the view (the buffers stay for the next ask).
function M.close()
  local wins = H.view.wins
  H.view.wins = {}
  for _, win in ipairs(wins) do
    if vim.api.nvim_win_is_valid(win) then
      if #vim.api.nvim_list_wins() > 1 then
        pcall(vim.api.nvim_win_close, win, true)
      else
        -- The last window of Neovim: show an empty buffer instead of quitting.
        vim.api.nvim_win_call(win, function() vim.cmd('enew') end)
      end
    end
  end
end

--- Draw every section from the model (new ask, layout switch).
function M.render_all()
  local v = H.view
  if v.layout == 'stacked' then
    local lines = {}
    for _, sec in ipairs(v.sections) do
      vim.list_extend(lines, H.section_lines(sec))
      table.insert(lines, '')
    end
    H.set_lines(v.stack_buf, 0, -1, lines)
    vim.api.nvim_buf_clear_namespace(v.stack_buf, M.ns, 0, -1)
    for i in ipairs(v.sections) do H.decorate(i) end
  else
    for i, sec in ipairs(v.sections) do
      local buf = v.col_bufs[i]
      H.set_lines(buf, 0, -1, H.section_lines(sec))
      vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
      H.decorate(i)
    end
  end
end

--- Add `text` to section `i` (its model lines are updated here).
function M.append(i, text)
  local sec = H.view.sections[i]
  if not sec or text == nil or text == '' then return end
  local lines = sec.lines
  local old_n = #lines
  local parts = vim.split(text, '\n', { plain = true })
  lines[old_n] = lines[old_n] .. parts[1]
  for j = 2, #parts do lines[#lines + 1] = parts[j] end
  local buf, top = H.target(i)
  if not buf or sec.error then
    -- An error block follows the text: redraw the section as a whole.
    if buf then M.render_section(i) end
    return
  end
  local first = top + 1 + old_n - 1
  local follow = H.following(buf, first)
  H.set_lines(buf, first, first + 1, vim.list_slice(lines, old_n, #lines))
  sec.rows = #lines
  if follow then H.scroll_to_end(buf) end
end

--- Redraw the header of section `i` (state or stats changed).
function M.render_header(i)
  local sec = H.view.sections[i]
  local buf, top = H.target(i)
  if not sec or not buf then return end
  H.set_lines(buf, top, top + 1, { H.header(sec) })
  H.decorate(i)
end

--- Redraw section `i` entirely (header, text, error block).
function M.render_section(i)
  local sec = H.view.sections[i]
  local buf, top = H.target(i)
  if not sec or not buf then return end
  local old_rows = sec.rows or 1
  local lines = H.section_lines(sec)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, top, top + 1 + old_rows)
  H.set_lines(buf, top, top + 1 + old_rows, lines)
  H.decorate(i)
end

--- The section (1-based) under the cursor of the current window, if in the view.
function M.section_at_cursor()
  local v = H.view
  local win = vim.api.nvim_get_current_win()
  local buf = vim.api.nvim_win_get_buf(win)
  if v.layout == 'columns' then
    for i, b in ipairs(v.col_bufs) do
      if b == buf and i <= #v.sections then return i end
    end
    return nil
  end
  if buf ~= v.stack_buf then return nil end
  local row = vim.api.nvim_win_get_cursor(win)[1] - 1
  local top = 0
  for i, sec in ipairs(v.sections) do
    local size = 1 + H.body_rows(sec) + 1
    if row < top + size then return i end
    top = top + size
  end
  return #v.sections > 0 and #v.sections or nil
end

--- Put the cursor on the header of section `i`.
function M.focus_section(i)
  local buf, top = H.target(i)
  if not buf then return end
  for _, win in ipairs(H.view.wins) do
    if vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_set_current_win(win)
      pcall(vim.api.nvim_win_set_cursor, win, { top + 1, 0 })
      return
    end
  end
end

--- Move to the next (`step` = 1) or previous (-1) section.
function M.jump(step)
  local i = M.section_at_cursor()
  if not i then return end
  local n = #H.view.sections
  M.focus_section(((i - 1 + step) % n) + 1)
end

--- Buffers and windows of the view (for tests and :HexaiAskDiff).
function M.info()
  local v = H.view
  local wins = vim.tbl_filter(vim.api.nvim_win_is_valid, v.wins)
  return { layout = v.layout, wins = wins, stack_buf = v.stack_buf, col_bufs = v.col_bufs }
end

-- Helper functionality ========================================================

function H.header(sec)
  local parts = { '## ' .. sec.label, H.state_text[sec.state] or sec.state }
  if sec.error and sec.error.kind then parts[2] = parts[2] .. ' (' .. sec.error.kind .. ')' end
  if sec.stats and sec.stats ~= '' and sec.state ~= 'waiting' and sec.state ~= 'streaming' then
    table.insert(parts, sec.stats)
  end
  return table.concat(parts, ' · ')
end

--- The error block under the text: the provider's message, line by line.
function H.error_lines(sec)
  if not sec.error then return {} end
  local message = sec.error.message or ''
  if sec.error.status and sec.error.status ~= vim.NIL then
    message = 'HTTP ' .. tostring(sec.error.status) .. ': ' .. message
  end
  local lines = vim.split(('✗ %s: %s'):format(sec.error.kind or 'error', message), '\n', { plain = true })
  return lines
end

function H.body(sec)
  local body = vim.list_slice(sec.lines)
  local errs = H.error_lines(sec)
  if #errs > 0 then
    if #body == 1 and body[1] == '' then
      body = {}
    else
      table.insert(body, '')
    end
    vim.list_extend(body, errs)
  end
  if #body == 0 then body = { '' } end
  return body
end

function H.body_rows(sec) return sec.rows or #H.body(sec) end

function H.section_lines(sec)
  local body = H.body(sec)
  sec.rows = #body
  local lines = { H.header(sec) }
  vim.list_extend(lines, body)
  return lines
end

--- Buffer and header row of section `i` in the current layout.
function H.target(i)
  local v = H.view
  if v.layout == 'columns' then
    local buf = v.col_bufs[i]
    if buf and vim.api.nvim_buf_is_valid(buf) then return buf, 0 end
    return nil
  end
  if not (v.stack_buf and vim.api.nvim_buf_is_valid(v.stack_buf)) then return nil end
  local top = 0
  for j = 1, i - 1 do
    top = top + 1 + H.body_rows(v.sections[j]) + 1
  end
  return v.stack_buf, top
end

function H.decorate(i)
  local sec = H.view.sections[i]
  local buf, top = H.target(i)
  if not sec or not buf then return end
  vim.api.nvim_buf_clear_namespace(buf, M.ns, top, top + 1)
  local header = H.header(sec)
  local label_start = 3
  local label_end = label_start + #sec.label
  local set = function(from, to, group)
    pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, top, from, { end_col = to, hl_group = group, priority = 200 })
  end
  set(0, #header, 'HexaiAskHeader')
  set(label_start, label_end, 'HexaiLabel')
  local state_start = label_end + #' · '
  local state_end = header:find(' · ', state_start + 1, true)
  set(state_start, (state_end and state_end - 1) or #header, H.state_hl[sec.state] or 'HexaiPending')
  if state_end then set(state_end + #' · ' - 1, #header, 'HexaiAskStats') end
  if sec.error then
    local errs = H.error_lines(sec)
    local last = top + sec.rows
    for row = last - #errs + 1, last do
      pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, row, 0, { line_hl_group = 'HexaiError', priority = 200 })
    end
  end
end

H.set_lines = scratch.set_lines

--- True when a window shows `buf` with its cursor on `row` (0-based) or later:
--- the person is reading the end, so the view follows new text.
function H.following(buf, row)
  for _, win in ipairs(H.view.wins) do
    if vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == buf then
      if H.view.layout == 'columns' and vim.api.nvim_win_get_cursor(win)[1] - 1 >= row then
        return true
      end
    end
  end
  return false
end

function H.scroll_to_end(buf)
  for _, win in ipairs(H.view.wins) do
    if vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == buf then
      pcall(vim.api.nvim_win_set_cursor, win, { vim.api.nvim_buf_line_count(buf), 0 })
    end
  end
end

function H.scratch(name)
  local buf = scratch.create(name, 'markdown')
  vim.b[buf].hexai_ask = true
  local on_buffer = (H.view.opts or {}).on_buffer
  if on_buffer then on_buffer(buf) end
  return buf
end

function H.buffers()
  local v = H.view
  if v.layout == 'stacked' then
    if not (v.stack_buf and vim.api.nvim_buf_is_valid(v.stack_buf)) then
      v.stack_buf = H.scratch('hexai://ask')
    end
    return { v.stack_buf }
  end
  local bufs = {}
  for i = 1, math.max(#v.sections, 1) do
    local buf = v.col_bufs[i]
    if not (buf and vim.api.nvim_buf_is_valid(buf)) then
      buf = H.scratch('hexai://ask/' .. i)
      v.col_bufs[i] = buf
    end
    vim.b[buf].hexai_ask_index = i
    bufs[i] = buf
  end
  return bufs
end

--- Every window of the view shows the question (columns stay aligned).
function H.winbar()
  local prompt = H.view.prompt:gsub('\n.*', ' …'):gsub('%%', '%%%%')
  return '%#HexaiLabel#hexai ask%* ' .. prompt
end

function H.window_options(win, i)
  local wo = vim.wo[win]
  wo.wrap = true
  wo.linebreak = true
  wo.number = false
  wo.relativenumber = false
  wo.signcolumn = 'no'
  wo.foldcolumn = '0'
  wo.spell = false
  wo.list = false
  wo.winfixheight = true
  pcall(function() wo.winbar = H.winbar() end)
end

--- Open (or reuse) the windows of the current layout.
function H.windows()
  local v = H.view
  local bufs = H.buffers()
  local alive = vim.tbl_filter(vim.api.nvim_win_is_valid, v.wins)
  -- Reuse the view when it already has the right number of windows.
  if #alive == #bufs then
    for i, win in ipairs(alive) do
      vim.api.nvim_win_set_buf(win, bufs[i])
      H.window_options(win, i)
    end
    v.wins = alive
    return
  end
  local anchor = alive[1]
  for k = 2, #alive do pcall(vim.api.nvim_win_close, alive[k], true) end
  local opts = v.opts or {}
  local height = opts.height or 0.4
  if height < 1 then height = math.max(5, math.floor(vim.o.lines * height)) end
  if anchor then
    vim.api.nvim_win_set_buf(anchor, bufs[1])
  else
    anchor = vim.api.nvim_open_win(bufs[1], false, { split = 'below', win = -1, height = height })
  end
  v.wins = { anchor }
  H.window_options(anchor, 1)
  local prev = anchor
  for i = 2, #bufs do
    prev = vim.api.nvim_open_win(bufs[i], false, { split = 'right', win = prev })
    H.window_options(prev, i)
    table.insert(v.wins, prev)
  end
  if #v.wins > 1 then
    local total = 0
    for _, win in ipairs(v.wins) do total = total + vim.api.nvim_win_get_width(win) end
    local width = math.floor(total / #v.wins)
    for _, win in ipairs(v.wins) do pcall(vim.api.nvim_win_set_width, win, width) end
  end
  if opts.focus ~= false then vim.api.nvim_set_current_win(anchor) end
end

return M
