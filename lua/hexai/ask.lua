--- hexai.ask: :HexaiAsk, one streamed answer per `ask` entry, side by side.
---
--- What it does: sends a question (and, with a range or Visual selection, the
--- selected lines with the file name and filetype) to the host, which fans it
--- out to every `ask` entry. Answers stream into a results view that is reused
--- across asks (see `hexai.ask_view`): `stacked` (one buffer, one section per
--- entry) or `columns` (one window per entry). From the view you can yank an
--- answer or insert it into the buffer you asked from, switch layouts, retry,
--- cancel and diff two answers.
---
--- What it does not do: choose entries, build prompts, or batch the stream.
--- The host decides all of that; this module only draws what it is told.
---
--- Commands (declared by `hexai.startup`): :HexaiAsk, :HexaiAskRetry, :HexaiAskDiff, :HexaiAskLayout,
--- :HexaiCancel. Plug mappings: <Plug>(hexai-ask), <Plug>(hexai-ask-retry),
--- <Plug>(hexai-cancel). See :help hexai-ask.
local M = {}
local H = {}

local view = require('hexai.ask_view')

--- The keys of the results view, in the order `?` lists them: the mappings,
--- the `?` list and `M.defaults.keys` are all made from this one table. An
--- item is `{ name, default lhs, what it does, function }`; add one here and
--- it is mapped, listed and configurable as `keys.<name>`.
M.actions = {
  { 'help', '?', 'list these keys', function() M.show_keys() end },
  { 'close', 'q', 'close the results', function() M.close() end },
  { 'yank', 'y', 'yank the answer under the cursor', function() M.yank(false) end },
  { 'yank_code', 'Y', 'yank the code blocks of the answer', function() M.yank(true) end },
  { 'put', 'p', 'insert the answer into the original buffer', function() M.put(false) end },
  { 'put_code', 'P', 'insert the code blocks into the original buffer', function() M.put(true) end },
  { 'open', '<CR>', 'go to the header of the answer on this line', function()
    local i = view.section_at_cursor()
    if i then view.focus_section(i) end
  end },
  { 'next', ']]', 'next answer', function() view.jump(1) end },
  { 'prev', '[[', 'previous answer', function() view.jump(-1) end },
  { 'diff', 'd', 'diff two answers', function() M.diff() end },
  { 'layout', 't', 'switch stacked / columns', function() M.set_layout(nil) end },
  { 'retry', 'r', 'ask again', function() M.retry() end },
  { 'cancel', '<C-c>', 'cancel what is running', function() M.cancel_all() end },
  { 'vote', 'v', 'vote: the answer under the cursor is the best', function() M.vote() end },
  { 'vote_none', 'V', 'vote: every answer is bad', function() M.vote(false) end },
}

M.defaults = {
  -- nil: use [ui] ask_layout from the config ('auto' when unset): columns
  -- when every answer gets at least `min_column_width` cells, else stacked.
  layout = nil,
  min_column_width = 60,
  -- Height of the whole view (scoreboard and answers): lines, or a fraction
  -- of the screen.
  height = 0.5,
  -- Move the cursor into the results view when an ask starts.
  focus = true,
  -- One line of keys in the message area when the view opens.
  hint = true,
  -- Keys of the results view (false disables one); `sections` maps 1-9 to
  -- "go to answer N".
  keys = { sections = true },
}
for _, action in ipairs(M.actions) do M.defaults.keys[action[1]] = action[2] end

M.config = vim.deepcopy(M.defaults)

--- The ask on screen: { id, prompt, sections = {...}, source = {...} } or nil.
H.current = nil
--- Where the next ask was started from (set before the host answers).
H.pending_source = nil
--- Layout chosen with the layout key or :HexaiAskLayout (wins over config).
H.layout_override = nil

-- Module definition ===========================================================

--- Take the options of `require('hexai').setup()` (called when this module
--- loads and when setup() runs again). Commands and keys: `hexai.startup`.
function M.configure(opts)
  H.user = (opts or {}).ask or {}
  M.config = H.effective()
end

