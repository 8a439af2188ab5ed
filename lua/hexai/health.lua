--- :checkhealth hexai
---
--- Neovim version, the python3 provider, whether the remote plugin is
--- registered (with the fix when it is not), the host's Python, pynvim and
--- aiohttp versions, then the same lines as :HexaiConfigCheck (files, problems,
--- warnings, entries, keys, live probe) as vim.health verdicts. The probe is
--- bounded to 2 s (it blocks Neovim); :HexaiConfigCheck runs the full one.
local M = {}
local H = {}

function M.check()
  local health = vim.health

  health.start('hexai: Neovim')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. version)
  else
    health.error('Neovim ' .. version .. ' is too old', { 'hexai.nvim needs Neovim 0.10 or newer' })
  end

  health.start('hexai: Python host')
  local python_ok = H.python_provider(health)
  local registered = H.registration(health)
  local host_ok = false
  if python_ok and registered then host_ok = H.host(health) end

  if not host_ok then
    health.start('hexai: configuration')
    health.warn('skipped: the Python host is not answering (see above)')
    return
  end
  -- Bounded: :checkhealth blocks Neovim while it runs, so the probe gets a
  -- short budget here; :HexaiConfigCheck runs the full one in the background.
  local lines, summary, done = require('hexai.check').collect({
    probe = true, timeout = H.PROBE_BUDGET_S, wait_ms = H.WAIT_MS,
  })
  local cut = not done
  local section = nil
  for _, line in ipairs(lines) do
    if line.section ~= section then
      section = line.section
      health.start('hexai: ' .. (section ~= '' and section or 'check'))
    end
    H.report(health, line)
    if line.level == 'ERROR' and line.text:find('no answer within', 1, true) then cut = true end
  end
  health.start('hexai: summary')
  if summary then
    -- The verdict over the lines above, not one more problem: as info, so
    -- :checkhealth's count of errors and warnings is the lines' own.
    health.info(summary.level .. ': ' .. summary.text)
  elseif not done then
    health.warn(('the check did not finish within %g s'):format(H.WAIT_MS / 1000),
      { 'run :HexaiConfigCheck for the full check (it does not block Neovim)',
        'see :HexaiLog for what the host did' })
  end
  if cut then
    health.info(('the live probe is bounded to %g s here: run :HexaiConfigCheck for the full '
      .. 'probe'):format(H.PROBE_BUDGET_S))
  end
end

--- The live probe's budget in :checkhealth, and the most it waits in all.
H.PROBE_BUDGET_S = 2
H.WAIT_MS = 2800

--- The exact fix for this install (the plugin manager's build command, or
--- what the provider's Python lacks); see hexai.build.diagnose.
function H.fix()
  local build = require('hexai.build')
  local found = build.diagnose()
  if found then return found.problem .. ': ' .. found.fix end
  return 'run ' .. build.command() .. ', then restart Neovim'
end

function H.report(health, line)
  if line.level == 'OK' then
    health.ok(line.text)
  elseif line.level == 'WARN' then
    health.warn(line.text)
  else
    health.error(line.text)
  end
end

function H.python_provider(health)
  local prog, err
  local has_lua, provider = pcall(require, 'vim.provider.python')
  if has_lua and provider.detect_by_module then
    -- Neovim 0.10+: the provider lives in Lua.
    prog, err = provider.detect_by_module('neovim')
  else
    local ok_prog, found = pcall(vim.fn['provider#python3#Prog'])
    local ok_err, message = pcall(vim.fn['provider#python3#Error'])
    prog = ok_prog and found or nil
    err = ok_err and message or nil
  end
  if not prog or prog == '' then
    health.error('no python3 provider' .. ((err and err ~= '') and (': ' .. err) or ''),
      { H.fix() })
    return false
  end
  health.ok('python3 provider: ' .. prog)
  return true
end

--- The manifest written by :UpdateRemotePlugins must name our shim.
function H.registration(health)
  local manifest = vim.env.NVIM_RPLUGIN_MANIFEST
  if not manifest or manifest == '' then manifest = vim.fn.stdpath('data') .. '/rplugin.vim' end
  local fix = { H.fix() }
  local f = io.open(manifest, 'r')
  if not f then
    health.error('remote plugin not registered: no manifest at ' .. manifest, fix)
    return false
  end
  local text = f:read('*a')
  f:close()
  if not text:find('rplugin/python3/hexai.py', 1, true) or not text:find('HexaiRequest', 1, true) then
    health.error('remote plugin not registered in ' .. manifest, fix)
    return false
  end
  local shim = text:match("'([^']*rplugin/python3/hexai%.py)'")
  if shim and vim.fn.filereadable(shim) == 0 then
    health.error('the manifest names a plugin file that no longer exists: ' .. shim, fix)
    return false
  end
  health.ok('remote plugin registered (' .. manifest .. ')')
  return true
end

function H.host(health)
  local ok, info, err = pcall(require('hexai.rpc').request, 'check.info')
  if not ok or not info then
    health.error('the Python host does not answer: ' .. tostring(ok and err or info),
      { H.fix(), ':HexaiLog shows the host log' })
    return false
  end
  health.ok(('host answers: hexai.nvim %s on Python %s (%s)'):format(
    info.hexai_nvim, info.python, info.python_executable))
  for _, pkg in ipairs({ 'pynvim', 'aiohttp' }) do
    local version = info[pkg]
    if version and version ~= vim.NIL then
      health.ok(pkg .. ' ' .. version)
    else
      health.error(pkg .. ' is not installed in the host Python', { H.fix() })
    end
  end
  return true
end

return M
