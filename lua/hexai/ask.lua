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

M.defaults = {
  -- nil: use [ui] ask_layout from the config ('stacked' when unset).
  layout = nil,
  -- Height of the results split: lines, or a fraction of the screen.
  height = 0.4,
  -- Move the cursor into the results view when an ask starts.
  focus = true,
  -- Keys of the results view (false disables one).
  keys = {
    close = 'q',
    yank = 'y',
    yank_code = 'Y',
    put = 'p',
    put_code = 'P',
    layout = 't',
    retry = 'r',
    diff = 'd',
    cancel = '<C-c>',
    next = ']]',
    prev = '[[',
  },
}

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
  vim.notify(('hexai: inserted %d line(s) of %s'):format(#lines, sec.label), vim.log.levels.INFO)
end

--- Open two answers in diff mode in a new tab page.
--- `a` and `b` are section numbers (1-based) or labels; nil asks.
function M.diff(a, b)
  local cur = H.current
  if not cur or #cur.sections < 2 then
    vim.notify('hexai: :HexaiAskDiff needs an ask with at least two answers', vim.log.levels.WARN)
    return
  end
  local ia, ib = H.find_section(a), H.find_section(b)
  if (a and not ia) or (b and not ib) then
    vim.notify('hexai: no answer named ' .. tostring(ia and b or a), vim.log.levels.ERROR)
    return
  end
  if ia and ib then return H.open_diff(ia, ib) end
  if #cur.sections == 2 then return H.open_diff(1, 2) end
  local choices = {}
  for i, sec in ipairs(cur.sections) do choices[i] = { index = i, label = sec.label } end
  local fmt = { format_item = function(c) return c.label end }
  vim.ui.select(choices, vim.tbl_extend('force', fmt, { prompt = 'First answer' }), function(first)
    if not first then return end
    local rest = vim.tbl_filter(function(c) return c.index ~= first.index end, choices)
    vim.ui.select(rest, vim.tbl_extend('force', fmt, { prompt = 'Compare with' }), function(second)
      if second then H.open_diff(first.index, second.index) end
    end)
  end)
end

--- Statusline text: `ask: 1/2 running` while answers stream, else ''.
function M.status()
  if not H.current then return '' end
  local running = 0
  for _, sec in ipairs(H.current.sections) do
    if sec.state == 'waiting' or sec.state == 'streaming' then running = running + 1 end
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
      state = sec.state,
      text = table.concat(sec.lines, '\n'),
      stats = sec.stats,
      error = sec.error,
      updates = sec.updates,
    }
  end
  out.view = view.info()
  return out
end

-- Called by the host ----------------------------------------------------------

function M.on_begin(id, info)
  local sections = {}
  for i, e in ipairs(info.entries or {}) do
    sections[i] = { label = e.label, key = e.key, state = 'waiting', lines = { '' }, updates = 0 }
  end
  local source = H.pending_source or (H.current and H.current.source) or H.source(nil)
  H.pending_source = nil
  H.current = { id = id, prompt = info.prompt or '', sections = sections, source = source }
  local layout = H.layout_override or M.config.layout or info.layout or 'stacked'
  view.open(sections, layout, {
    prompt = H.current.prompt,
    height = M.config.height,
    focus = M.config.focus,
    on_buffer = H.map_view_keys,
  })
end

function M.on_update(id, index, update)
  local cur = H.current
  if not cur or cur.id ~= id then return end -- a late update of an older ask
  local i = index + 1
  local sec = cur.sections[i]
  if not sec then return end
  sec.updates = sec.updates + 1
  local header_changed = false
  if update.state and update.state ~= sec.state then
    sec.state = update.state
    header_changed = true
  end
  if update.stats then
    sec.stats = update.stats
    header_changed = true
  end
  if update.append then view.append(i, update.append) end
  if update.error and update.error ~= vim.NIL then
    sec.error = update.error
    view.render_section(i)
  elseif header_changed then
    view.render_header(i)
  end
  if update.state and update.state ~= 'waiting' and update.state ~= 'streaming' then
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
  local win = vim.api.nvim_get_current_win()
  local source = { buf = buf, win = win, row = vim.api.nvim_win_get_cursor(win)[1] }
  if range then
    local lines = vim.api.nvim_buf_get_lines(buf, range[1] - 1, range[2], false)
    local name = vim.api.nvim_buf_get_name(buf)
    source.row = range[2]
    source.context = {
      text = table.concat(lines, '\n'),
      filename = name ~= '' and vim.fn.fnamemodify(name, ':.') or '',
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

function H.open_diff(a, b)
  local cur = H.current
  vim.cmd('tabnew')
  local first = true
  for _, i in ipairs({ a, b }) do
    local sec = cur.sections[i]
    if not first then vim.cmd('vsplit') end
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
  local function map(name, fn, desc)
    local lhs = keys[name]
    if lhs then vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, desc = 'hexai: ' .. desc }) end
  end
  map('close', M.close, 'close the results')
  map('yank', function() M.yank(false) end, 'yank the answer under the cursor')
  map('yank_code', function() M.yank(true) end, 'yank the code blocks of the answer')
  map('put', function() M.put(false) end, 'insert the answer into the original buffer')
  map('put_code', function() M.put(true) end, 'insert the code blocks into the original buffer')
  map('layout', function() M.set_layout(nil) end, 'switch stacked / columns')
  map('retry', M.retry, 'ask again')
  map('diff', function() M.diff() end, 'diff two answers')
  map('cancel', function() require('hexai.ask').cancel_all() end, 'cancel what is running')
  map('next', function() view.jump(1) end, 'next answer')
  map('prev', function() view.jump(-1) end, 'previous answer')
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

return M
