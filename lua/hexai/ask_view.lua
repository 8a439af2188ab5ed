--- hexai.ask_view: draws the results of :HexaiAsk (no decisions, no RPC).
---
--- The model is a list of sections, one per entry, owned by `hexai.ask`:
---   { label, status, truncated, lines = { 'text', ... }, stats = '...', error_kind,
---     error_message, error_status, score = { ttft, total, rate, stop } }
--- `status` and the error fields are the host's entry state
--- (hexai_nvim/surfaces/entry_state.py), the one vocabulary of every surface:
--- `pending`, `streaming`, `ok`, `empty`, `error`, `cancelled`.
--- `lines` is the streamed text split at newlines (the last line may still grow);
--- `score` holds the figures of an entry that is over, formatted by the host.
---
--- What is on screen:
---   - the scoreboard, a small window on top with one line per entry: number,
---     label, state, time to first token, total, tokens/s, the fastest marked
---     (lines never wrap); its winbar holds the question, once;
---   - the answers below it, in one of two layouts:
---     `stacked`: one buffer, one section after the other (config order), each a
---     header line, the text, and a blank separator line;
---     `columns`: one window (and buffer) per section, side by side, each
---     starting with its header line.
--- Header lines are cut to the width of their window (never wrapped into the
--- text); the scoreboard has the full figures.
---
--- Windows: the view only ever reuses its own windows, and only while they
--- still show one of its buffers; a window where the person opened a file is
--- left alone. On |VimResized| the view takes its share of the screen again
--- and the columns get equal widths.
---
--- Appending text touches only the last line of a section and the new lines,
--- so a long answer costs the same per update as a short one.
local M = {}
local H = {}

local scratch = require('hexai.scratch')

M.ns = vim.api.nvim_create_namespace('hexai_ask')

