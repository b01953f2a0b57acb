# Chairtime — the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup check test-sqlite test-postgres messages lock bench clean

# Set up everything, load a simulated clinic chain, and serve it with the worker running.
demo: setup
	$(BIN)/python manage.py demo

# Every check and every test: lint, types, architecture, then the suite on SQLite and on
# a throwaway PostgreSQL server.
test: setup
	scripts/ensure-chromium
	$(MAKE) check
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

setup: $(STAMP) messages

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

messages: $(STAMP)
	$(BIN)/python manage.py compilemessages --ignore '.venv' -v0

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=. $(BIN)/lint-imports
	CHAIRTIME_ENV=test $(BIN)/python manage.py makemigrations --check --dry-run -v0

test-sqlite: $(STAMP)
	CHAIRTIME_ENV=test $(BIN)/pytest

test-postgres: $(STAMP)
	scripts/with-postgres env CHAIRTIME_ENV=test $(BIN)/pytest

# Re-pin dependencies after changing pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

bench: setup
	$(BIN)/python bench/simulator.py

clean:
	rm -rf $(VENV) var
