# Everything goes through scripts/bootstrap.sh first: on a fresh Debian machine it installs
# RabbitMQ, PostgreSQL and the .venv; when all is there it returns at once.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
RUN_ARGS ?=

# `make check`: the tests that need neither the broker nor separate processes, the PostgreSQL
# server included (marks given by tests/conftest.py; their SQLite variants run);
# "N deselected" in pytest's summary says how many it left to `make test`.
# CHECK_MARKS="not federation and not broker" adds the PostgreSQL variants.
CHECK_MARKS ?= not federation and not broker and not postgresql

.PHONY: help bootstrap run test check lint bench clean

help:
	@echo "make run     start RabbitMQ and every tier service locally (Ctrl-C stops them)"
	@echo "make check   lint + the fast tests (no broker, no PostgreSQL, no separate processes)"
	@echo "make test    run every test (PYTEST_ARGS='-k foo -x' to narrow)"
	@echo "make lint    ruff, ruff format --check, mypy --strict, import-linter"
	@echo "make bench   run the benchmarks"
	@echo "make clean   remove var/ (local databases, broker state, logs)"
	@echo "XUEJI_TEST_DB=sqlite|postgresql runs the database tests on one kind only (default both)"

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	$(PY) -m devtools --config config/federation.toml --data-dir var $(RUN_ARGS)

test: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

# pytest's exit code 5 means every selected test was deselected (e.g. PYTEST_ARGS named only
# integration tests): nothing fast to run is not a failure of the fast loop.
check: lint
	$(PY) -m pytest -m "$(CHECK_MARKS)" $(PYTEST_ARGS) || { status=$$?; \
	    if [ $$status -eq 5 ]; then echo "make check: no fast test selected"; else exit $$status; fi; }

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared components services devtools
	$(VENV)/bin/lint-imports

bench: bootstrap
	$(PY) -m bench

clean:
	rm -rf var/
