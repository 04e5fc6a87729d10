# The two commands of the README: `make demo` (sandbox + Dagster UI) and `make test`.
# `make demo UI_PORT=3001` serves the UI on another port; `FRESH=0` keeps the history a previous
# demo loaded; `VERBOSE=1` prints the daemon's and every run's INFO and DEBUG lines.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UI_PORT ?= 3000
FRESH ?= 1
VERBOSE ?= 0

.PHONY: setup demo test lint bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/payments-demo --ui-port $(UI_PORT) \
		$(if $(filter 0,$(FRESH)),--keep-history) $(if $(filter 1,$(VERBOSE)),--verbose)

test: setup
	bash .ci/system-packages
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/ingest_throughput.py