--- Per-view state: `sections` (the model, shared with hexai.ask), `layout`,
--- `stack_buf`, `col_bufs[i]`, `wins` (the answers' windows), `score_buf`,
--- `score_win`, `fastest` (section number), `opts` (height, focus, on_buffer ...).
H.view = { sections = {}, layout = 'stacked', col_bufs = {}, wins = {}, prompt = '' }

--- The word shown for an entry's status (an error after some text reads `truncated`).
H.status_text = {
  pending = 'waiting…',
  streaming = 'streaming…',
  ok = 'done',
  empty = 'empty',
  error = 'error',
  cancelled = 'cancelled',
}

H.status_hl = {
  pending = 'HexaiPending',
  streaming = 'HexaiPending',
  ok = 'HexaiAskDone',
  empty = 'HexaiError',
  error = 'HexaiError',
  cancelled = 'HexaiPending',
}

H.SEP = ' · '

-- Module definition ===========================================================

--- Start showing a new ask: `sections` is the model (kept by reference).
---@param sections table[]
---@param layout string 'stacked'|'columns'|'auto'
---@param opts table { prompt, height, focus, min_column_width, hint, on_buffer = function(buf) (maps keys) }
function M.open(sections, layout, opts)
  local was_open = M.is_open()
  H.view.sections = sections
  H.view.opts = opts or {}
  H.view.prompt = (opts or {}).prompt or ''
  H.view.blind = (opts or {}).blind == true
  H.view.fastest = nil
  H.view.layout = M.resolve_layout(layout, #sections, H.view.opts.min_column_width)
  H.windows()
  M.render_all()
  -- A new ask starts at the top (the buffers stay between asks, and a window
  -- opened on one again would go back to where the last ask was left).
  for _, win in ipairs(H.view.wins) do
    if H.ours(win) then
      vim.api.nvim_win_call(win, function() vim.fn.winrestview({ lnum = 1, col = 0, topline = 1 }) end)
    end
  end
  if not was_open and H.view.opts.hint then H.echo_hint(H.view.opts.hint) end
end

--- `auto`: columns when every section gets `min_width` cells (60 by default)
--- side by side, else stacked.
function M.resolve_layout(layout, n, min_width)
  if layout == 'stacked' or layout == 'columns' then return layout end
  min_width = min_width or 60
  if n >= 2 and vim.o.columns >= n * min_width + (n - 1) then return 'columns' end
  return 'stacked'
end

--- Whether the view has a window on screen.
function M.is_open()
  for _, win in ipairs(H.view.wins) do
    if H.ours(win) then return true end
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
  local wins = vim.list_extend({ H.view.score_win }, H.view.wins)
  H.view.wins = {}
  H.view.score_win = nil
  for _, win in ipairs(wins) do
    if H.ours(win, true) then
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
      vim.list_extend(lines, H.section_lines(sec, v.stack_buf))
      table.insert(lines, '')
    end
    H.set_lines(v.stack_buf, 0, -1, lines)
    vim.api.nvim_buf_clear_namespace(v.stack_buf, M.ns, 0, -1)
    for i in ipairs(v.sections) do H.decorate(i) end
  else
    for i, sec in ipairs(v.sections) do
      local buf = v.col_bufs[i]
      H.set_lines(buf, 0, -1, H.section_lines(sec, buf))
      vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
      H.decorate(i)
    end
  end
  H.render_scoreboard()
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
  if not buf or sec.error_kind then
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
  H.set_lines(buf, top, top + 1, { H.header(sec, buf) })
  H.decorate(i)
  H.render_scoreboard()
end

--- Redraw section `i` entirely (header, text, error block).
function M.render_section(i)
  local sec = H.view.sections[i]
  local buf, top = H.target(i)
  if not sec or not buf then return end
  local old_rows = sec.rows or 1
  local lines = H.section_lines(sec, buf)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, top, top + 1 + old_rows)
  H.set_lines(buf, top, top + 1 + old_rows, lines)
  H.decorate(i)
  H.render_scoreboard()
end

--- Blind mode on or off (the winbar says so while it is on).
function M.set_blind(on)
  H.view.blind = on
  H.refresh_winbar()
end

--- Mark section `i` as the fastest answer.
function M.set_fastest(i)
  H.view.fastest = i
  H.render_scoreboard()
end

--- The section (1-based) under the cursor of the current window, if in the view.
function M.section_at_cursor()
  local v = H.view
  local win = vim.api.nvim_get_current_win()
  local buf = vim.api.nvim_win_get_buf(win)
  if buf == v.score_buf then
    local row = vim.api.nvim_win_get_cursor(win)[1]
    return v.sections[row] and row or nil
  end
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

--- Put the cursor on the header of section `i`, at the top of its window.
function M.focus_section(i)
  local buf, top = H.target(i)
  if not buf then return end
  for _, win in ipairs(H.view.wins) do
    if vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_set_current_win(win)
      pcall(vim.api.nvim_win_set_cursor, win, { top + 1, 0 })
      vim.cmd('normal! zt')
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

--- A float listing `keys` ({ { lhs, description } }); q, <Esc> or ? closes it.
function M.show_keys(keys)
  local width, rows = 0, {}
  for _, k in ipairs(keys) do width = math.max(width, vim.fn.strdisplaywidth(k[1])) end
  for _, k in ipairs(keys) do
    rows[#rows + 1] = ' ' .. k[1] .. string.rep(' ', width - vim.fn.strdisplaywidth(k[1])) .. '  ' .. k[2]
  end
  local buf = scratch.create('hexai://ask/keys', 'hexaikeys', 'wipe')
  H.set_lines(buf, 0, -1, rows)
  local w = 0
  for _, r in ipairs(rows) do w = math.max(w, vim.fn.strdisplaywidth(r) + 1) end
  w = math.min(w, vim.o.columns - 4)
  local h = math.min(#rows, vim.o.lines - 4)
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor', style = 'minimal', border = 'rounded',
    row = math.max(0, math.floor((vim.o.lines - h) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - w) / 2)),
    width = math.max(w, 1), height = math.max(h, 1),
    title = ' hexai ask: keys ', title_pos = 'center',
  })
  local function close() pcall(vim.api.nvim_win_close, win, true) end
  for _, lhs in ipairs({ 'q', '<Esc>', '?', '<CR>' }) do
    vim.keymap.set('n', lhs, close, { buffer = buf, nowait = true, desc = 'hexai: close the list' })
  end
  vim.api.nvim_create_autocmd('WinLeave', { buffer = buf, once = true, callback = close })
  return win
end

--- Buffers and windows of the view (for tests and :HexaiAskDiff).
function M.info()
  local v = H.view
  local wins = vim.tbl_filter(vim.api.nvim_win_is_valid, v.wins)
  local score_win = v.score_win and vim.api.nvim_win_is_valid(v.score_win) and v.score_win or nil
  return {
    layout = v.layout, wins = wins, stack_buf = v.stack_buf, col_bufs = v.col_bufs,
    score_buf = v.score_buf, score_win = score_win,
  }
end

-- Helper functionality ========================================================

H.clip = require('hexai').clip