--- Ask `prompt` (nil or '' asks for it with vim.ui.input).
---@param prompt string|nil
---@param range table|nil { line1, line2 } (1-based, inclusive) of the current buffer
function M.ask(prompt, range)
  local source = H.source(range)
  local function send(text)
    if not text or vim.trim(text) == '' then return end
    H.pending_source = source
    require('hexai.rpc').notify('ask.start', { prompt = text, context = source.context })
  end
  if prompt and vim.trim(prompt) ~= '' then
    send(prompt)
  else
    local what = range and (' (lines %d-%d)'):format(range[1], range[2]) or ''
    vim.ui.input({ prompt = 'hexai ask' .. what .. ': ' }, send)
  end
end

--- Run the last question again (same context, same target buffer).
function M.retry()
  if H.current then H.pending_source = H.current.source end
  require('hexai.rpc').notify('ask.retry')
end

--- Stop every entry of the current ask that is still running.
function M.cancel()
  if H.current then require('hexai.rpc').notify('ask.cancel') end
end

--- Close the results view.
function M.close() view.close() end

--- Switch the results view to `layout` ('stacked'|'columns'; nil toggles).
function M.set_layout(layout)
  if layout and layout ~= 'stacked' and layout ~= 'columns' then
    vim.notify('hexai: unknown layout ' .. layout .. ' (stacked or columns)', vim.log.levels.ERROR)
    return
  end
  H.layout_override = layout or (view.layout() == 'stacked' and 'columns' or 'stacked')
  if H.current then view.set_layout(H.layout_override) end
end

--- The answer of section `i` (1-based; default: under the cursor).
---@param code_only boolean|nil only the contents of fenced code blocks
---@return string|nil text, table|nil section
function M.answer(i, code_only)
  i = i or view.section_at_cursor()
  local sec = H.current and i and H.current.sections[i]
  if not sec then return nil end
  local lines = sec.lines
  if code_only then lines = H.code_blocks(lines) end
  return table.concat(lines, '\n'), sec
end

--- Yank the answer under the cursor into `register` (default: v:register).
function M.yank(code_only, register)
  local text, sec = M.answer(nil, code_only)
  if not text or text == '' then
    vim.notify('hexai: no answer under the cursor', vim.log.levels.WARN)
    return
  end
  local reg = register or vim.v.register or '"'
  vim.fn.setreg(reg, text, 'l')
  H.prefer(view.section_at_cursor(), 'yank')
  vim.notify(('hexai: yanked the answer of %s'):format(sec.label), vim.log.levels.INFO)
end

--- Insert the answer under the cursor into the buffer the question came from,
--- below the selection (or the cursor line). One undo step.
function M.put(code_only)
  local text, sec = M.answer(nil, code_only)
  if not text or text == '' then
    vim.notify('hexai: no answer under the cursor', vim.log.levels.WARN)
    return
  end
  local src = H.current.source
  if not (src and src.buf and vim.api.nvim_buf_is_valid(src.buf)) then
    vim.notify('hexai: the buffer the question came from is gone', vim.log.levels.ERROR)
    return
  end
  if not vim.bo[src.buf].modifiable then
    vim.notify('hexai: the buffer the question came from is not modifiable', vim.log.levels.ERROR)
    return
  end
  local lines = vim.split(text, '\n', { plain = true })
  local row = math.min(src.row, vim.api.nvim_buf_line_count(src.buf))
  vim.api.nvim_buf_set_lines(src.buf, row, row, false, lines)
  H.prefer(view.section_at_cursor(), 'insert')
  local what = #lines == 1 and '1 line' or (#lines .. ' lines')
  vim.notify(('hexai: inserted %s of %s'):format(what, sec.label), vim.log.levels.INFO)
end

--- Vote in the arena (|hexai-arena|): section `i` (default: under the
--- cursor) is the best answer; `false`: every answer is bad.
function M.vote(i)
  if not H.current then return false end
  if i == false then return H.prefer(nil, 'all_bad') end
  i = i or view.section_at_cursor()
  local sec = i and H.current.sections[i]
  if not (sec and H.answered(sec)) then
    vim.notify('hexai: no answer under the cursor to vote for', vim.log.levels.WARN)
    return false
  end
  return H.prefer(i, 'vote')
