-- hexai.nvim is configured with require('hexai').setup(); nothing else happens at start-up.
if vim.g.loaded_hexai then return end
vim.g.loaded_hexai = 1

-- The install step (lazy.nvim `build = ':HexaiBuild'`, vim-plug `'do': ':HexaiBuild'`):
-- it must exist before setup(). See :help hexai-install.
vim.api.nvim_create_user_command('HexaiBuild', function() require('hexai.build').run() end,
  { desc = 'hexai: install the Python dependencies and register the remote plugin' })
