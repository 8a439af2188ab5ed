--- hexai.code_action: :HexaiCodeAction, one selection rewritten by one entry.
---
--- What it does: offers hexai's actions for a range (built-in: rewrite by an
--- instruction, document, resolve the diagnostics of the range, simplify; then
--- `[[prompts.code_action.custom]]`) through `vim.ui.select`, sends the chosen
--- one to the host (which uses the FIRST `code_action` entry, like hexai), and
--- shows the answer as a diff preview. Applying replaces the range in a single
--- change, so one `u` undoes it.
---
--- What it does not do: build prompts, pick the entry, or apply anything
--- without the preview. If the range changed while the model was writing,
--- applying is refused (nothing is overwritten blindly).
local M = {}
local H = {}

M.defaults = {
  -- Height of the preview split: lines, or a fraction of the screen.
  height = 0.4,
  keys = { apply = { 'a', '<CR>' }, discard = { 'q', '<Esc>' } },
}

M.config = vim.deepcopy(M.defaults)

H.seq = 0
--- The request in flight or waiting for a decision:
--- { id, buf, line1, line2, original = {lines}, title, running = bool }
H.pending = nil
--- The preview on screen: { buf, win, new_lines, request }
H.preview = nil

-- Module definition ===========================================================

--- Take the options of `require('hexai').setup()` (called when this module
--- loads and when setup() runs again). Commands and keys: `hexai.startup`.
function M.configure(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), (opts or {}).code_action or {})
end

