# Two commands: `make run` (a local trial on SQLite with demo data) and `make test`.
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
PYTHON ?= python3
BIN := $(VENV)/bin
export HOST PORT

.PHONY: run test lint install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

install: $(VENV)/.run-deps

# Web server (gunicorn) and one worker together, on SQLite, with demo data and the sandbox channels.
# The demo login is printed once the servers' start-up lines are out: the last thing on screen.
run: $(VENV)/.run-deps
	rm -rf instance/prometheus && mkdir -p instance/prometheus
	$(BIN)/flask --app wsgi db upgrade
	@banner="$$($(BIN)/flask --app wsgi demo seed)" || exit 1; \
	trap 'kill 0' INT TERM EXIT; \
	export PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/instance/prometheus"; \
	$(BIN)/flask --app wsgi worker & \
	( sleep 2; printf '%s\n  Ctrl-C stops the web server and the worker.\n\n' "$$banner" ) & \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 --access-logfile - wsgi:app

# The whole suite on SQLite; set TEST_DATABASE_URL=postgresql://... to run it on PostgreSQL.
test: $(VENV)/.dev-deps
	$(BIN)/pytest

# ruff (pyflakes, pycodestyle, bugbear, builtins, import order) and mypy, as configured in pyproject.toml.
lint: $(VENV)/.dev-deps
	$(BIN)/ruff check incident tests bench migrations/env.py wsgi.py gunicorn.conf.py
	$(BIN)/mypy

bench: $(VENV)/.dev-deps
	@for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
