--- hexai.cmp: an nvim-cmp source named `hexai`.
---
--- One item per completion entry that answered, in config order. The item's
--- label is the suggestion's first line (after the word being typed), the
--- menu column shows the entry's label (`labelDetails.description`) and the
--- documentation the full suggestion with its stats.
---
--- Each entry shows as soon as it answers: the source calls nvim-cmp's
--- callback again with the grown list (nvim-cmp takes every call of the
--- latest request and refilters, keeping an entry the person has selected),
--- so a stalled entry never holds back the others.
---
--- The arena (|hexai-arena|) learns what the menu showed and how it ended
--- from nvim-cmp's own events: `menu_opened` (the entries as shown: hexai's
--- items and their position among them), `menu_closed` (an entry marked
--- `confirmed` was chosen: ours is an accept, another source's is moving on;
--- without `complete_done` before it the menu was aborted: a dismiss).
---
--- Registered by `require('hexai').setup()` when nvim-cmp is already loaded;
--- otherwise call `require('hexai.cmp').register()` after nvim-cmp, then add
--- `{ name = 'hexai' }` to your cmp sources. Registering turns off the
--- automatic ghost text (see |hexai-completion-display|).
local M = {}
local H = {}

-- Module definition ===========================================================

M.name = 'hexai'

--- A new source object (what `cmp.register_source` takes).
function M.new()
  return setmetatable({}, { __index = M })
end

--- Register the source with nvim-cmp (no-op when nvim-cmp is missing).
function M.register()
  local ok, cmp = pcall(require, 'cmp')
  if not ok or type(cmp) ~= 'table' or not cmp.register_source then return false end
  if H.registered then return true end
  H.registered = cmp.register_source(M.name, M.new())
  require('hexai').menu_source_registered(M.name)
  H.watch(cmp)
  return true
end

function M:get_debug_name() return M.name end

function M:is_available() return require('hexai.completion').is_enabled(0) end

function M:get_trigger_characters()
  return vim.deepcopy((require('hexai').settings or {}).trigger_characters or {})
end

function M:get_keyword_pattern() return [[\k*]] end

--- nvim-cmp calls this. `callback` gets the items so far each time another
--- entry answers (nvim-cmp takes repeated calls of its latest request), and
--- is always called at least once.
function M:complete(params, callback)
  local calls, shown = 0, -1
  local function send(items, incomplete)
    calls = calls + 1
    shown = #items
    callback({ items = items, isIncomplete = incomplete })
  end
  local context = params and params.context or {}
  local buf = context.bufnr or vim.api.nvim_get_current_buf()
  local cursor = context.cursor
  local row, col
  if cursor and cursor.row then
    row, col = cursor.row, (cursor.col or 1) - 1
  else
    local c = vim.api.nvim_win_get_cursor(0)
    row, col = c[1], c[2]
  end
  local before = context.cursor_before_line
    or (vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1] or ''):sub(1, col)
  -- nvim-cmp replaces the keyword from `offset` to the cursor with insertText.
  local offset = params and params.offset or (#before - #(before:match('[%w_]*$') or '') + 1)
  local typed = before:sub(offset)
  local manual = params and params.completion_context
    and params.completion_context.triggerKind == 1 or false
  local seq = require('hexai.completion').request('cmp', {
    buf = buf, row = row, col = col, manual = manual,
    callback = function(snapshot)
      if snapshot == nil then -- superseded or not sent
        if calls == 0 then send({}, true) end
        return
      end
      local items = M.items(snapshot, typed)
      -- An empty answer resets nvim-cmp's request: only send one at the end.
      if #items > shown and #items > 0 then
        -- Incomplete while entries are still on their way: nvim-cmp asks again
        -- rather than keep a list that is still growing as final.
        send(items, not snapshot.done)
      elseif snapshot.done and calls == 0 then
        send(items, false)
      end
    end,
  })
  if not seq and calls == 0 then send({}, true) end
end

--- LSP-style completion items for the entries of a snapshot that answered
--- (all of them, or those `wanted(entry)` accepts).
function M.items(snapshot, typed, wanted)
  typed = typed or ''
  local kind = (vim.lsp.protocol.CompletionItemKind or {}).Text or 1
  local items = {}
  for _, e in ipairs(snapshot.entries or {}) do
    if e.status == 'ok' and e.text ~= '' and (wanted == nil or wanted(e)) then
      local text = typed .. e.text
      local first = vim.split(text, '\n', { plain = true })[1]
      items[#items + 1] = {
        label = first ~= '' and first or text:gsub('^%s+', ''):sub(1, 60),
        insertText = text,
        insertTextFormat = 1, -- plain text
        kind = kind,
        sortText = ('%04d'):format(e.index),
        labelDetails = { description = e.label },
        detail = e.label,
        documentation = {
          kind = 'markdown',
          value = H.markdown(e, snapshot),
        },
        data = { hexai = { label = e.label, index = e.index, seq = snapshot.seq, text = e.text,
          buf = snapshot.buf, row = snapshot.row, col = snapshot.col } },
      }
    end
  end
  return items
end

-- Helper functionality ========================================================

--- The hexai items among menu entries (nvim-cmp entries or blink.cmp items,
--- `item_of(entry)` gives the completion item), in the order shown:
--- `seq, anchor, { { index, text }... }` of the latest trigger among them.
function M.shown(entries, item_of)
  local seq, anchor, items = nil, nil, {}
  for _, entry in ipairs(entries or {}) do
    local item = item_of(entry)
    local data = type(item) == 'table' and type(item.data) == 'table' and item.data.hexai
    if type(data) == 'table' and data.seq then
      if seq == nil or data.seq > seq then
        seq, anchor, items = data.seq, { buf = data.buf, row = data.row, col = data.col }, {}
      end
      if data.seq == seq then items[#items + 1] = { index = data.index, text = data.text or '' } end
    end
  end
  return seq, anchor, items
end

--- Follow nvim-cmp's menu for the arena (once).
function H.watch(cmp)
  if H.watching or type(cmp.event) ~= 'table' or not cmp.event.on then return end
  H.watching = true
  local arena = function() return require('hexai.arena') end
  local function item_of(entry) return entry.completion_item end
  cmp.event:on('menu_opened', function()
    local entries = cmp.get_entries and cmp.get_entries() or {}
    H.entries, H.closing = entries, false
    local seq, anchor, items = M.shown(entries, item_of)
    if seq then arena().menu_shown('cmp', seq, anchor, items) end
  end)
  -- view:close() emits it before menu_closed; view:abort() does not.
  cmp.event:on('complete_done', function() H.closing = true end)
  cmp.event:on('menu_closed', function()
    local entries, closing = H.entries, H.closing
    H.entries, H.closing = nil, false
    if entries == nil then return end -- not open
    for _, entry in ipairs(entries) do
      if entry.confirmed then
        local seq, _, items = M.shown({ entry }, item_of)
        if seq then return arena().menu_chosen('cmp', seq, items[1].index) end
        return arena().menu_other('cmp')
      end
    end
    if not closing then return arena().menu_dismissed('cmp') end
    arena().menu_closed('cmp')
  end)
end

function H.markdown(e, snapshot)
  local ft = snapshot.filetype or vim.bo.filetype or ''
  return ('```%s\n%s\n```\n\n%s'):format(ft, e.text, require('hexai.menu').stats_line(e))
end

return M
