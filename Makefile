# Two commands need nothing but python3 and make: `make demo` and `make test`.
# Each bootstraps .venv (created when missing, reinstalled when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean real-server

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m hexai_nvim.demo

test: $(STAMP) real-server
	$(BIN)/python -m pytest

# The real llama.cpp server and model of the real-server tests: built once per machine
# (minutes, with progress) into ~/.cache/hexai-nvim/llama-server, outside the checkout.
real-server:
	@$(PYTHON) tests/llama_server.py

lint: $(STAMP)
	$(BIN)/ruff check hexai_nvim tests bench rplugin
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/nvim_latency.py
	$(BIN)/python bench/ask_stream.py
	$(BIN)/python bench/arena_rating.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
