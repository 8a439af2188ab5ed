-- hexai.nvim is configured with require('hexai').setup(); nothing happens at start-up.
if vim.g.loaded_hexai then return end
vim.g.loaded_hexai = 1
