--- hexai.ghost: draw every entry's suggestion at the cursor, labelled.
---
--- Layout 'stack' (default): the selected suggestion inline as ghost text
--- (its further lines below), its label at the end of the line, then one
--- labelled virtual line per other entry:
---   [ollama:qwen2.5-coder 140 ms] return a + b
---   [openai:gpt-4.1-mini …]                      (still running)
---   [anthropic:claude 35 ms] auth: HTTP 401 ...   (failed, dim: HexaiErrorDim)
--- Layout 'cycle': only the selected suggestion, annotated `(i/n label 140 ms)`.
---
--- Design:
--- - The cursor stays where the person typed: the inline text sits after it
---   (the extmark has right gravity), so the ruler shows the typed column.
--- - The first suggestion to arrive (or to start streaming) is selected;
---   later arrivals never change the selection (only next/prev do). A
---   streaming suggestion grows with each snapshot and is tagged `…`.
--- - A calm layout: nothing is drawn below the cursor line until the first
---   suggestion arrives (the line's end says how many entries are running);
---   then the space below gets its height at once: the suggestion's further
---   lines plus one line per other entry (`other_max_lines`, default 1),
---   pending ones included, so later arrivals fill their line without moving
---   the code below. The space never shrinks while the cursor stays on that
---   line (blank lines keep it, also between two triggers). A suggestion
---   that is still streaming grows with its lines: that is the text arriving.
--- - Never hidden: when the block does not fit between the cursor line and
---   the window's bottom it is drawn above the cursor line (Neovim scrolls the
---   view to keep the cursor line visible).
--- - The state is anchored where the request was made. Typing that matches
---   the selected suggestion keeps it and shortens it (`typed_through`);
---   suggestions that no longer match are hidden.
--- - Everything is redrawn from the state: one namespace, cleared each time.
--- - Python decides what an entry's line says (`status`, `stats`, error
---   fields of the entry-state value); this module only lays it out.
local M = {}
local H = {}

M.ns = vim.api.nvim_create_namespace('hexai.ghost')

-- Module definition ===========================================================

--- Merge a snapshot from the host (see hexai.completion.on_update) and redraw.
function M.update(snapshot)
  local st = H.state
  if not st or st.seq ~= snapshot.seq then
    local buf = snapshot.buf
    if not buf or buf == 0 then buf = vim.api.nvim_get_current_buf() end
    local space = H.space_for(buf, snapshot.row)
    if st and st.buf == buf and st.row == snapshot.row then space = st end
    if st then M.clear() end
    st = {
      seq = snapshot.seq, buf = buf, row = snapshot.row, col = snapshot.col,
      typed = '', entries = {}, arrival = {}, selected = nil,
      -- Height and side of the comparison block, kept from the last trigger on this line.
      height = space and space.height or 0, above = space and space.above or nil,
    }
    H.state = st
  end
  st.problem = snapshot.problem
  st.done = snapshot.done
  for _, e in ipairs(snapshot.entries or {}) do
    local i = e.index + 1
    local old = st.entries[i]
    st.entries[i] = e
    if H.has_text(e) and not (old and H.has_text(old)) then
      st.arrival[#st.arrival + 1] = i
    end
  end
  local typed = M.typed_since(st)
  if typed == nil then return M.clear() end
  st.typed = typed
  H.ensure_selection(st)
  if snapshot.select ~= nil and not st.select_applied then
    -- Blind mode: the host picked the first suggestion shown at random.
    local e = st.entries[snapshot.select + 1]
    if e and H.matches(st, e) then st.selected, st.select_applied = snapshot.select + 1, true end
  end
  H.render()
end

--- Remove everything drawn and forget the suggestions. With `keep_space`
--- (a keystroke that starts a new trigger on the same line) the comparison
--- block's space stays, blank, so the next trigger's lines do not move the code.
function M.clear(keep_space)
  local st, space = H.state, H.space
  if st then H.report(st) end
  H.state, H.space = nil, nil
  if st and st.height > 0 then
    space = { buf = st.buf, row = st.row, height = st.height, above = st.above }
  end
  local buf = (st and st.buf) or (space and space.buf)
  if not buf or not vim.api.nvim_buf_is_valid(buf) then return end
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  if keep_space and space and vim.api.nvim_get_current_buf() == buf
    and vim.api.nvim_win_get_cursor(0)[1] - 1 == space.row then
    H.space = space
    H.draw_block(buf, space.row, {}, space.height, space.above)
  end
end

--- Whether suggestions (or pending/error lines) are shown.
function M.visible() return H.state ~= nil or H.space ~= nil end

--- The text typed since the request matches a shown suggestion: keep it,
--- shortened. Returns false when the caller should start over.
function M.typed_through(buf)
  local st = H.state
  if not st or st.buf ~= buf then return false end
  local typed = M.typed_since(st)
  if not typed or typed == '' then return false end
  local function fits(i)
    local e = st.entries[i]
    return e and H.has_text(e) and #typed < #e.text and vim.startswith(e.text, typed)
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
  st.action, st.chosen = piece == rest and 'accept' or 'partial', st.selected -- the arena
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

--- Accept entry `n`'s suggestion whole (<M-1>..<M-9>; in blind mode A, B, C...).
function M.accept_entry(n)
  local st = H.state
  local e = st and st.entries[n]
  if not (e and H.matches(st, e)) then return false end
  st.selected = n
  return M.accept()
end

--- The person dismissed the suggestions (the dismiss key): say so in the outcome.
function M.note_dismiss()
  if H.state and not H.state.action then H.state.action = 'dismiss' end
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
    selected_status = sel and sel.status or nil,
    block = { height = st.height, above = st.above or false },
    entries = vim.deepcopy(st.entries),
  }
