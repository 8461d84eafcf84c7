# jobline: every target does its own set-up on a fresh machine (venv, packages, services).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv services services-down pgbouncer tools alerts toxiproxy lint typecheck test unit \
	integration test-pgbouncer faults chaos faults-down demo bench bench-peers bench-smoke clean chromium \
	dashboard-test screenshots deploy-check deploy-sync deploy-render deploy-lint \
	deploy-wheelhouse constraints helm

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

# promtool and prometheus (Debian package `prometheus`), installed only when missing.
tools:
	scripts/install-tools

# The alert rules load, and each alert fires on trouble and stays quiet when healthy.
alerts: tools
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

# PgBouncer in transaction mode before the private PostgreSQL (tests/pgbouncer); installs
# the Debian package when missing.
pgbouncer: services
	scripts/pgbouncer up

lint: venv
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv services tools
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# The integration, conformance and dashboard suites again, with jobline's database URLs
# through PgBouncer in transaction mode (tests/db_route.py; docs/configuration.md, Behind
# PgBouncer). Not part of `make test`.
test-pgbouncer: venv services pgbouncer tools chromium
	JOBLINE_TEST_DB_ROUTE=pgbouncer $(BIN)/pytest tests/conformance tests/integration \
		tests/dashboard -m "not chaos" --durations=10 $(PYTEST_ARGS)

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

# The long scenarios (Kafka down a minute, real-minute scheduler ticks, ...): nightly, not
# in `make test`.
chaos: venv services toxiproxy
	$(BIN)/pytest tests/faults tests/integration -m chaos --durations=0 $(PYTEST_ARGS)

# Stops the fault suite's private services (the shared ones are left alone).
faults-down:
	$(FAULTS_ENV) scripts/toxiproxy down
	$(FAULTS_ENV) scripts/services down

test: venv services pgbouncer tools toxiproxy chromium lint typecheck alerts deploy-check bench-smoke
	$(BIN)/pytest tests/unit tests/conformance tests/integration tests/pgbouncer tests/dashboard \
		tests/faults -m "not chaos" --durations=10 $(PYTEST_ARGS)

# Debian's Chromium for the dashboard's browser tests: Playwright (a Python wheel with its
# driver) launches it by path; `playwright install` cannot download browsers here.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

dashboard-test: venv services chromium
	$(BIN)/pytest tests/dashboard $(PYTEST_ARGS)

# The browser tests, saving a picture of every page into docs/screenshots (README uses one).
screenshots: venv services chromium
	JOBLINE_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/dashboard/test_browser.py $(PYTEST_ARGS)

# --- deploy: image, Helm chart, plain manifests, dashboard (docs/deploy.md) ------------------
HELM       := .tools/bin/helm
WHEELHOUSE := .tools/wheelhouse/.stamp
CHART      := deploy/helm/jobline

# Helm v3.22.0 built from its Go module into .tools/bin (first time: a few minutes).
$(HELM): scripts/install-helm
	scripts/install-helm
	touch $(HELM)

helm: $(HELM)

# The pinned runtime wheels, so that tests/deploy installs the image's wheel offline, fast.
$(WHEELHOUSE): constraints.txt pyproject.toml | venv
	mkdir -p $(@D)
	$(BIN)/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > $(@D)/requirements.txt
	$(BIN)/pip download --quiet --disable-pip-version-check --dest $(@D) --constraint constraints.txt --requirement $(@D)/requirements.txt
	touch $@

deploy-wheelhouse: $(WHEELHOUSE)

# Copy the alert rules into the chart (Helm reads only files inside it), then render deploy/k8s.
deploy-sync: venv $(HELM)
	cp deploy/prometheus/alerts.yml $(CHART)/files/alerts.yml
	$(BIN)/python scripts/render_k8s.py --helm $(HELM)

deploy-render: deploy-sync

deploy-lint: venv $(HELM)
	for values in $(CHART)/ci/*-values.yaml; do \
		$(HELM) lint --strict --quiet $(CHART) --values $$values || exit 1; \
	done
	$(BIN)/hadolint Dockerfile

deploy-check: venv services deploy-lint $(WHEELHOUSE)
	$(BIN)/pytest tests/deploy $(PYTEST_ARGS)

# Re-pin every dependency from a clean venv (after changing pyproject.toml).
constraints:
	scripts/lock-constraints

demo: venv services
	$(BIN)/python examples/demo.py

bench: venv services
	$(BIN)/python benchmarks/baseline.py

# jobline beside Graphile Worker and PgQueuer (pinned, installed into .local/peers by
# scripts/install-peers); docs/benchmarks.md. BENCH_ARGS e.g. "--jobs 20000 --rounds 3".
BENCH_ARGS ?=
bench-peers: venv services
	$(BIN)/python -m benchmarks.peers $(BENCH_ARGS)

# Every scenario and every installed peer at tiny N (< 90 s), so the benchmarks cannot rot:
# fails if a scenario errors, never because of a ratio.
bench-smoke: venv services
	$(BIN)/python -m benchmarks.peers --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .tools/wheelhouse
