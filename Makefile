# jobline: every target does its own set-up on a fresh machine (venv, packages, services).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv services services-down lint typecheck test unit integration faults demo bench clean

all: test

# constraints.txt pins every package (tools included) to versions CI passed with, so that a
# new ruff or mypy release cannot break CI overnight; refresh it on purpose (see its head).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

services:
	scripts/services up

services-down:
	scripts/services down

lint: venv
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv services
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# Restarts PostgreSQL and Kafka under load and counts jobs lost and run twice.
faults: venv services
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

test: venv services lint typecheck
	$(BIN)/pytest tests/unit tests/integration tests/faults --durations=10 $(PYTEST_ARGS)

demo: venv services
	$(BIN)/python examples/demo.py

bench: venv services
	$(BIN)/python benchmarks/baseline.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