end

-- Helper data =================================================================

--- Blank space kept on a line between two triggers: { buf, row, height, above }.
H.space = nil

-- Helper functionality ========================================================

function H.opt(name)
  local config = require('hexai.completion').config or {}
  return config[name]
end

--- The space kept by `M.clear(true)` when it is on `buf`'s `row`.
function H.space_for(buf, row)
  local space = H.space
  if space and space.buf == buf and space.row == row then return space end
  return nil
end

--- Whether an entry has text to show (finished or still streaming).
function H.has_text(e)
  return (e.status == 'ok' or e.status == 'streaming') and (e.text or '') ~= ''
end

--- Text between an anchor (`{ buf, row, col }`, 0-based) and the cursor, or
--- nil when the cursor is elsewhere (also used by hexai.arena for the menus).
function M.typed_since(anchor)
  if not vim.api.nvim_buf_is_valid(anchor.buf) or vim.api.nvim_get_current_buf() ~= anchor.buf then
    return nil
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  if row < anchor.row or (row == anchor.row and col < anchor.col) or row - anchor.row > 200 then
    return nil
  end
  local ok, parts = pcall(vim.api.nvim_buf_get_text, anchor.buf, anchor.row, anchor.col, row, col, {})
  if not ok then return nil end
  return table.concat(parts, '\n')
end

function H.matches(st, e)
  return H.has_text(e) and #st.typed < #e.text and vim.startswith(e.text, st.typed)
end

