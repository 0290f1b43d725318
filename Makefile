# casevote — every target sets up what it needs (virtualenv, pinned requirements, migrations).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Django 6 needs Python 3.12+; the machine's default python3 is 3.11, so pick one explicitly.
PYTHON ?= $(shell for c in python3.12 python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
            $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.13; do \
            $$c -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo $$c; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SECRET_FILE := .local-secret-key
PYTEST_ARGS ?=

.PHONY: help serve system-packages test test-fast lint format fixture migrate clean bench audit node-modules cluster

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or 3.13 is required (Django 6); none found." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SECRET_FILE):
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	@chmod 600 $@

serve: $(BIN)/.installed $(SECRET_FILE) ## Set up and serve the site on SQLite with batch 2 loaded and open
	@export DEBUG=0 SECRET_KEY="$$(cat $(SECRET_FILE))" ALLOWED_HOSTS="$(HOST),localhost,127.0.0.1" \
	       CASEVOTE_SECURE_COOKIES=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 CASEVOTE_DEMO_GATE=1; \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py collectstatic --noinput -v0 && \
	$(BIN)/python manage.py load_cases fixtures/batch2.json && \
	$(BIN)/python manage.py publish_batch --batch 2 --reason "make serve：本地运行，发布第2批" && \
	$(BIN)/python manage.py set_voting --batch 2 --open-now --days 30 --reason "make serve：本地运行，开放投票30天" && \
	{ $(BIN)/python manage.py runserver --noreload $(HOST):$(PORT) & server=$$!; \
	  trap 'kill $$server 2>/dev/null' INT TERM; \
	  until $(BIN)/python -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5)' \
	        $(HOST) $(PORT) 2>/dev/null; do \
	    kill -0 $$server 2>/dev/null || { wait $$server; exit 1; }; sleep 0.2; done; \
	  printf '\n  ┌────────────────────────────────────────────────┐\n'; \
	  printf '  │  casevote is running:  %-24s│\n' "http://$(HOST):$(PORT)/"; \
	  printf '  │  stop with Ctrl-C                              │\n'; \
	  printf '  └────────────────────────────────────────────────┘\n\n'; \
	  wait $$server; }

# Tests run with production-like settings (DEBUG off); the key is a throwaway.
TEST_ENV := SECRET_KEY="$${SECRET_KEY:-tests-only-not-a-secret}" DEBUG=0

# Node packages for the audits (axe-core in the browser tier, Lighthouse), pinned in
# package-lock.json. Without npm the axe test says what is missing.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error; \
	 else echo "npm not found: the browser tier's axe test and make audit need Node 20+" >&2; fi

node-modules: node_modules/.package-lock.json

system-packages: ## Install the slow tiers' system packages when missing (as root with apt; else say so)
	@scripts/system-packages.sh --best-effort

test: $(BIN)/.installed system-packages node-modules ## Set up and run the whole test suite (DATABASE_URL selects PostgreSQL)
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(BIN)/.installed ## Run the tests without the slow tiers (browser, load, fuzz, scorecard, cluster)
	$(TEST_ENV) $(BIN)/python -m pytest -m "not browser and not load and not fuzz and not scorecard and not cluster" $(PYTEST_ARGS)

lint: $(BIN)/.installed ## ruff check + format check, import layers, and no missing migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

format: $(BIN)/.installed ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

fixture: $(BIN)/.installed ## Re-extract fixtures/batch2.json from the scraped announcement
	DEBUG=1 $(BIN)/python manage.py extract_cases fixtures/batch2-announcement.txt --batch 2 --first 31 -o fixtures/batch2.json

migrate: $(BIN)/.installed ## Apply migrations to the configured database
	DEBUG=1 $(BIN)/python manage.py migrate

clean: ## Remove the virtualenv, node_modules, the SQLite database, collected static files and artifacts
	rm -rf $(VENV) node_modules artifacts db.sqlite3 db.sqlite3-* staticfiles $(SECRET_FILE)

bench: $(BIN)/.installed ## Benchmark: PostgreSQL + gunicorn + wrk, 15 s per endpoint (BENCH_ARGS=--quick)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

audit: $(BIN)/.installed node-modules ## Lighthouse (mobile) on / and /cases/031/ under gunicorn; reports in artifacts/lighthouse/
	scripts/audit.sh

cluster: $(BIN)/.installed ## PostgreSQL, Redis, PgBouncer, 2 gunicorn nodes, nginx on :8080 (CLUSTER_ARGS=--port N)
	@scripts/cluster.sh $(CLUSTER_ARGS)
