--- hexai.scratch: the plugin's own read-only buffers (the results of
--- :HexaiAsk, the :HexaiConfigCheck report, the code action preview).
---
--- The person reads them; only the plugin writes, through `set_lines()`.
local M = {}

--- A new unlisted scratch buffer named `name` (no file, no swap file),
--- read-only for the person. `bufhidden` defaults to 'hide'.
function M.create(name, filetype, bufhidden)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = bufhidden or 'hide'
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, name) -- taken by a buffer the person kept: no name
  vim.bo[buf].filetype = filetype
  return buf
end

--- Replace rows `from`..`to` (end-exclusive, like nvim_buf_set_lines) of a
--- buffer made by `create()`; nothing when `buf` is gone.
function M.set_lines(buf, from, to, lines)
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then return end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, from, to, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
end

return M
