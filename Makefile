# The only commands anyone needs to remember. `make run` and `make test` set up
# everything they need on a fresh Debian machine (as root for the system services).

VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml setup.py | sha1sum | cut -c1-12)
# Two stamps: `make run` needs only the agent's dependencies; everything else also
# needs the dev tools. Installing the dev set leaves the runtime stamp too.
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)
PYTHON ?= python3

.PHONY: help install install-run run test unit lint format provision bench schema docs clean

help:
	@echo "make run        start the agent on the example policies (dry-run, audit in .medic/)"
	@echo "make test       install everything the tests need and run them all"
	@echo "make lint       ruff and mypy"
	@echo "make bench      run the benchmarks under bench/ and print their figures"
	@echo "make docs       regenerate the reference pages in docs/reference/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The distribution was called `medic` before medic-agent: a stale install of it goes.
$(RUN_STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip uninstall --quiet --yes medic 2>/dev/null || true
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.installed-run-*
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip uninstall --quiet --yes medic 2>/dev/null || true
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-run-* $(VENV)/.installed-dev-*
	touch $(RUN_STAMP) $(DEV_STAMP)

install-run: $(RUN_STAMP)

install: $(DEV_STAMP)

run: install-run
	$(BIN)/medic run --config medic.yaml

# System components the integration tests run against (Docker engine, ...).
# They need root; without it the tests that need them fail and say what is missing.
# Each scripts/provision-*.sh installs and starts one component; each is idempotent.
provision:
	@if [ "$$(id -u)" = "0" ]; then \
		set -e; for s in scripts/provision-*.sh; do echo "== $$s"; bash $$s; done; \
		bash scripts/build-test-images.sh; \
	else \
		echo "provision: not root; skipping system packages (docker integration tests will fail)"; \
	fi

lint: install
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format daemon tests bench
	$(BIN)/ruff check --fix daemon tests bench

test: install provision lint
	$(BIN)/medic test policies
	$(BIN)/pytest -q -p no:cacheprovider

unit: install
	$(BIN)/pytest -q -m "not integration"

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

docs: install
	$(BIN)/python -m medic.docs_reference docs/reference
	$(BIN)/python -m medic.policy.typeindex daemon/medic/builtin_types.py

clean:
	rm -rf $(VENV) .medic .pytest_cache .mypy_cache .ruff_cache