--- Offer the actions for lines `line1`..`line2` (1-based) of the current buffer.
function M.run(line1, line2)
  local buf = vim.api.nvim_get_current_buf()
  if not line1 then
    line1 = vim.api.nvim_win_get_cursor(0)[1]
    line2 = line1
  end
  local lines = vim.api.nvim_buf_get_lines(buf, line1 - 1, line2, false)
  local diagnostics = H.diagnostics(buf, line1, line2)
  local list, err = require('hexai.rpc').request('code_action.list', { has_diagnostics = #diagnostics > 0 })
  if not list then
    vim.notify('hexai: code actions unavailable: ' .. tostring(err), vim.log.levels.ERROR)
    return
  end
  if list.entry == nil or list.entry == vim.NIL then
    vim.notify('hexai: no code_action entry is configured', vim.log.levels.ERROR)
    return
  end
  local name = vim.api.nvim_buf_get_name(buf)
  local request = {
    buf = buf,
    line1 = line1,
    line2 = line2,
    original = lines,
    payload = {
      selection = table.concat(lines, '\n'),
      diagnostics = diagnostics,
      filename = name ~= '' and vim.fn.fnamemodify(name, ':.') or '',
      file = name,
      filetype = vim.bo[buf].filetype,
    },
  }
  vim.ui.select(list.actions, {
    prompt = ('hexai code action (%s)'):format(list.entry),
    format_item = function(action) return action.title end,
    kind = 'hexai.code_action',
  }, function(action)
    if not action then return end
    if action.asks_instruction then
      vim.ui.input({ prompt = action.title:gsub('…$', '') .. ': ' }, function(instruction)
        if instruction and vim.trim(instruction) ~= '' then H.send(request, action, instruction) end
      end)
    else
      H.send(request, action, '')
    end
  end)
end

--- Stop the running request (if any).
function M.cancel()
  if H.pending and H.pending.running then require('hexai.rpc').notify('code_action.cancel') end
end

--- Apply the previewed change (one undo step). Returns true when applied.
function M.apply()
  local p = H.preview
  if not p then return false end
  local req = p.request
  M.discard()
  if not vim.api.nvim_buf_is_valid(req.buf) then
    vim.notify('hexai: the buffer is gone; nothing applied', vim.log.levels.ERROR)
    return false
  end
  local now = vim.api.nvim_buf_get_lines(req.buf, req.line1 - 1, req.line2, false)
  if not vim.deep_equal(now, req.original) then
    vim.notify('hexai: the lines changed since the action started; nothing applied', vim.log.levels.WARN)
    return false
  end
  vim.api.nvim_buf_call(req.buf, function()
    -- Close the current undo block so the replacement is an undo step of its own.
    vim.cmd('let &g:undolevels = &g:undolevels')
  end)
  vim.api.nvim_buf_set_lines(req.buf, req.line1 - 1, req.line2, false, p.new_lines)
  vim.notify(('hexai: applied %s (u undoes it)'):format(req.title), vim.log.levels.INFO)
  return true
end

--- Close the preview without applying.
function M.discard()
  local p = H.preview
  H.preview = nil
  H.pending = nil
  if not p then return end
  if vim.api.nvim_win_is_valid(p.win) and #vim.api.nvim_list_wins() > 1 then
    pcall(vim.api.nvim_win_close, p.win, true)
  end
  if vim.api.nvim_buf_is_valid(p.buf) then pcall(vim.api.nvim_buf_delete, p.buf, { force = true }) end
end

--- For tests and the statusline.
function M.state()
  local out = {}
  if H.pending then
    out.pending = { id = H.pending.id, title = H.pending.title, running = H.pending.running }
  end
  if H.preview then
    out.preview = {
      buf = H.preview.buf,
      win = H.preview.win,
      new_lines = H.preview.new_lines,
      lines = vim.api.nvim_buf_get_lines(H.preview.buf, 0, -1, false),
    }
  end
  return out
end

-- Called by the host ----------------------------------------------------------

function M.on_started(id, info)
  local p = H.pending
  if not p or p.id ~= id then return end
  p.label = info.label
  vim.notify(('hexai: %s with %s…'):format(p.title, info.label), vim.log.levels.INFO)
end

function M.on_result(id, result)
  local p = H.pending
  if not p or p.id ~= id then return end
  p.running = false
  -- `result` is the entry's state (hexai_nvim/surfaces/entry_state.py) and the title.
  if result.status ~= 'ok' then
    H.pending = nil
    local function field(name) return result[name] ~= vim.NIL and result[name] or nil end
    vim.notify(
      ('hexai: %s failed (%s): %s: %s'):format(
        p.title, field('label') or '?', field('error_kind') or 'error', field('error_message') or ''),
      result.status == 'cancelled' and vim.log.levels.WARN or vim.log.levels.ERROR
    )
    return
  end
  H.show_preview(p, result)
end

-- Helper functionality ========================================================

function H.send(request, action, instruction)
  if H.preview then M.discard() end
  H.seq = H.seq + 1
  request.id = H.seq
  request.title = action.title:gsub('…$', '')
  request.running = true
  H.pending = request
  local payload = vim.tbl_extend('force', request.payload, {
    id = request.id,
    action = action.id,
    instruction = instruction,
  })
  if #payload.diagnostics == 0 then payload.diagnostics = vim.empty_dict() end
  require('hexai.rpc').notify('code_action.run', payload)
end

--- Diagnostics touching the range, one line each: `line 3: error: message`.
function H.diagnostics(buf, line1, line2)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local last = d.end_lnum or d.lnum
    if d.lnum <= line2 - 1 and last >= line1 - 1 then
      local severity = (vim.diagnostic.severity[d.severity] or 'info'):lower()
      local source = d.source and (' [' .. d.source .. ']') or ''
      table.insert(out, ('line %d: %s: %s%s'):format(d.lnum + 1, severity, d.message, source))
    end
  end
  return out
end

function H.show_preview(request, result)
  local new_lines = vim.split(result.text, '\n', { plain = true })
  local old = table.concat(request.original, '\n') .. '\n'
  local new = table.concat(new_lines, '\n') .. '\n'
  local diff = vim.diff(old, new, { result_type = 'unified', ctxlen = 3 })
  local lines = {
    ('# %s · %s%s'):format(request.title, result.label, result.stats and result.stats ~= '' and (' · ' .. result.stats) or ''),
    ('# lines %d-%d · %s apply · %s discard'):format(
      request.line1, request.line2, H.key_text(M.config.keys.apply), H.key_text(M.config.keys.discard)),
    '--- original',
    '+++ proposed',
  }
  if diff == '' then
    table.insert(lines, '(no change)')
  else
    for _, line in ipairs(vim.split(diff, '\n', { plain = true })) do
      if line ~= '' or #lines == 0 then table.insert(lines, line) end
    end
  end
  local scratch = require('hexai.scratch')
  local buf = scratch.create('hexai://code-action/' .. request.id, 'diff', 'wipe')
  scratch.set_lines(buf, 0, -1, lines)
  local height = M.config.height
  if height < 1 then height = math.max(6, math.floor(vim.o.lines * height)) end
  height = math.min(height, #lines + 1)
  local win = vim.api.nvim_open_win(buf, true, { split = 'below', win = -1, height = height })
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].signcolumn = 'no'
  H.preview = { buf = buf, win = win, new_lines = new_lines, request = request }
  local function map(keys, fn, desc)
    for _, lhs in ipairs(type(keys) == 'table' and keys or { keys }) do
      vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, desc = 'hexai: ' .. desc })
    end
  end
  map(M.config.keys.apply, M.apply, 'apply the proposed change')
  map(M.config.keys.discard, M.discard, 'discard the proposed change')
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    once = true,
    callback = function()
      if H.preview and H.preview.buf == buf then
        H.preview = nil
        H.pending = nil
      end
    end,
  })
end

function H.key_text(keys)
  return table.concat(type(keys) == 'table' and keys or { keys }, '/')
end

M.configure(require('hexai').options)

return M