end

--- Open two answers in diff mode in a new tab page.
--- `a` and `b` are section numbers (1-based) or labels; nil offers the
--- answered entries (with exactly two, diffs them without asking).
function M.diff(a, b)
  local cur = H.current
  local ia, ib = H.find_section(a), H.find_section(b)
  if (a and not ia) or (b and not ib) then
    vim.notify('hexai: no answer named ' .. tostring(ia and b or a), vim.log.levels.ERROR)
    return
  end
  if ia and ib then return H.open_diff(ia, ib) end
  local answered = {}
  for i, sec in ipairs(cur and cur.sections or {}) do
    if H.answered(sec) and i ~= ia then table.insert(answered, { index = i, label = sec.label }) end
  end
  if ia and #answered == 1 then return H.open_diff(ia, answered[1].index) end
  if not ia and #answered == 2 then return H.open_diff(answered[1].index, answered[2].index) end
  if #answered + (ia and 1 or 0) < 2 then
    vim.notify(('hexai: a diff needs two answered entries (%d answered)'):format(#answered),
      vim.log.levels.WARN)
    return
  end
  -- The second list is the first one again (the chosen item marked), so an
  -- item keeps its number from one list to the next.
  local function second(first)
    local fmt = { prompt = 'Compare with', format_item = function(c)
      return c.index == first and (c.label .. ' (first)') or c.label
    end }
    vim.ui.select(answered, fmt, function(c)
      if c and c.index ~= first then H.open_diff(first, c.index) end
    end)
  end
  if ia then
    table.insert(answered, 1, { index = ia, label = cur.sections[ia].label })
    return second(ia)
  end
  local fmt = { prompt = 'First answer', format_item = function(c) return c.label end }
  vim.ui.select(answered, fmt, function(c)
    if c then second(c.index) end
  end)
end

--- Statusline text: `ask: 1/2 running` while answers stream, else ''.
function M.status()
  if not H.current then return '' end
  local running = 0
  for _, sec in ipairs(H.current.sections) do
    if sec.status == 'pending' or sec.status == 'streaming' then running = running + 1 end
  end
  if running == 0 then return '' end
  return ('ask: %d/%d running'):format(running, #H.current.sections)
end

--- State of the current ask, for tests.
function M.state()
  if not H.current then return nil end
  local out = { id = H.current.id, prompt = H.current.prompt, layout = view.layout(), sections = {} }
  for i, sec in ipairs(H.current.sections) do
    out.sections[i] = {
      label = sec.label,
      status = sec.status,
      shown = view.state_label(sec),
      truncated = sec.truncated,
      text = table.concat(sec.lines, '\n'),
      stats = sec.stats,
      score = sec.score,
      error_kind = sec.error_kind,
      error_message = sec.error_message,
      stop_reason = sec.stop_reason,
      updates = sec.updates,
    }
  end
  out.fastest = H.current.fastest
  out.blind = H.current.blind
  out.view = view.info()
  return out
end

-- Called by the host ----------------------------------------------------------

function M.on_begin(id, info)
  local sections = {}
  for i, e in ipairs(info.entries or {}) do
    -- `e` is the entry's state (hexai_nvim/surfaces/entry_state.py).
    sections[i] = { label = e.label, key = e.key, status = e.status or 'pending', lines = { '' }, updates = 0 }
  end
  local source = H.pending_source or (H.current and H.current.source) or H.source(nil)
  H.pending_source = nil
  -- `blind`: [arena] blind, the names are hidden until the vote (on_reveal).
  H.current = { id = id, prompt = info.prompt or '', sections = sections, source = source,
    blind = info.blind == true }
  local layout = H.layout_override or M.config.layout or info.layout or 'auto'
  view.open(sections, layout, {
    blind = H.current.blind,
    vote_key = M.config.keys.vote or nil,
    prompt = H.current.prompt,
    height = M.config.height,
    focus = M.config.focus,
    min_column_width = M.config.min_column_width,
    hint = H.hint(),
    help_key = M.config.hint and M.config.keys.help or nil,
    on_buffer = H.map_view_keys,
  })
end

--- Blind mode: the vote revealed the names (the host sent them as updates).
function M.on_reveal(id)
  local cur = H.current
  if not cur or cur.id ~= id then return end
  cur.blind = false
  view.set_blind(false)
end

--- The host found a new fastest answer (0-based `index`).
function M.on_fastest(id, index)
  local cur = H.current
  if not cur or cur.id ~= id then return end
  cur.fastest = index + 1
  view.set_fastest(index + 1)
end

function M.on_update(id, index, update)
  local cur = H.current
  if not cur or cur.id ~= id then return end -- a late update of an older ask
  local i = index + 1
  local sec = cur.sections[i]
  if not sec then return end
  sec.updates = sec.updates + 1
  local header_changed = false
  -- `update` is the entry's state, or part of it while it runs.
  if update.status and update.status ~= sec.status then
    sec.status = update.status
    header_changed = true
  end
  if update.truncated ~= nil then sec.truncated = update.truncated end
  if update.stop_reason then sec.stop_reason = update.stop_reason end
  if update.stats then
    sec.stats = update.stats
    header_changed = true
  end
  if update.label and update.label ~= sec.label then
    -- A fallback answers for this entry ("primary → fallback (fallback)"),
    -- or blind mode's reveal names it ("B: qwen").
    sec.label = update.label
    header_changed = true
  end
  if update.key then sec.key = update.key end
  if update.score then sec.score = update.score end
  if update.reset then
    -- The server cut the answer and the host asks again: start the text over.
    sec.lines = { '' }
    view.render_section(i)
  end
  if update.append then view.append(i, update.append) end
  if update.error_kind then
    sec.error_kind = update.error_kind
    sec.error_message = update.error_message
    sec.error_status = update.error_status
    view.render_section(i)
  elseif header_changed then
    view.render_header(i)
  end
  if update.status and update.status ~= 'pending' and update.status ~= 'streaming' then
    vim.api.nvim_exec_autocmds('User', { pattern = 'HexaiAskDone', modeline = false, data = { index = i } })
  end
end

-- Helper functionality ========================================================

--- Options: defaults, then config.toml's `[ui.ask]`, then setup({ ask = ... }).
function H.effective()
  local ui = (require('hexai').settings or {}).ui or {}
  local from_toml = type(ui.ask) == 'table' and ui.ask or {}
  return vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), from_toml, H.user or {})
