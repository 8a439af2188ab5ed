--- hexai.rpc: the only door from Lua to the Python host.
---
--- Every call goes through `HexaiNotify` (Neovim never waits) or, for quick
--- answers, `HexaiRequest`. The first call of a session sends "setup" with the
--- editor overrides, so the host (and aiohttp) start only when first needed.
local M = {}
local H = { setup_sent = false, missing_reported = false, waiting = 0, deferred = {} }

--- Run `fn` (a notice) once Lua no longer waits for the host, from the main
--- loop: never inside a pending request, where an error message would be
--- thrown into that request.
function M.when_idle(fn)
  if H.waiting > 0 then
    table.insert(H.deferred, fn)
    return
  end
  vim.schedule(function()
    if H.waiting > 0 then
      table.insert(H.deferred, fn)
    else
      fn()
    end
  end)
end

--- Call `fn(...)` as a wait for the host: notices arriving meanwhile are held
--- until it returns. Returns what `fn` returns; raises what it raises.
function M.waiting(fn, ...)
  H.waiting = H.waiting + 1
  local result = vim.F.pack_len(pcall(fn, ...))
  H.waiting = H.waiting - 1
  if H.waiting == 0 and #H.deferred > 0 then
    local held = H.deferred
    H.deferred = {}
    for _, notice in ipairs(held) do M.when_idle(notice) end
  end
  if not result[1] then error(result[2], 0) end
  return unpack(result, 2, result.n)
end

--- Forget that setup was sent (after `require('hexai').setup()` ran again).
function M.reset()
  H.setup_sent = false
end

function H.setup_payload()
  local opts = require('hexai').options or {}
  return {
    config = (opts.config and next(opts.config)) and opts.config or vim.empty_dict(),
    config_path = opts.config_path,
    cwd = vim.fn.getcwd(),
    log_file = vim.fn.stdpath('log') .. '/hexai.log',
    log_level = opts.log_level or 'INFO',
  }
end

function H.call(fn, method, payload)
  if payload == nil or (type(payload) == 'table' and next(payload) == nil) then
    payload = vim.empty_dict()
  end
  local ok, res = pcall(vim.fn[fn], method, payload)
  if not ok then
    H.report_missing(tostring(res))
    return false, res
  end
  if type(res) == 'table' and res.unavailable then
    -- The shim's stand-in: the host runs but cannot load the plugin.
    H.report_missing(res.error)
    return false, res.error
  end
  return true, res
end

--- Once per session: the host is not available; say why and the exact fix.
function H.report_missing(detail)
  if H.missing_reported then return end
  H.missing_reported = true
  vim.notify('hexai: the Python host is not available: '
    .. require('hexai.build').explain(detail), vim.log.levels.ERROR)
end

--- Called by the shim's stand-in (hexai_nvim.unavailable) on a notification.
function M.on_unavailable(detail) H.report_missing(detail) end

function H.ensure_setup()
  if H.setup_sent then return true end
  local ok = H.call('HexaiNotify', 'setup', H.setup_payload())
  H.setup_sent = ok
  return ok
end

--- Send `method` with `payload` to the host without waiting.
---@return boolean sent
function M.notify(method, payload)
  if not H.ensure_setup() then return false end
  return (H.call('HexaiNotify', method, payload))
end

--- Ask the host and wait for the answer. Use only for quick, local answers.
---@return any value, string|nil error
function M.request(method, payload)
  if not H.ensure_setup() then return nil, 'host unavailable' end
  local ok, res = M.waiting(H.call, 'HexaiRequest', method, payload)
  if not ok then return nil, tostring(res) end
  if type(res) ~= 'table' or not res.ok then
    return nil, type(res) == 'table' and res.error or tostring(res)
  end
  return res.value, nil
end

return M
