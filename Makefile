# Two commands need nothing but python3 and make: `make demo` and `make test`.
# Each bootstraps .venv (created when missing, reinstalled when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WHEELS := $(VENV)/wheelhouse

.PHONY: demo test lint bench clean real-server vendor

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m hexai_nvim.demo

# The real lazy.nvim, nvim-cmp, cmp-buffer and blink.cmp of the e2e tests: ../shared/vendor
# when it is there (as in CI), else cloned there at their pinned commits (needs GitHub).
test: $(STAMP) real-server $(WHEELS)/.done vendor
	$(BIN)/python -m pytest

# Wheels of pynvim and the runtime dependencies, for the install tests: they build a
# "Python with only pynvim" and run the plugin's build offline (tests use no network).
$(WHEELS)/.done: pyproject.toml $(STAMP)
	$(BIN)/python hexai_nvim/deps.py wheelhouse $(WHEELS)
	@touch $@

# The real llama.cpp server and model of the real-server tests: built once per machine
# (minutes, with progress) into ~/.cache/hexai-nvim/llama-server, outside the checkout.
real-server:
	@$(PYTHON) tests/llama_server.py

lint: $(STAMP)
	$(BIN)/ruff check hexai_nvim tests bench rplugin
	$(BIN)/mypy

bench: $(STAMP) real-server
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/nvim_latency.py
	$(BIN)/python bench/menu_arrival.py
	$(BIN)/python bench/ask_stream.py
	$(BIN)/python bench/arena_rating.py
	$(BIN)/python bench/real_rate.py

# The unmodified third-party plugins the end-to-end tests drive (../shared/vendor/<name>,
# present in this workplace and in CI). Elsewhere this clones the same commits.
VENDOR := ../shared/vendor
VENDORED := lazy.nvim=folke/lazy.nvim@306a05526ada86a7b30af95c5cc81ffba93fef97 \
            nvim-cmp=hrsh7th/nvim-cmp@a1d504892f2bc56c2e79b65c6faded2fd21f3eca \
            cmp-buffer=hrsh7th/cmp-buffer@b74fab3656eea9de20a9b8116afa3cfc4ec09657 \
            blink.cmp=Saghen/blink.cmp@73ea297bc665c936b51797d5a55599536ffee0d8

vendor:
	@for spec in $(VENDORED); do \
	  name=$${spec%%=*}; rest=$${spec#*=}; repo=$${rest%@*}; commit=$${rest#*@}; \
	  if [ -d "$(VENDOR)/$$name/lua" ]; then echo "vendor: $$name present"; continue; fi; \
	  echo "vendor: cloning $$repo at $$commit"; \
	  git clone --quiet "https://github.com/$$repo" "$(VENDOR)/$$name" && \
	  git -C "$(VENDOR)/$$name" checkout --quiet "$$commit" || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
