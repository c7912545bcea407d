# Tandem. `make run` serves the demo; `make test` runs the whole suite.
VENV    ?= .venv
PORT    ?= 8000
PYTHON  ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
             command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
             && { command -v $$p; break; }; done)
BIN     := $(VENV)/bin

.PHONY: run test stack lock install install-dev lint format clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Tandem needs Python 3.11 or newer (python3.11+ on PATH)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions and hashes), as the Docker image and CI
# do. After changing the dependencies in pyproject.toml, run `make lock`.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

lock: install-dev
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --universal -q -o requirements.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --universal -q -o requirements-dev.txt

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo --port $(PORT)
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The production topology as local processes (nginx, gunicorn, uvicorn, Celery worker and
# beat, an SMTP sink) against DATABASE_URL (PostgreSQL) and REDIS_URL: see deploy/stack.py.
stack: install-dev
	$(BIN)/python deploy/stack.py $(STACK_ARGS)

test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/static