--- Entries with a suggestion still matching what was typed, in arrival order.
function H.shown(st)
  local out = {}
  for _, i in ipairs(st.arrival) do
    if H.matches(st, st.entries[i]) then out[#out + 1] = i end
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

--- `[label stats]`: the stats line comes from the host; `…` while running.
function H.tag(e)
  local stats = e.stats
  if stats == nil or stats == '' then
    if e.status == 'pending' or e.status == 'streaming' then
      stats = '…'
    else
      stats = e.ms and (e.ms .. ' ms') or ''
    end
  end
  -- How the answer ended, when the model did not simply finish ("cut at 16 tokens").
  if e.stop and e.stop ~= '' and not stats:find(e.stop, 1, true) then
    stats = stats ~= '' and (stats .. ' · ' .. e.stop) or e.stop
  end
  return '[' .. e.label .. (stats ~= '' and (' ' .. stats) or '') .. ']'
end

function H.split(text) return vim.split(text, '\n', { plain = true }) end

--- Screen rows between the end of buffer line `row` (0-based) and the
--- window's bottom, or nil when the line is not on screen.
function H.rows_below(row)
  local win = vim.api.nvim_get_current_win()
  local line = vim.api.nvim_buf_get_lines(0, row, row + 1, false)[1] or ''
  local pos = vim.fn.screenpos(win, row + 1, math.max(1, #line))
  if pos.row == 0 then return nil end
  local top = vim.fn.win_screenpos(win)[1]
  return top + vim.api.nvim_win_get_height(win) - 1 - pos.row
end

function H.render()
  local st = H.state
  if not st or not vim.api.nvim_buf_is_valid(st.buf) then return end
  H.note_seen(st)
  vim.api.nvim_buf_clear_namespace(st.buf, M.ns, 0, -1)
  H.space = nil
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local layout = H.opt('layout') or 'stack'
  local max_lines = H.opt('max_lines') or 12
  local other_max = H.opt('other_max_lines') or 1
  local shown = H.shown(st)
  local indent = (vim.api.nvim_buf_get_lines(st.buf, row, row + 1, false)[1] or ''):match('^%s*')

  local inline, continuation, block, eol = nil, {}, {}, {}
  local sel = st.selected and st.entries[st.selected]
  if sel then
    local lines = H.split(sel.text:sub(#st.typed + 1))
    if lines[1] ~= '' then inline = { { lines[1], 'HexaiSuggestion' } } end
    local last = math.min(#lines, max_lines)
    for k = 2, last do continuation[#continuation + 1] = { { lines[k], 'HexaiSuggestion' } } end
    if #lines > last then
      continuation[#continuation + 1] = { { H.more(#lines - last), 'HexaiPending' } }
    end
    if layout == 'cycle' then
      local pos = 1
      for k, i in ipairs(shown) do
        if i == st.selected then pos = k end
      end
      local stats = sel.stats or (sel.ms and (sel.ms .. ' ms')) or ''
      if sel.status == 'streaming' then stats = '…' end
      eol[#eol + 1] = {
        (' (%d/%d %s%s)'):format(pos, #shown, sel.label, stats ~= '' and (' ' .. stats) or ''),
        'HexaiLabel',
      }
    else
      eol[#eol + 1] = { ' ' .. H.tag(sel), 'HexaiLabel' }
    end
  end

  local count = table.maxn(st.entries)
  local running = 0
  for _, e in pairs(st.entries) do
    if e.status == 'pending' or e.status == 'streaming' then running = running + 1 end
  end
  if layout == 'cycle' then
    if running > 0 then eol[#eol + 1] = { (' +%d pending'):format(running), 'HexaiPending' } end
  elseif count > 1 and not sel then
    -- Nothing has arrived: say who is running on the cursor line and keep
    -- the code below where it is until the first suggestion comes.
    if running > 0 then
      eol[#eol + 1] = { (' [hexai: %d running …]'):format(running), 'HexaiPending' }
    end
    for i = 1, count do
      local e = st.entries[i]
      if e and e.status ~= 'pending' and e.status ~= 'streaming' then
        H.entry_lines(st, e, indent, other_max, block)
      end
    end
  elseif count > 1 then
    for i = 1, count do
      local e = st.entries[i]
      if e and i ~= st.selected then H.entry_lines(st, e, indent, other_max, block) end
    end
  end
  if st.problem then
    block[#block + 1] = { { indent .. '[hexai] ' .. st.problem, 'HexaiErrorDim' } }
  end

  if inline then
    vim.api.nvim_buf_set_extmark(st.buf, M.ns, row, col, {
      virt_text = inline, virt_text_pos = 'inline', hl_mode = 'combine',
      -- Right gravity: the cursor is drawn before the suggestion, not after it.
      right_gravity = true,
    })
  end
  -- Continuation lines and the comparison block share one space below the
  -- cursor line; it never shrinks while the cursor stays on that line.
  local below = vim.list_extend(vim.list_extend({}, continuation), block)
  if #below > 0 or st.height > 0 then
    if st.above == nil and #block > 0 then
      local rows = H.rows_below(row)
      st.above = rows ~= nil and rows < #below
    end
    if st.above then
      -- No room below: the comparison goes above the cursor line, the
      -- suggestion's own further lines stay below it.
      if #continuation > 0 then
        vim.api.nvim_buf_set_extmark(st.buf, M.ns, row, 0, { virt_lines = continuation })
      end
      st.height = math.max(st.height, #block)
      H.draw_block(st.buf, row, block, st.height, true)
    else
      st.height = math.max(st.height, #below)
      H.draw_block(st.buf, row, below, st.height, false)
    end
  end
  if #eol > 0 then
    vim.api.nvim_buf_set_extmark(st.buf, M.ns, row, 0, {
      virt_text = eol, virt_text_pos = 'eol', hl_mode = 'combine',
    })
  end
end

--- The arena: remember which entries were seen in which slot (the first
--- time): the selected one is slot 0, then the others as drawn ('stack'), or
--- its place among the suggestions ('cycle', where only the selected shows).
function H.note_seen(st)
  st.slots = st.slots or {}
  local shown = H.shown(st)
  if (H.opt('layout') or 'stack') == 'cycle' then
    for k, i in ipairs(shown) do
      if i == st.selected and st.slots[i] == nil then st.slots[i] = k - 1 end
    end
    return
  end
  local slot = 0
  if st.selected and H.matches(st, st.entries[st.selected]) then
    if st.slots[st.selected] == nil then st.slots[st.selected] = 0 end
    slot = 1
  end
  for i = 1, table.maxn(st.entries) do
    local e = st.entries[i]
    if e and i ~= st.selected and H.matches(st, e) then
      if st.slots[i] == nil then st.slots[i] = slot end
      slot = slot + 1
    end
  end
end

--- Tell the host what became of a trigger that showed two or more suggestions
--- (the host decides whether it is an outcome worth recording).
function H.report(st)
  local slots = {}
  for i, slot in pairs(st.slots or {}) do slots[#slots + 1] = { i - 1, slot } end
  if #slots < 2 or st.reported then return end
  st.reported = true
  local action, chosen = st.action, st.chosen
  if not action then
    -- Typed by hand exactly as suggested, else the suggestions went unused.
    local typed = M.typed_since(st)
    for i, e in pairs(st.entries) do
      if typed and typed ~= '' and H.has_text(e) and e.text == typed and st.slots[i] then
        action, chosen = 'typed', i
        break
      end
    end
  end
  require('hexai.rpc').notify('arena.outcome', {
    seq = st.seq, slot = 'ghost', action = action or 'moved_on',
    chosen = chosen and chosen - 1 or nil, slots = slots,
  })
end

--- The comparison block on `row`, padded with blank lines to `height`.
function H.draw_block(buf, row, lines, height, above)
  local padded = vim.list_extend({}, lines)
  while #padded < height do padded[#padded + 1] = { { '', 'HexaiPending' } } end
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0, {
    virt_lines = padded, virt_lines_above = above and true or false,
  })
end

--- `… 1 more line`, `… 3 more lines`.
function H.more(n) return ('… %d more line%s'):format(n, n == 1 and '' or 's') end

--- The labelled virtual lines of one non-selected entry.
function H.entry_lines(st, e, indent, max, out)
  local tag = H.tag(e)
  if H.has_text(e) then
    if not H.matches(st, e) then return end
    local lines = H.split(e.text:sub(#st.typed + 1))
    out[#out + 1] = { { indent .. tag .. ' ', 'HexaiLabel' }, { lines[1], 'HexaiSuggestion' } }
    local pad = indent .. string.rep(' ', vim.fn.strdisplaywidth(tag) + 1)
    max = math.max(1, max)
    for k = 2, math.min(#lines, max) do
      out[#out + 1] = { { pad .. lines[k], 'HexaiSuggestion' } }
    end
    if #lines > max then -- on the last line shown: the entry keeps its line count
      table.insert(out[#out], { '  ' .. H.more(#lines - max), 'HexaiPending' })
    end
  elseif e.status == 'pending' or e.status == 'streaming' then
    out[#out + 1] = { { indent .. tag, 'HexaiPending' } }
  elseif e.status == 'error' then
    local msg = e.error_kind or 'error'
    if e.error_message and e.error_message ~= '' then msg = msg .. ': ' .. e.error_message end
    -- Dim: a failed entry is information next to the others' suggestions, not an alarm.
    out[#out + 1] = { { indent .. tag .. ' ', 'HexaiLabel' }, { msg, 'HexaiErrorDim' } }
  elseif e.status == 'empty' then
    out[#out + 1] = { { indent .. tag .. ' ', 'HexaiLabel' }, { '(no suggestion)', 'HexaiPending' } }
  end
  -- 'muted' (an entry that failed with auth/config before): no line at all.
end

return M