--- The state as shown: `error (auth)`, `truncated (timeout)`, `done` ...
function H.state_label(sec)
  local text = (sec.status == 'error' and sec.truncated) and 'truncated'
    or H.status_text[sec.status] or sec.status
  local kind = sec.error_kind
  if kind and kind ~= text then text = text .. ' (' .. kind .. ')' end
  return text
end

--- The state word of a section as the view draws it (`done`, `error (auth)` ...).
function M.state_label(sec) return H.state_label(sec) end

--- Still running: asked and not over.
function H.running(sec) return sec.status == 'pending' or sec.status == 'streaming' end

--- The header line of a section, cut to the width of the window showing `buf`.
function H.header(sec, buf)
  local parts = { '## ' .. sec.label, H.state_label(sec) }
  if sec.stats and sec.stats ~= '' and not H.running(sec) then
    table.insert(parts, sec.stats)
  end
  return H.clip(table.concat(parts, H.SEP), H.text_width(buf))
end

--- Text width of a window that shows `buf` (nil when none does).
--- Cells a scoreboard line has (nil when the scoreboard has no window).
function H.score_width()
  local win = H.view.score_win
  if not (win and vim.api.nvim_win_is_valid(win)) then return nil end
  local info = vim.fn.getwininfo(win)[1]
  return vim.api.nvim_win_get_width(win) - ((info and info.textoff) or 0)
end

function H.text_width(buf)
  for _, win in ipairs(H.view.wins) do
    if vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == buf then
      local info = vim.fn.getwininfo(win)[1]
      return vim.api.nvim_win_get_width(win) - ((info and info.textoff) or 0)
    end
  end
  return nil
end

--- The error block under the text: the provider's message, line by line.
function H.error_lines(sec)
  if not sec.error_kind then return {} end
  local message = H.error_message(sec)
  local lines = vim.split(('✗ %s: %s'):format(sec.error_kind, message), '\n', { plain = true })
  return lines
end

function H.error_message(sec)
  local message = sec.error_message or ''
  if sec.error_status then
    message = 'HTTP ' .. tostring(sec.error_status) .. ': ' .. message
  end
  return message
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

function H.section_lines(sec, buf)
  local body = H.body(sec)
  sec.rows = #body
  local lines = { H.header(sec, buf) }
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

function H.mark(buf, row, from, to, group)
  pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, row, from, { end_col = to, hl_group = group, priority = 200 })
end

