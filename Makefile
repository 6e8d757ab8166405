# Two commands for a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve test test-e2e lint format translations catalogues db-upgrade demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## translations: compile the .po catalogues into the .mo files the app reads
translations: $(VENV)/.runtime
	$(BIN)/python tools/catalogues.py compile

## catalogues: extract new messages into both catalogues (then translate zh_CN)
catalogues: $(VENV)/.runtime
	$(BIN)/python tools/catalogues.py update

db-upgrade: $(VENV)/.runtime
	$(FLASK) db upgrade

demo: db-upgrade
	$(FLASK) demo load --if-empty

## run: set up .venv, the database, demo data and an admin, then serve on http://127.0.0.1:5000
## with the scheduler beside it in its own process (stopped with the server)
run: translations demo
	$(FLASK) users ensure-admin
	$(FLASK) followups sweep
	$(FLASK) scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

## serve: production-style against DATABASE_URL: gunicorn (gunicorn.conf.py: 2 × cores + 1 workers,
## or WEB_CONCURRENCY; SQLite allows one) on BIND (127.0.0.1:8000), the scheduler in its own process
serve: translations db-upgrade
	$(FLASK) scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

## test: the whole suite (end-to-end tests too, when Chromium is installed)
test: $(VENV)/.dev translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-e2e: only the browser tests
test-e2e: $(VENV)/.dev translations
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service_app config.py wsgi.py

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
	find service_app -name '*.mo' -delete
