--- hexai.rpc: the only door from Lua to the Python host.
---
--- Every call is `notify` (Neovim never waits) or, for quick answers,
--- `request`. The first call of a session sends "setup" with the editor
--- overrides.
---
--- The host is started by this module, in the background (`M.start()`, run
--- after start-up by `hexai.startup`): `jobstart()` of the host Python with
--- pynvim's host loop and our rplugin shim, talking msgpack-RPC on its
--- stdio. Neovim never waits for it: the Python start, `import pynvim` and
--- the host's imports run in that process while the editor goes on, and
--- calls made meanwhile queue in the pipe. (Neovim's own `remote#host` start
--- blocks the editor until the host answers its first request: ~95 ms.)
--- The methods are the ones `:UpdateRemotePlugins` registers
--- (`HexaiNotify`/`HexaiRequest` of `rplugin/python3/hexai.py`); when our
--- start is impossible or the process dies, calls go through those
--- functions, i.e. Neovim's own host, which reports what is missing.
local M = {}
local H = { setup_sent = false, missing_reported = false, waiting = 0, deferred = {} }

--- Run `fn` (a notice) once Lua no longer waits for the host, from the main
--- loop: never inside a pending request, where an error message would be
--- thrown into that request instead of it getting its answer.
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

--- Start the host in the background (nothing happens when it runs already
--- or could not start before). Returns true when a host channel exists.
function M.start()
  if H.chan then return true end
  -- `vim.g.hexai_own_host = false`: always Neovim's own host (bench, fallback).
  if H.own_failed or vim.g.hexai_own_host == false then return false end
  local shim = H.registered_shim()
  local python = vim.g.python3_host_prog
  python = (type(python) == 'string' and python ~= '') and vim.fn.expand(python)
    or vim.fn.exepath('python3')
  if not shim or python == '' then
    H.own_failed = true
    return false
  end
  shim = vim.fs.normalize(shim)
  H.stderr = {}
  local ok, chan = pcall(vim.fn.jobstart, { python, '-c', H.HOST_CODE, shim }, {
    rpc = true,
    on_stderr = function(_, data)
      for _, line in ipairs(data or {}) do
        if line ~= '' and #H.stderr < 50 then H.stderr[#H.stderr + 1] = line end
      end
    end,
    on_exit = function(_, code) H.on_exit(code) end,
  })
  if not ok or type(chan) ~= 'number' or chan <= 0 then
    H.own_failed = true
    return false
  end
  H.chan, H.shim = chan, shim
  H.setup_sent = false
  -- The host's first message: it has loaded the plugin.
  vim.api.nvim_create_autocmd('ChanInfo', { once = true, callback = function()
    if H.chan == chan then H.introduced = true end
  end })
  -- "setup" right away (it waits in the pipe until the host has loaded):
  -- the host reads the config and imports what the first request needs
  -- (aiohttp, the engine) before that request comes.
  H.ensure_setup()
  return true
end

--- The shim `:UpdateRemotePlugins` registered (the install step, see
--- :HexaiBuild), or nil: unregistered, calls go to Neovim's host, which
--- says so.
function H.registered_shim()
  local manifest = vim.env.NVIM_RPLUGIN_MANIFEST
  if not manifest or manifest == '' then manifest = vim.fn.stdpath('data') .. '/rplugin.vim' end
  local f = io.open(manifest, 'r')
  if not f then return nil end
  local text = f:read('*a')
  f:close()
  local shim = text:match("'([^']*rplugin/python3/hexai%.py)'")
  if shim and vim.fn.filereadable(shim) == 1 then return shim end
  return nil
end

--- The host channel, or nil (for tests and :checkhealth).
function M.channel() return H.chan end

function H.setup_payload()
  local opts = require('hexai').options or {}
  local config = type(opts.config) == 'table' and opts.config or {}
  if type(opts.completion) == 'table' and next(opts.completion) then
    -- setup{ completion = ... } is checked by the host like [ui.completion]
    -- (types, allowed values, did-you-mean) and comes back folded into
    -- settings.ui_completion, over config.toml's.
    config = vim.deepcopy(config)
    config.ui = type(config.ui) == 'table' and config.ui or {}
    local ui = type(config.ui.completion) == 'table' and config.ui.completion or {}
    config.ui.completion = vim.tbl_deep_extend('force', ui, H.plain(opts.completion))
  end
  return {
    config = next(config) and config or vim.empty_dict(),
    config_path = opts.config_path,
    cwd = vim.fn.getcwd(),
    log_file = vim.fn.stdpath('log') .. '/hexai.log',
    log_level = opts.log_level or 'INFO',
  }
end

--- `value` without what cannot cross RPC (functions, userdata): a table as
--- the host can read it.
function H.plain(value)
  if type(value) ~= 'table' then return value end
  local out = {}
  for k, v in pairs(value) do
    if type(v) ~= 'function' and type(v) ~= 'userdata' then out[k] = H.plain(v) end
  end
  return out
end

--- pynvim's host loop; the shim is its argument (`start_host` loads the .py files in argv).
H.HOST_CODE = 'import sys; sys.path = [p for p in sys.path if p != ""]; '
  .. 'import pynvim; pynvim.start_host()'

function H.on_exit(code)
  local was = H.chan
  -- A host that never introduced itself (no pynvim in that Python, ...) is
  -- left to Neovim's own host, which explains what is missing.
  local introduced = was and H.introduced
  H.chan = nil
  H.setup_sent = false
  if vim.v.exiting ~= vim.NIL then return end
  -- Calls go through Neovim's own host from now on (it says what is missing).
  H.own_failed = true
  if introduced and code ~= 0 then
    local tail = table.concat(vim.list_slice(H.stderr or {}, math.max(1, #(H.stderr or {}) - 4)), '\n')
    vim.schedule(function()
      vim.notify(('hexai: the Python host exited (code %d)%s'):format(code,
        tail ~= '' and (':\n' .. tail) or ''), vim.log.levels.WARN)
    end)
  end
end

function H.call(fn, method, payload)
  if payload == nil or (type(payload) == 'table' and next(payload) == nil) then
    payload = vim.empty_dict()
  end
  if H.chan or M.start() then
    local name = H.shim .. ':function:' .. fn
    if fn == 'HexaiNotify' then
      return pcall(vim.rpcnotify, H.chan, name, { method, payload })
    end
    local ok, res = pcall(vim.rpcrequest, H.chan, name, { method, payload })
    if ok then
      H.introduced = true
      return H.checked(res)
    end
    if H.chan then return false, res end -- the host answered with an error
    -- The host died meanwhile: fall through to Neovim's own host.
  end
  local ok, res = pcall(vim.fn[fn], method, payload)
  if not ok then
    H.report_missing(tostring(res))
    return false, res
  end
  return H.checked(res)
end

--- A request's answer: the shim's stand-in (the host runs but cannot load
--- the plugin, see hexai_nvim.unavailable) is a failure with the fix.
function H.checked(res)
  if type(res) == 'table' and res.unavailable then
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
  local options = require('hexai').options
  local ok = H.call('HexaiNotify', 'setup', H.setup_payload())
  H.setup_sent = ok
  if ok then H.options_sent = options end
  return ok
end

--- Whether the host was sent `options` (the table `require('hexai').options`
--- held): its settings then include them, checked.
function M.has_options(options)
  return options ~= nil and H.options_sent == options
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
