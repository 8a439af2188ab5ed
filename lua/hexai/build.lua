--- hexai.build: `:HexaiBuild`, the install step of every plugin manager.
---
--- What it does, in order (each failure raises an error naming the fix, so
--- lazy.nvim shows the build as failed instead of "done"):
--- 1. finds the Python of the python3 provider (`g:python3_host_prog`, else
---    what Neovim detects) and checks it has pynvim;
--- 2. installs the other Python dependencies with that Python into the
---    plugin's own `deps/<tag>` folder (`hexai_nvim/deps.py`: `pip install
---    --target`, allowed even by a PEP 668 "externally managed" Python), which
---    the rplugin shim puts on `sys.path`;
--- 3. puts the plugin on 'runtimepath' if it is not there yet (lazy.nvim runs
---    builds before a lazy-loaded plugin is on it) and runs
---    `:UpdateRemotePlugins`, then checks that the manifest names the plugin;
--- 4. registers it in the running session too, so the first `:HexaiAsk`
---    works without a restart (when the python3 host is already running for
---    another plugin, a restart is needed and it says so);
--- 5. generates the help tags of `doc/`.
---
--- Used as `build = ':HexaiBuild'` (lazy.nvim), `'do': ':HexaiBuild'`
--- (vim-plug), or by hand. Needs nothing from `setup()`.
local M = {}
local H = {}

--- The plugin's root folder (the one holding `lua/`, `rplugin/`, `hexai_nvim/`).
function M.root()
  local here = debug.getinfo(1, 'S').source:sub(2)
  return vim.fn.fnamemodify(here, ':p:h:h:h')
end

--- The Python the python3 provider runs: `g:python3_host_prog`, else the one
--- Neovim detects, else `python3` on PATH.
function M.python()
  local prog = vim.g.python3_host_prog
  if type(prog) == 'string' and prog ~= '' then
    prog = vim.fn.expand(prog)
    local found = vim.fn.exepath(prog)
    return found ~= '' and found or prog
  end
  local ok, provider = pcall(require, 'vim.provider.python')
  if ok and provider.detect_by_module then
    local found = provider.detect_by_module('neovim')
    if type(found) == 'string' and found ~= '' then return found end
  end
  local found = vim.fn.exepath('python3')
  return found ~= '' and found or 'python3'
end

--- The rplugin manifest `:UpdateRemotePlugins` writes.
function M.manifest()
  local loaded = vim.g.loaded_remote_plugins
  if type(loaded) == 'string' and loaded ~= '' then return loaded end
  local env = vim.env.NVIM_RPLUGIN_MANIFEST
  if env and env ~= '' then return env end
  return vim.fn.stdpath('data') .. '/rplugin.vim'
end

--- Run every step; `opts`: root, python. Raises on failure.
function M.run(opts)
  opts = opts or {}
  local root = opts.root or M.root()
  local python = opts.python or M.python()
  H.say('hexai.nvim: building with ' .. python)
  H.need_pynvim(python)
  H.install_deps(root, python)
  local state = M.register(root)
  pcall(vim.cmd, 'silent! helptags ' .. vim.fn.fnameescape(root .. '/doc'))
  H.say(('hexai.nvim: built: dependencies in %s/deps, registered in %s%s'):format(
    root, M.manifest(), state == 'restart' and ' (restart Neovim to use it)' or ''))
  return state
end

--- Steps 3 and 4 only. Returns 'registered' (usable now) or 'restart'.
function M.register(root)
  root = vim.fn.fnamemodify(root, ':p'):gsub('/$', '')
  local shim = vim.fn.resolve(root .. '/rplugin/python3/hexai.py')
  if not vim.tbl_contains(vim.api.nvim_list_runtime_paths(), root) then
    vim.opt.runtimepath:prepend(root)
  end
  vim.cmd('silent UpdateRemotePlugins')
  local manifest = M.manifest()
  local block = H.manifest_block(manifest, shim)
  if not block then
    error(('hexai.nvim: :UpdateRemotePlugins did not register %s in %s; see :messages and '
      .. ':checkhealth provider'):format(shim, manifest), 0)
  end
  for _, plugin in ipairs(vim.fn['remote#host#PluginsForHost']('python3')) do
    if plugin.path == shim then return 'registered' end
  end
  local file = vim.fn.tempname() .. '.vim'
  vim.fn.writefile(block, file)
  local ok = pcall(vim.cmd.source, vim.fn.fnameescape(file))
  vim.fn.delete(file)
  return ok and 'registered' or 'restart'
end

--- The plugin manager's command that runs the build for this checkout:
--- `:Lazy build <name>` when lazy.nvim manages it, else `:HexaiBuild`.
function M.command()
  local root = vim.fn.resolve(M.root())
  if package.loaded['lazy'] then
    local ok, config = pcall(require, 'lazy.core.config')
    for name, plugin in pairs(ok and config.plugins or {}) do
      if type(plugin) == 'table' and plugin.dir and vim.fn.resolve(plugin.dir) == root then
        return ':Lazy build ' .. name
      end
    end
  end
  return ':HexaiBuild'
end

--- Why the Python host is not usable, and the exact fix for this install:
--- `{ problem = ..., fix = ... }`, or nil when nothing is wrong on disk.
--- Runs the provider's Python once (a few tens of ms); call it on failures only.
function M.diagnose()
  local python, root, build = M.python(), M.root(), M.command()
  local rebuild = build .. ' (it installs the Python dependencies into ' .. root
    .. '/deps and registers the plugin), then restart Neovim'
  if vim.fn.executable(python) == 0 then
    return { problem = 'the python3 provider\'s Python ' .. python .. ' cannot be run',
      fix = 'set g:python3_host_prog to a Python 3 that has pynvim (:help provider-python), then '
        .. rebuild }
  end
  local probe = H.run({ python, '-c',
    'import sys; print(sys.implementation.cache_tag); import pynvim' })
  local tag = vim.split(probe.stdout or '', '\n')[1] or ''
  if probe.code ~= 0 then
    return { problem = python .. ' has no pynvim',
      fix = ('install it (Debian/Ubuntu: sudo apt install python3-pynvim; else %s -m pip '
        .. 'install pynvim) or set g:python3_host_prog to a Python that has it, then %s'):format(
        python, rebuild) }
  end
  if not H.manifest_block(M.manifest(), vim.fn.resolve(root .. '/rplugin/python3/hexai.py')) then
    return { problem = 'the remote plugin is not registered in ' .. M.manifest(), fix = rebuild }
  end
  if tag ~= '' and vim.fn.isdirectory(root .. '/deps/' .. tag) == 0 then
    return { problem = 'the Python dependencies for ' .. python .. ' are not installed',
      fix = rebuild }
  end
  return nil
end

--- One line for a failure of the host: what is wrong and the fix.
function M.explain(detail)
  local found = M.diagnose()
  if found then return ('%s. Fix: %s.'):format(found.problem, found.fix) end
  return ('%s. Fix: %s; :checkhealth hexai and :HexaiLog tell more.'):format(
    detail or 'the Python host does not answer', 'restart Neovim, else run ' .. M.command())
end

-- Helpers =====================================================================

function H.say(msg)
  vim.api.nvim_echo({ { msg } }, true, {})
end

function H.run(cmd, cwd)
  local ok, proc = pcall(vim.system, cmd, { text = true, cwd = cwd })
  if not ok then return { code = -1, stdout = '', stderr = tostring(proc) } end
  return proc:wait()
end

function H.need_pynvim(python)
  local result = H.run({ python, '-c', 'import pynvim' })
  if result.code == 0 then return end
  local why = result.code == -1 and ('cannot run it: ' .. result.stderr) or 'it has no pynvim'
  error(('hexai.nvim: the python3 provider\'s Python %s: %s. Install pynvim for it '
    .. '(Debian/Ubuntu: sudo apt install python3-pynvim; else %s -m pip install pynvim), '
    .. 'or set g:python3_host_prog to a Python that has it; then run :HexaiBuild'):format(
    python, why, python), 0)
end

function H.install_deps(root, python)
  local result = H.run({ python, root .. '/hexai_nvim/deps.py', 'install', '--quiet' }, root)
  if result.code == 0 then return end
  local lines = vim.split(vim.trim((result.stderr or '') .. '\n' .. (result.stdout or '')), '\n')
  local tail = table.concat(vim.list_slice(lines, math.max(1, #lines - 7)), '\n')
  error(('hexai.nvim: installing the Python dependencies failed (exit %d):\n%s'):format(
    result.code, tail), 0)
end

--- The manifest's lines that register `shim`, or nil.
function H.manifest_block(manifest, shim)
  if vim.fn.filereadable(manifest) == 0 then return nil end
  local lines, block = vim.fn.readfile(manifest), nil
  local head = "call remote#host#RegisterPlugin('python3', '" .. shim .. "', ["
  for _, line in ipairs(lines) do
    if block then
      block[#block + 1] = line
      if line:find('\\ ])', 1, true) then break end
    elseif line == head then
      block = { line }
    end
  end
  if not block then return nil end
  local text = table.concat(block, '\n')
  if not text:find('HexaiRequest', 1, true) or not text:find('HexaiNotify', 1, true) then return nil end
  return block
end

return M
