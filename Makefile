# Targets are the verbs a user types. Every target sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
CONFIG ?= configs/default.yaml
PREFECT_PORT ?= 4200
MLFLOW_PORT ?= 5000

.DEFAULT_GOAL := help
.PHONY: help setup chromium screenshots run test test-fast lint format ui serve retrain prefect-server mlflow-server bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# pip byte-compiles what it installs (45 of a fresh set-up's 78 s): keep it. With
# PYTHONDONTWRITEBYTECODE set (as here and in CI) Python never caches what it compiles,
# so without it every test process compiled MLflow and Prefect again (tests 4.5 -> 6.5 min).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP) chromium ## Create .venv and install the package with its test extras (and Chromium)

# The browser test drives Debian's Chromium (Playwright's own download needs the internet).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "Installing Debian's chromium for the browser test"; \
	  $(SUDO) apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || { \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends chromium; }; }

run: setup ## Run the whole pipeline on the embedded default (synthetic data, local MLflow)
	$(BIN)/churn run --config $(CONFIG)

retrain: setup ## Train and register a model now
	$(BIN)/churn retrain --config $(CONFIG)

test: setup lint ## Lint, then run every test (slow ones included)
	$(BIN)/python -m pytest -n 2 --dist worksteal

test-fast: setup ## Run the tests not marked slow
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not slow"

lint: setup ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

ui: setup ## MLflow UI on the local store, http://127.0.0.1:$(MLFLOW_PORT)
	$(BIN)/churn ui --config $(CONFIG) --port $(MLFLOW_PORT)

# The UI asks the API at PREFECT_UI_API_URL (default: port 4200): it must follow the port.
prefect-server: setup ## A local Prefect server (UI and API) on http://127.0.0.1:$(PREFECT_PORT)
	PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_UI_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api \
	  $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

serve: setup ## Start a local Prefect server if none answers, then serve the scheduled flows
	@export PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api; \
	if ! curl -sf $$PREFECT_API_URL/health >/dev/null; then \
	  echo "Starting a Prefect server on 127.0.0.1:$(PREFECT_PORT) (log: .prefect-server.log)"; \
	  PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_UI_API_URL=$$PREFECT_API_URL \
	    nohup $(BIN)/prefect server start --host 127.0.0.1 \
	    --port $(PREFECT_PORT) > .prefect-server.log 2>&1 & \
	  for i in $$(seq 1 90); do curl -sf $$PREFECT_API_URL/health >/dev/null && break; sleep 1; done; \
	fi; \
	echo "Prefect UI: http://127.0.0.1:$(PREFECT_PORT)"; \
	$(BIN)/churn serve --config $(CONFIG)

mlflow-server: setup ## A standalone MLflow tracking server on http://127.0.0.1:$(MLFLOW_PORT)
	$(BIN)/mlflow server --backend-store-uri sqlite:///mlflow.db \
	  --artifacts-destination ./mlartifacts --host 127.0.0.1 --port $(MLFLOW_PORT)

screenshots: setup ## Run the pipeline in a scratch folder and screenshot MLflow and Prefect (docs/screenshots)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

BENCH_SIZES ?= 100000 1000000 10000000
bench: setup ## Flows against the raw LightGBM floor (bench/results/bench.md); BENCH_SIZES="..."
	$(BIN)/python bench/bench.py --sizes $(BENCH_SIZES)

clean: ## Remove local run state (MLflow store, data, outputs); keeps .venv
	rm -rf mlflow.db mlartifacts mlruns data outputs .prefect-server.log
