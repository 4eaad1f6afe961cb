# TensorFleet developer entry points. Everything runs from the project's own .venv.
#   make venv   create .venv and install requirements-dev.txt (only when a requirements file changed)
#   make run    the embedded local stack (Redis, nx-27017, API, workers, Flower); Ctrl-C stops it
#               (a subset: make run SERVICES=redis,mongo; ports etc. from env, see localstack)
#   make test   unit then integration tests
#   make lint   ruff check + ruff format --check + mypy (the type checker) over app/ and client/
#   make clean  caches and install stamps (keeps .venv and the local data in var/)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pip's exit status is kept (pipefail); only its noise about ignored local indexes is dropped.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
PIP_QUIET := { grep -v "is ignored" || true; }

.PHONY: help venv run test lint clean

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file is newer than the last install. The client
# package (client/, editable: `tensorfleet` CLI) comes with requirements-local.txt.
CLIENT_META := client/pyproject.toml
$(VENV)/.installed-local: requirements-local.txt requirements.txt $(CLIENT_META) | $(PY)
	$(PIP_INSTALL) -r requirements-local.txt 2>&1 | $(PIP_QUIET)
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements-local.txt requirements.txt $(CLIENT_META) | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt 2>&1 | $(PIP_QUIET)
	touch $(VENV)/.installed-local $@

venv: $(VENV)/.installed-dev

run: $(VENV)/.installed-local
	exec $(PY) -m localstack $(if $(SERVICES),--services $(SERVICES))

test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache $(VENV)/.installed-*

#   make bench  benchmarks on their own local stack (~5 min): a table and bench/results.json
.PHONY: bench
$(VENV)/.installed-bench: bench/requirements.txt $(VENV)/.installed-dev
	$(PIP_INSTALL) -r bench/requirements.txt -c requirements-dev.txt 2>&1 | $(PIP_QUIET)
	touch $@

bench: $(VENV)/.installed-bench
	@command -v wrk >/dev/null || echo "make bench: no wrk (apt-get install -y wrk); submit_throughput uses Python threads"
	$(PY) -m bench