function H.decorate(i)
  local sec = H.view.sections[i]
  local buf, top = H.target(i)
  if not sec or not buf then return end
  vim.api.nvim_buf_clear_namespace(buf, M.ns, top, top + 1)
  local header = vim.api.nvim_buf_get_lines(buf, top, top + 1, false)[1] or ''
  local n = #header
  local label_end = math.min(3 + #sec.label, n)
  H.mark(buf, top, 0, n, 'HexaiAskHeader')
  H.mark(buf, top, math.min(3, n), label_end, 'HexaiLabel')
  local state_start = math.min(label_end + #H.SEP, n)
  local state_end = header:find(H.SEP, state_start + 1, true)
  H.mark(buf, top, state_start, (state_end and state_end - 1) or n, H.status_hl[sec.status] or 'HexaiPending')
  if state_end then H.mark(buf, top, state_end + #H.SEP - 1, n, 'HexaiAskStats') end
  if sec.error_kind then
    local errs = H.error_lines(sec)
    local last = top + sec.rows
    for row = last - #errs + 1, last do
      pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, row, 0, { line_hl_group = 'HexaiError', priority = 200 })
    end
  end
end

--- One line per entry: number, the fastest mark, label, state, figures (or
--- the error), how it ended when the model did not simply finish. Columns are
--- aligned over the entries; an error's state and message never widen them.
function H.render_scoreboard()
  local v = H.view
  local buf = v.score_buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then return end
  local cells, widths = {}, { 0, 0, 0, 0, 0, 0 }
  local function width(s) return vim.fn.strdisplaywidth(s) end
  for i, sec in ipairs(v.sections) do
    local score = type(sec.score) == 'table' and sec.score or {}
    local function figure(name, prefix)
      local value = score[name]
      return (value and value ~= vim.NIL) and (prefix .. value) or ''
    end
    local row = { tostring(i), sec.label, H.state_label(sec), '', '', '' }
    local is_error = sec.status == 'error' and not sec.truncated
    if is_error and sec.error_kind then
      row[4] = H.error_message(sec):gsub('\n.*', ' …')
    elseif not H.running(sec) then
      row[4], row[5], row[6] = figure('ttft', 'ttft '), figure('total', 'total '), figure('rate', '')
    end
    cells[i] = row
    for c = 1, 6 do
      if not (is_error and c >= 3) then widths[c] = math.max(widths[c], width(row[c])) end
    end
  end
  local lines, marks = {}, {}
  local room = H.score_width()
  for i, row in ipairs(cells) do
    local sec = v.sections[i]
    local text, spans = '', {}
    local function add(cell, group, pad_to)
      local start = #text
      text = text .. cell
      if group and #cell > 0 then spans[#spans + 1] = { start, #text, group } end
      if pad_to then text = text .. string.rep(' ', math.max(0, pad_to - width(cell))) .. '  ' end
    end
    add(row[1], 'HexaiAskStats', widths[1])
    text = text:sub(1, -2)
    add(v.fastest == i and '★' or ' ', 'HexaiAskDone')
    text = text .. ' '
    add(row[2], 'HexaiLabel', widths[2])
    if sec.status == 'error' and not sec.truncated then
      add(row[3], H.status_hl[sec.status], row[4] ~= '' and 0 or nil)
      add(row[4], 'HexaiError')
    else
      add(row[3], H.status_hl[sec.status] or 'HexaiPending', widths[3])
      add(row[4], 'HexaiAskStats', widths[4])
      add(row[5], 'HexaiAskStats', widths[5])
      add(row[6], 'HexaiAskStats', widths[6])
      local stop = type(sec.score) == 'table' and sec.score.stop
      if stop and stop ~= vim.NIL and sec.status ~= 'cancelled' then add(stop, 'HexaiError') end
    end
    -- Cut to the window, ending in "…" (it does not wrap; an error's whole
    -- text is in its answer's block).
    lines[i] = H.clip((text:gsub('%s+$', '')), room)
    marks[i] = spans
  end
  H.set_lines(buf, 0, -1, lines)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  for i, spans in ipairs(marks) do
    for _, s in ipairs(spans) do H.mark(buf, i - 1, s[1], math.min(s[2], #lines[i]), s[3]) end
  end
  H.refresh_winbar()
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

function H.scratch(name, filetype)
  local buf = scratch.create(name, filetype or 'markdown')
  vim.b[buf].hexai_ask = true
  local on_buffer = (H.view.opts or {}).on_buffer
  if on_buffer then on_buffer(buf) end
  return buf
end

function H.buffers()
  local v = H.view
  if not (v.score_buf and vim.api.nvim_buf_is_valid(v.score_buf)) then
    v.score_buf = H.scratch('hexai://ask/scoreboard', 'hexaiscore')
  end
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

--- A window of the view on the current tab page that still shows one of the
--- view's buffers (`any_tab`: on any tab page).
function H.ours(win, any_tab)
  if not (win and vim.api.nvim_win_is_valid(win)) then return false end
  if not any_tab and vim.api.nvim_win_get_tabpage(win) ~= vim.api.nvim_get_current_tabpage() then
    return false
  end
  return vim.b[vim.api.nvim_win_get_buf(win)].hexai_ask == true
end

--- The scoreboard's winbar: the question (once for the whole view), what ★
--- means once an answer has it, and `?`.
function H.winbar()
  local prompt = H.view.prompt:gsub('\n.*', ' …'):gsub('%%', '%%%%')
  local right = {}
  if H.view.blind then
    local vote = (H.view.opts or {}).vote_key
    local how = vote and (' · ' .. vote:gsub('%%', '%%%%') .. ' votes and reveals') or ''
    table.insert(right, '%#HexaiPending#blind' .. how)
  end
  if H.view.fastest then table.insert(right, '%#HexaiAskDone#★%#Comment# fastest') end
  local help = (H.view.opts or {}).help_key
  if help then table.insert(right, '%#Comment#' .. help:gsub('%%', '%%%%') .. ' keys') end
  local tail = #right > 0 and ('%=' .. table.concat(right, '  ') .. ' %*') or ''
  return '%#HexaiLabel#hexai ask%* ' .. prompt .. tail
end

function H.refresh_winbar()
  local win = H.view.score_win
  if win and vim.api.nvim_win_is_valid(win) then
    pcall(function() vim.wo[win].winbar = H.winbar() end)
  end
end

function H.window_options(win, score)
  local wo = vim.wo[win]
  wo.wrap = not score
  wo.linebreak = true
  wo.number = false
  wo.relativenumber = false
  wo.signcolumn = 'no'
  wo.foldcolumn = '0'
  wo.spell = false
  wo.list = false
  wo.winfixheight = true
  if score then
    wo.cursorline = true
    pcall(function() wo.winbar = H.winbar() end)
  end
end

--- Rows the whole view takes (scoreboard and answers, status lines included).
function H.total_height()
  local height = (H.view.opts or {}).height or 0.5
  if height < 1 then height = math.floor(vim.o.lines * height) end
  return math.max(#H.view.sections + 6, math.floor(height))
end

--- Open (or reuse) the windows of the current layout.
function H.windows()
  local v = H.view
  local bufs = H.buffers()
  local bodies = vim.tbl_filter(function(w) return H.ours(w) end, v.wins)
  local score_win = H.ours(v.score_win) and vim.api.nvim_win_get_buf(v.score_win) == v.score_buf
    and v.score_win or nil
  if score_win then bodies = vim.tbl_filter(function(w) return w ~= score_win end, bodies) end
  -- Reuse the view when it still has the same windows.
  if score_win and #bodies == #bufs then
    for i, win in ipairs(bodies) do
      vim.api.nvim_win_set_buf(win, bufs[i])
      H.window_options(win, false)
    end
    H.window_options(score_win, true)
    v.wins = bodies
    H.balance()
    return
  end
  local mine = vim.list_extend(score_win and { score_win } or {}, bodies)
  -- One of our windows may stay (as the first answer window) only when the
  -- view is all that is on the tab page; otherwise open a fresh split.
  local others = false
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if not vim.tbl_contains(mine, win) and vim.api.nvim_win_get_config(win).relative == '' then
      others = true
    end
  end
  local anchor = (not others) and mine[1] or nil
  for _, win in ipairs(mine) do
    if win ~= anchor then pcall(vim.api.nvim_win_close, win, true) end
  end
  local first = anchor
  if first then
    vim.api.nvim_win_set_buf(first, bufs[1])
  else
    first = vim.api.nvim_open_win(bufs[1], false, { split = 'below', win = -1, height = H.total_height() - 1 })
  end
  v.score_win = vim.api.nvim_open_win(v.score_buf, false,
    { split = 'above', win = first, height = math.max(1, #v.sections) + 1 })
  H.window_options(v.score_win, true)
  v.wins = { first }
  H.window_options(first, false)
  local prev = first
  for i = 2, #bufs do
    prev = vim.api.nvim_open_win(bufs[i], false, { split = 'right', win = prev })
    H.window_options(prev, false)
    table.insert(v.wins, prev)
  end
  H.balance()
  if (v.opts or {}).focus ~= false then vim.api.nvim_set_current_win(first) end
end

--- Sizes: the scoreboard one row per entry, the answers the rest of the
--- view's share of the screen, the columns equal widths (within one cell).
function H.balance()
  local v = H.view
  -- The scoreboard's height counts its winbar.
  local n = math.max(1, #v.sections) + 1
  local wins = vim.tbl_filter(vim.api.nvim_win_is_valid, v.wins)
  if #wins == 0 then return end
  -- The status lines of the scoreboard and of the answers.
  local body = math.max(3, H.total_height() - n - 2)
  pcall(vim.api.nvim_win_set_height, wins[1], body)
  if v.score_win and vim.api.nvim_win_is_valid(v.score_win) then
    pcall(vim.api.nvim_win_set_height, v.score_win, n)
  end
  if #wins > 1 then
    local total = 0
    for _, win in ipairs(wins) do total = total + vim.api.nvim_win_get_width(win) end
    local base, extra = math.floor(total / #wins), total % #wins
    for k = 1, #wins - 1 do
      pcall(vim.api.nvim_win_set_width, wins[k], base + (k <= extra and 1 or 0))
    end
  end
end

--- The one-line hint, cut to the room of the message area (no hit-enter).
function H.echo_hint(hint)
  local room = math.max(0, (vim.v.echospace or vim.o.columns - 12) - 1)
  vim.api.nvim_echo({ { H.clip(hint, room), 'Comment' } }, false, {})
end

vim.api.nvim_create_autocmd('VimResized', {
  group = vim.api.nvim_create_augroup('hexai.ask_view', { clear = true }),
  callback = function()
    if not M.is_open() then return end
    H.balance()
    for i in ipairs(H.view.sections) do M.render_header(i) end
  end,
})

return M
