# Tandem. `make run` serves the demo; `make test` runs the whole suite.
VENV    ?= .venv
PORT    ?= 8000
PYTHON  ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
             command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
             && { command -v $$p; break; }; done)
BIN     := $(VENV)/bin

.PHONY: run test install install-dev lint format clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Tandem needs Python 3.11 or newer (python3.11+ on PATH)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo --port $(PORT)
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/static
