# Two commands need nothing but python3 and make: `make demo` and `make test`.
# Each bootstraps .venv (created when missing, reinstalled when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m hexai_nvim.demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check hexai_nvim tests bench rplugin
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/nvim_latency.py
	$(BIN)/python bench/ask_stream.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
