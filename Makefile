# Everything goes through scripts/bootstrap.sh first: on a fresh Debian machine it installs
# RabbitMQ, PostgreSQL and the .venv; when all is there it returns at once.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
RUN_ARGS ?=

.PHONY: help bootstrap run test lint bench clean

help:
	@echo "make run     start RabbitMQ and every tier service locally (Ctrl-C stops them)"
	@echo "make test    run the tests (PYTEST_ARGS='-k foo -x' to narrow)"
	@echo "make lint    ruff, mypy, import-linter"
	@echo "make bench   run the benchmarks"
	@echo "make clean   remove var/ (local databases, broker state, logs)"

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	$(PY) -m devtools --config config/federation.toml --data-dir var $(RUN_ARGS)

test: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared components services devtools
	$(VENV)/bin/lint-imports

bench: bootstrap
	$(PY) -m bench

clean:
	rm -rf var/
