# jobline: every target does its own set-up on a fresh machine (venv, packages, services).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv services services-down toxiproxy lint typecheck test unit integration faults chaos \
	faults-down demo bench clean

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

lint: venv
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv services
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# The fault suite (docs/reliability.md) runs on its OWN PostgreSQL, Kafka and Toxiproxy
# (.local/faults, ports 25432/29092/29093/28474; its session fixture starts them), never on
# the shared ones: it crashes and restarts them. Kafka's jars are shared with `services`.
FAULTS_ENV := JOBLINE_SERVICES_DIR=$(CURDIR)/.local/faults JOBLINE_PG_PORT=25432 \
	JOBLINE_KAFKA_PORT=29092 JOBLINE_KAFKA_CONTROLLER_PORT=29093 JOBLINE_KAFKA_PROXIED_PORT=29094 \
	JOBLINE_KAFKA_PROXIED_ADVERTISED_PORT=29095 JOBLINE_TOXIPROXY_PORT=28474

toxiproxy:
	scripts/toxiproxy install

# Counts, per scenario, jobs lost and run twice; prints the table. Part of `make test`.
faults: venv toxiproxy
	$(BIN)/pytest tests/faults -m "not chaos" --durations=0 $(PYTEST_ARGS)

# The long scenarios (Kafka down a minute, ...): nightly, not in `make test`.
chaos: venv toxiproxy
	$(BIN)/pytest tests/faults -m chaos --durations=0 $(PYTEST_ARGS)

# Stops the fault suite's private services (the shared ones are left alone).
faults-down:
	$(FAULTS_ENV) scripts/toxiproxy down
	$(FAULTS_ENV) scripts/services down

test: venv services toxiproxy lint typecheck
	$(BIN)/pytest tests/unit tests/integration tests/faults -m "not chaos" --durations=10 \
		$(PYTEST_ARGS)

demo: venv services
	$(BIN)/python examples/demo.py

bench: venv services
	$(BIN)/python benchmarks/baseline.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
