--- hexai.check: :HexaiConfigCheck and :HexaiConfigReload.
---
--- :HexaiConfigCheck opens a scratch buffer and fills it as the host reports:
--- files and layers read, problems (with their paths), warnings, the entries
--- of every surface, API keys per provider (masked, with their source), then
--- a live probe of every entry (reachable, model listed, one-token round trip).
--- Every line starts with OK, WARN or ERROR. `:checkhealth hexai` shows the
--- same lines through vim.health (see `hexai.health`), using `collect()`.
---
--- :HexaiConfigReload re-reads the configuration; the host prints hexai's diff
--- summary, or the problems while the last good configuration keeps running.
local M = {}
local H = {}

M.ns = vim.api.nvim_create_namespace('hexai_check')

M.defaults = {
  -- Overall deadline of the live probe, in seconds.
  probe_timeout = 10,
}

M.config = vim.deepcopy(M.defaults)

H.seq = 0
--- Checks by id: { lines = {}, done = bool, summary = line|nil, buf = buf|nil, section = '' }
H.runs = {}
H.level_hl = { OK = 'HexaiCheckOk', WARN = 'HexaiCheckWarn', ERROR = 'HexaiCheckError' }

-- Module definition ===========================================================

--- Take the options of `require('hexai').setup()` (called when this module
--- loads and when setup() runs again). Commands: `hexai.startup`.
function M.configure(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), (opts or {}).check or {})
end

--- Open the check buffer and start a check. Returns the check's id.
---@param opts table|nil { probe = true, timeout = seconds }
function M.open(opts)
  opts = opts or {}
  local buf = H.buffer()
  local id = H.start(opts, buf)
  if not id then return nil end
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    win = vim.api.nvim_open_win(buf, true, { split = 'below', win = -1, height = math.floor(vim.o.lines * 0.5) })
  else
    vim.api.nvim_set_current_win(win)
  end
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].wrap = true
  return id
end

--- Run a check without UI and wait for it (for :checkhealth).
---@return table lines, table|nil summary, boolean done
function M.collect(opts)
  opts = opts or {}
  local id, err = H.start(opts, nil)
  if not id then return { { level = 'ERROR', text = err, section = 'Host' } }, nil, false end
  local wait_ms = opts.wait_ms or ((opts.timeout or M.config.probe_timeout) + 10) * 1000
  require('hexai.rpc').waiting(vim.wait, wait_ms, function() return H.runs[id].done end, 20)
  local run = H.runs[id]
  return run.lines, run.summary, run.done
end

--- :HexaiConfigReload
function M.reload()
  require('hexai.rpc').notify('config.reload')
end

--- The state of check `id` (default: the last one), for tests.
function M.state(id)
  return H.runs[id or H.seq]
end

-- Called by the host ----------------------------------------------------------

function M.on_lines(id, lines)
  local run = H.runs[id]
  if not run then return end
  for _, line in ipairs(lines) do
    table.insert(run.lines, line)
    H.render_line(run, line)
  end
end

function M.on_probe_start(id, info)
  local run = H.runs[id]
  if not run then return end
  run.section = 'Probe'
  H.append(run, {
    '',
    ('## Live probe: %d entr%s, all at once, %gs overall timeout'):format(
      info.count, info.count == 1 and 'y' or 'ies', info.timeout_s),
  }, 'HexaiCheckSection')
end

function M.on_done(id, summary)
  local run = H.runs[id]
  if not run then return end
  run.summary = summary
  run.done = true
  run.section = 'Summary'
  H.append(run, { '', '## Summary' }, 'HexaiCheckSection')
  H.render_line(run, summary, true)
  vim.api.nvim_exec_autocmds('User', { pattern = 'HexaiConfigCheckDone', modeline = false })
end

--- The outcome of the last :HexaiConfigReload ({ ok, message }).
M.last_reload = nil

function M.on_reload(answer)
  M.last_reload = answer
  vim.api.nvim_exec_autocmds('User', { pattern = 'HexaiConfigReloaded', modeline = false })
end

-- Helper functionality ========================================================

function H.start(opts, buf)
  H.seq = H.seq + 1
  local id = H.seq
  H.runs[id] = { lines = {}, done = false, buf = buf, section = '' }
  -- Only the last few checks are kept.
  H.runs[id - 5] = nil
  if buf then
    H.set(buf, 0, -1, {
      'hexai config check  (' .. os.date('%H:%M:%S') .. ')',
      'Every line is OK, WARN or ERROR. Keys are masked. :HexaiConfigCheck! skips the live probe.',
    })
    vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
    vim.api.nvim_buf_set_extmark(buf, M.ns, 0, 0, { line_hl_group = 'HexaiCheckSection' })
  end
  local sent = require('hexai.rpc').notify('check.run', {
    id = id,
    probe = opts.probe ~= false,
    timeout_s = opts.timeout or M.config.probe_timeout,
  })
  if not sent then
    local line = {
      level = 'ERROR',
      text = 'the Python host is not available: ' .. require('hexai.build').explain(),
      section = 'Host',
    }
    M.on_lines(id, { line })
    H.runs[id].done = true
    return nil, line.text
  end
  return id
end

function H.buffer()
  local name = 'hexai://config-check'
  local buf = vim.fn.bufnr(name)
  if buf ~= -1 and vim.api.nvim_buf_is_valid(buf) then return buf end
  buf = require('hexai.scratch').create(name, 'hexaicheck')
  vim.keymap.set('n', 'q', '<Cmd>close<CR>', { buffer = buf, nowait = true, desc = 'hexai: close' })
  vim.keymap.set('n', 'r', function() M.open({ probe = true }) end,
    { buffer = buf, nowait = true, desc = 'hexai: check again' })
  return buf
end

function H.set(buf, from, to, lines) require('hexai.scratch').set_lines(buf, from, to, lines) end

function H.append(run, lines, hl)
  local buf = run.buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then return end
  local first = vim.api.nvim_buf_line_count(buf)
  H.set(buf, first, first, lines)
  if hl then
    for row = first, first + #lines - 1 do
      if lines[row - first + 1] ~= '' then
        vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0, { line_hl_group = hl })
      end
    end
  end
end

function H.render_line(run, line, no_section)
  local buf = run.buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then return end
  if not no_section and line.section and line.section ~= '' and line.section ~= run.section then
    run.section = line.section
    H.append(run, { '', '## ' .. line.section }, 'HexaiCheckSection')
  end
  local level = line.level or 'ERROR'
  local text = ('%-5s  %s'):format(level, (line.text or ''):gsub('\n', ' '))
  local row = vim.api.nvim_buf_line_count(buf)
  H.set(buf, row, row, { text })
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0,
    { end_col = #level, hl_group = H.level_hl[level] or 'HexaiCheckError' })
end

M.configure(require('hexai').options)

return M