end

--- Where a question comes from: buffer, insert row, and the context to send.
function H.source(range)
  local buf = vim.api.nvim_get_current_buf()
  -- Asking again from the results view: the answers still go to the buffer
  -- the last question came from, not into the view.
  if vim.b[buf].hexai_ask and not range and H.current and H.current.source then
    return H.current.source
  end
  local win = vim.api.nvim_get_current_win()
  local source = { buf = buf, win = win, row = vim.api.nvim_win_get_cursor(win)[1] }
  if range then
    local lines = vim.api.nvim_buf_get_lines(buf, range[1] - 1, range[2], false)
    local name = vim.api.nvim_buf_get_name(buf)
    source.row = range[2]
    source.context = {
      text = table.concat(lines, '\n'),
      filename = name ~= '' and vim.fn.fnamemodify(name, ':.') or '',
      file = name,
      filetype = vim.bo[buf].filetype,
    }
  end
  return source
end

function H.find_section(key)
  if key == nil then return nil end
  local cur = H.current
  local n = tonumber(key)
  if n and cur.sections[n] then return n end
  for i, sec in ipairs(cur.sections) do
    if sec.label == key or sec.key == key then return i end
  end
  return nil
end

--- An entry that answered: it ended and has text (a truncated answer counts).
function H.answered(sec)
  return (sec.status == 'ok' or (sec.status == 'error' and sec.truncated))
    and table.concat(sec.lines, '\n'):match('%S') ~= nil
end

