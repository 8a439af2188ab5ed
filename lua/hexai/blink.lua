--- hexai.blink: a blink.cmp source module.
---
--- In blink.cmp's config:
---   sources = {
---     default = { 'lsp', 'path', 'buffer', 'hexai' },
---     providers = { hexai = { name = 'hexai', module = 'hexai.blink', async = true } },
---   }
--- One item per completion entry that answered, in config order; the
--- entry's label is the item's `labelDetails.description` (shown in the menu)
--- and the documentation holds the full suggestion and its stats. Each entry
--- is appended as soon as it answers (blink.cmp appends the items of every
--- callback), so a stalled entry never holds back the others. Using the
--- source turns off the automatic ghost text (see |hexai-completion-display|).
---
--- The arena (|hexai-arena|) follows blink.cmp's completion list, whose
--- events its own menu window draws from: `show` (the items as shown, after
--- its fuzzy filter), `accept` (the item accepted: ours is an accept,
--- another source's is moving on) and `hide`. blink.cmp hides the list before
--- it accepts (after resolving the item, up to `resolve_timeout_ms`), so a
--- hide is decided that much later.
local M = {}
local H = {}

-- Module definition ===========================================================

--- A new source object (blink.cmp calls `new(opts, provider_config)`).
function M.new(opts)
  require('hexai').menu_source_registered('blink')
  H.watch()
  return setmetatable({ opts = opts or {} }, { __index = M })
end

function M:enabled() return require('hexai.completion').is_enabled(0) end

function M:get_trigger_characters()
  return vim.deepcopy((require('hexai').settings or {}).trigger_characters or {})
end

--- blink.cmp calls this; `callback` gets the entries that answered since its
--- last call (blink.cmp appends them), and is always called at least once.
--- Returns a cancel function.
function M:get_completions(ctx, callback)
  local over, calls, sent = false, 0, {}
  local function send(items)
    calls = calls + 1
    callback({ items = items, is_incomplete_forward = false, is_incomplete_backward = false })
  end
  ctx = ctx or {}
  local buf = ctx.bufnr or vim.api.nvim_get_current_buf()
  local cursor = ctx.cursor or vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1], cursor[2]
  local line = ctx.line or vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1] or ''
  local before = line:sub(1, col)
  -- blink replaces the keyword left of the cursor with insertText.
  local start_col = ctx.bounds and ctx.bounds.start_col or (#before - #(before:match('[%w_]*$') or '') + 1)
  local typed = before:sub(start_col)
  local seq = require('hexai.completion').request('blink', {
    buf = buf, row = row, col = col,
    manual = ctx.trigger ~= nil and ctx.trigger.kind == 1 or false,
    callback = function(snapshot)
      if over then return end
      if snapshot == nil then -- superseded or not sent
        over = true
        if calls == 0 then send({}) end
        return
      end
      local new = require('hexai.cmp').items(snapshot, typed, function(e) return not sent[e.index] end)
      for _, item in ipairs(new) do sent[item.data.hexai.index] = true end
      if #new > 0 or (snapshot.done and calls == 0) then send(new) end
      if snapshot.done then over = true end
    end,
  })
  if not seq and not over then
    over = true
    if calls == 0 then send({}) end
  end
  return function()
    if not over then
      over = true
      require('hexai.completion').cancel('blink')
    end
  end
end

-- Helper functionality ========================================================

--- Follow blink.cmp's completion list for the arena (once; nothing is
--- recorded when this blink.cmp has no such list).
function H.watch()
  if H.watching then return end
  local ok, list = pcall(require, 'blink.cmp.completion.list')
  if not ok or type(list) ~= 'table' or not (list.show_emitter and list.hide_emitter
    and list.accept_emitter) then return end
  H.watching = true
  local arena = function() return require('hexai.arena') end
  local cmp = require('hexai.cmp')
  local function item_of(item) return item end
  list.show_emitter:on(function(event)
    local seq, anchor, items = cmp.shown(event.items, item_of)
    if seq then arena().menu_shown('blink', seq, anchor, items) end
  end)
  list.hide_emitter:on(function()
    local config_ok, config = pcall(require, 'blink.cmp.config')
    local accept = config_ok and config.completion and config.completion.accept or {}
    arena().menu_closed('blink', (accept.resolve_timeout_ms or 100) + 100)
  end)
  list.accept_emitter:on(function(event)
    local seq, _, items = cmp.shown({ event.item }, item_of)
    if seq then return arena().menu_chosen('blink', seq, items[1].index) end
    arena().menu_other('blink')
  end)
end

return M
