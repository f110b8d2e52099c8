# nlp-bench — every command a user or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export NLP_BENCH_DB ?= $(CURDIR)/data/nlp_bench.duckdb
export NLP_BENCH_MODEL_CACHE ?= $(CURDIR)/.cache/models

.PHONY: help bench test test-fast benchmark ui lint format lock clean venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The environment is rebuilt when the lock or the project metadata is newer than the stamp.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP) ## create or refresh .venv from requirements.lock

bench: $(STAMP) ## run the whole benchmark pipeline on the local targets (quick profile)
	$(BIN)/python -m nlp_bench_pipeline.cli bench

# Two workers, a test file each at a time (pytest-xdist): most of the suite waits on processes,
# timers and sockets, so two share CI's two cores; more would starve the platforms' timing.
TEST_WORKERS ?= 2

test: $(STAMP) ## run the whole test suite, slow and browser tests included
	@scripts/ensure-chromium.sh || [ $$? -eq 2 ]  # 2: cannot install here; the browser test skips
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest tests/unit -m "not slow"

benchmark: $(STAMP) ## measure speed targets and write docs/benchmarks.md
	$(BIN)/python -m benchmarks

ui: $(STAMP) ## the Dagster UI and daemon on 127.0.0.1
	$(BIN)/python -m nlp_bench_pipeline.cli ui

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: ## re-pin requirements.lock from pyproject.toml (pip-compile honours this machine's pip config)
	@test -x $(BIN)/pip-compile || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet pip-tools; }
	$(BIN)/pip-compile --all-extras --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --quiet -o requirements.lock pyproject.toml

clean: ## remove the environment, caches, local data and Dagster runs
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache .dagster_home data test-artifacts *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
