# jobline: every target does its own set-up on a fresh machine (venv, packages, services).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv services services-down tools alerts lint typecheck test unit integration faults demo bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

services:
	scripts/services up

services-down:
	scripts/services down

# promtool and prometheus (Debian package `prometheus`), installed only when missing.
tools:
	scripts/install-tools

# The alert rules load, and each alert fires on trouble and stays quiet when healthy.
alerts: tools
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

lint: venv
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv services tools
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# Restarts PostgreSQL and Kafka under load and counts jobs lost and run twice.
faults: venv services
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

test: venv services tools lint typecheck alerts
	$(BIN)/pytest tests/unit tests/integration tests/faults --durations=10 $(PYTEST_ARGS)

demo: venv services
	$(BIN)/python examples/demo.py

bench: venv services
	$(BIN)/python benchmarks/baseline.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
