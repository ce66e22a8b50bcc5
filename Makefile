# TicketFlow -- the two commands: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# What gets installed is what the lock files pin, with their hashes (make lock writes them
# from pyproject.toml). The installed set is keyed on them: editing a lock reinstalls.
RUNTIME_LOCK := requirements/runtime.lock
DEV_LOCK := requirements/dev.lock
DEPS_HASH := $(shell cat $(RUNTIME_LOCK) $(DEV_LOCK) pyproject.toml | sha1sum | cut -c1-12)
RUNTIME_STAMP := $(VENV)/.runtime-$(DEPS_HASH)
DEV_STAMP := $(VENV)/.dev-$(DEPS_HASH)
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --quiet
# Variables that select real services; cleared for the embedded default.
SERVICE_VARS := POSTGRES_HOST POSTGRES_DOCUMENTS_DB MONGO_URI MONGO_HOST REDIS_URL KAFKA_BOOTSTRAP_SERVERS \
	SMTP_HOST STRIPE_SECRET_KEY STRIPE_API_BASE
EMBEDDED := env $(addprefix -u ,$(SERVICE_VARS))

.PHONY: help run test services services-down chromium lint format e2e bench bench-pretix clean lock audit

help:
	@echo "make run    - the whole product on the embedded default (SQLite, in-process events), PORT=$(PORT)"
	@echo "make test   - install everything, start PostgreSQL/Redis/Kafka/stripe-mock, run the whole suite"
	@echo "make e2e    - book seats against a running instance (BASE_URL, default http://127.0.0.1:$(PORT))"
	@echo "make bench  - benchmarks against the real services (see docs/benchmarks.md)"
	@echo "make bench-pretix - the same flash sale against pretix and TicketFlow, side by side (BENCH_ARGS=...)"
	@echo "make services / services-down - start or stop the local real services (deploy/local)"
	@echo "make lock   - re-resolve requirements/*.lock from pyproject.toml; make audit - check them for known vulnerabilities"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME_STAMP): $(RUNTIME_LOCK) pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.runtime-* && touch $@

$(DEV_STAMP): $(DEV_LOCK) pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.dev-* $(VENV)/.runtime-* && touch $@ $(RUNTIME_STAMP)

# Re-resolve both lock files from pyproject.toml (after changing a dependency there).
$(BIN)/uv: | $(VENV)/bin/python
	$(BIN)/pip install --quiet "uv>=0.13,<0.14"

lock: | $(BIN)/uv
	$(UV_COMPILE) -o $(RUNTIME_LOCK)
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK)

# Known vulnerabilities in what the dev lock pins (a superset of the runtime lock).
audit: $(DEV_STAMP)
	$(BIN)/python scripts/audit-dependencies $(DEV_LOCK)

run: $(RUNTIME_STAMP)
	@mkdir -p var/prometheus && rm -f var/prometheus/*.db
	$(EMBEDDED) $(BIN)/python manage.py migrate --noinput --verbosity 0
	$(EMBEDDED) $(BIN)/python manage.py migrate --database documents --noinput --verbosity 0
	$(EMBEDDED) $(BIN)/python manage.py seed
	@echo "TicketFlow on http://127.0.0.1:$(PORT)  (Ctrl-C stops everything)"
	@# honcho replaces the recipe shell and gets SIGTERM if make dies, so a SIGTERM to make
	@# (not only Ctrl-C to the whole terminal) stops web, relay and worker too.
	exec setpriv --pdeathsig TERM $(EMBEDDED) PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) \
		PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus \
		$(BIN)/honcho --no-colour -e deploy/embedded.env -f Procfile start -p $(PORT)

services: | $(VENV)/bin/python
	deploy/local/up.sh

services-down:
	deploy/local/down.sh

# Debian's Chromium for the browser tests (Playwright's own download cannot work here).
chromium:
	deploy/local/chromium.sh

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(EMBEDDED) LOG_LEVEL=warning $(BIN)/mypy
	$(EMBEDDED) $(BIN)/python manage.py makemigrations --check --dry-run

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(DEV_STAMP) services chromium lint audit
	source deploy/local/env.sh && KAFKA_NAMESPACE="test$$$$-" TICKETFLOW_ENV=test \
		$(BIN)/pytest -m "not embedded_only" $(PYTEST_ARGS)
	$(EMBEDDED) TICKETFLOW_ENV=test TICKETFLOW_VAR=$(CURDIR)/var/embedded-test \
		$(BIN)/pytest -m "embedded or embedded_only" $(PYTEST_ARGS)
	$(EMBEDDED) $(BIN)/python scripts/schemathesis

e2e: $(RUNTIME_STAMP)
	$(BIN)/python scripts/e2e-booking --base-url "$${BASE_URL:-http://127.0.0.1:$(PORT)}"

bench: $(DEV_STAMP) services
	source deploy/local/env.sh && $(BIN)/python -m bench

# Installs pretix into var/bench/pretix-venv on first use; e.g. BENCH_ARGS="--buyers 200 --seats 20 --runs 1".
bench-pretix: $(DEV_STAMP) services
	source deploy/local/env.sh && $(BIN)/python -m bench versus $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache

# --- Docker Compose stack and deployment checks (docs/deployment.md) -----------------------
# The stack reads .env for ${VAR} interpolation and the app's env_file; `down` falls back
# to .env.example so it works even after .env is gone.
COMPOSE := docker compose -f deploy/docker-compose.yml

.PHONY: stack-up stack-down validate-deploy

stack-up:
	@test -f .env || { echo "No .env: cp .env.example .env, then replace every change-me value." >&2; exit 1; }
	$(COMPOSE) --env-file .env up -d --build
	@echo "TicketFlow http://localhost:8000  Mailpit http://localhost:8025  Kafka UI http://localhost:8080"
	@echo "Grafana http://localhost:3000  Prometheus http://localhost:9090  Jaeger http://localhost:16686"

stack-down:
	$(COMPOSE) --env-file $(if $(wildcard .env),.env,.env.example) down

# Compose file and Kubernetes manifests against their schemas (no container engine needed).
validate-deploy:
	bash deploy/validate/validate.sh