function H.open_diff(a, b)
  local cur = H.current
  vim.cmd('tabnew')
  local first = true
  for _, i in ipairs({ a, b }) do
    local sec = cur.sections[i]
    if not first then vim.cmd('rightbelow vsplit') end
    local buf = vim.api.nvim_create_buf(false, true)
    vim.bo[buf].bufhidden = 'wipe'
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, sec.lines)
    pcall(vim.api.nvim_buf_set_name, buf, ('hexai://diff/%d/%s'):format(cur.id, sec.label))
    vim.bo[buf].filetype = 'markdown'
    vim.api.nvim_win_set_buf(0, buf)
    vim.cmd('diffthis')
    vim.keymap.set('n', 'q', '<Cmd>tabclose<CR>', { buffer = buf, desc = 'hexai: close the diff' })
    first = false
  end
end

--- Lines inside fenced code blocks (all blocks, in order).
function H.code_blocks(lines)
  local out, fence = {}, nil
  for _, line in ipairs(lines) do
    local marker = line:match('^%s*(```+)') or line:match('^%s*(~~~+)')
    if fence then
      if marker and marker:sub(1, 1) == fence:sub(1, 1) and #marker >= #fence then
        fence = nil
      else
        table.insert(out, line)
      end
    elseif marker then
      fence = marker
    end
  end
  return out
end

function H.map_view_keys(buf)
  local keys = M.config.keys
  for _, action in ipairs(M.actions) do
    local lhs = keys[action[1]]
    if lhs then
      vim.keymap.set('n', lhs, action[4], { buffer = buf, nowait = true, desc = 'hexai: ' .. action[3] })
    end
  end
  if keys.sections then
    for n = 1, 9 do
      vim.keymap.set('n', tostring(n), function() view.focus_section(n) end,
        { buffer = buf, nowait = true, desc = 'hexai: go to answer ' .. n })
    end
  end
end

--- The mapped keys and what they do, in the order of `M.actions`.
---@return table[] { { lhs, description } }
function M.key_list()
  local keys, out = M.config.keys, {}
  for _, action in ipairs(M.actions) do
    if keys[action[1]] then table.insert(out, { keys[action[1]], action[3] }) end
  end
  if keys.sections then table.insert(out, 2, { '1-9', 'go to answer N' }) end
  return out
end

--- `?`: a float that lists the keys of the view.
function M.show_keys() view.show_keys(M.key_list()) end

--- The one-line hint shown when the view opens (nil when `hint` is off).
function H.hint()
  if not M.config.hint then return nil end
  local keys, parts = M.config.keys, {}
  for _, name in ipairs({ 'help', 'next', 'diff', 'yank', 'put', 'close' }) do
    if keys[name] then
      local desc = ({ help = 'keys', next = 'next', diff = 'diff', yank = 'yank',
        put = 'insert', close = 'close' })[name]
      table.insert(parts, keys[name] .. ' ' .. desc)
    end
  end
  if #parts == 0 then return nil end
  return 'hexai ask: ' .. table.concat(parts, ' · ')
end

--- :HexaiCancel: the ask, a pending code action, and completion requests.
function M.cancel_all()
  M.cancel()
  -- A surface that never loaded has nothing running.
  for _, name in ipairs({ 'hexai.code_action', 'hexai.completion' }) do
    local mod = package.loaded[name]
    if type(mod) == 'table' and type(mod.cancel) == 'function' then pcall(mod.cancel) end
  end
end

-- The host (re)loaded the config: re-read the options.
vim.api.nvim_create_autocmd('User', {
  group = vim.api.nvim_create_augroup('hexai.ask', { clear = true }),
  pattern = 'HexaiSettings',
  callback = function() M.config = H.effective() end,
})

M.configure(require('hexai').options)

--- Tell the host the person preferred section `i` ('vote', 'yank', 'insert') or none ('all_bad').
function H.prefer(i, action)
  if not H.current then return false end
  return require('hexai.rpc').notify('ask.vote', {
    id = H.current.id, index = i and i - 1 or nil, action = action,
  })
end

return M
