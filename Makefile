# GxPFlow: `make run` sets everything up and serves the app with demo data;
# `make test` sets up the same way and runs lint, type checks and the whole suite.

PORT ?= 5000
VENV ?= .venv
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(not (3,11) <= sys.version_info[:2] < (3,13))'; then echo $$p; break; fi; done)
BIN := $(VENV)/bin

.PHONY: run test setup setup-test bench clean

run: setup
	$(BIN)/gxpflow init
	$(BIN)/gxpflow demo
	PORT=$(PORT) $(BIN)/gxpflow serve

test: setup setup-test
	bin/test

setup: $(VENV)/.installed
	bin/setup-assets

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "GxPFlow needs Python 3.11 or 3.12 (python3.12/python3.11 not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup-test:
	bin/setup-browser

bench: setup
	@cat bench/README.md

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
