# PeerBridge developer interface. CI calls the same targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# uv is bootstrapped into .tools from PyPI at a pinned version; it never
# downloads a Python build, it uses the machine's python3 (3.11 or newer).
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3
export UV_PROJECT_ENVIRONMENT := $(VENV)

PY_SOURCES := libs/platform/src libs/devstack/src services/referrals/src services/gateway/src services/identity/src

.PHONY: help install run seed demo test test-fast lint format protos protos-check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(UV):
	@command -v python3 >/dev/null || { echo "python3 (3.11 or newer) is needed: install it, then run make again" >&2; exit 1; }
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for buf (protobuf lint): install Node.js 20+" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.synced node_modules/.installed ## create the virtual environment from uv.lock and the npm tools

run: install ## start PostgreSQL, Kafka, every service and the gateway (Ctrl-C stops all)
	$(BIN)/python -m peerbridge_devstack run

seed: install ## with `make run` going: the first admin, a demo program, clinic, synthetic people and partner clients
	$(BIN)/python -m peerbridge_devstack seed

demo: install ## with `make run` going: send synthetic referrals and show what an EHR receives
	$(BIN)/python -m peerbridge_devstack demo

protos: install ## regenerate Python stubs from protos/
	$(BIN)/python -m peerbridge_devstack.protogen

protos-check: install ## fail when protos/ does not lint or the stubs are stale
	npx --no-install buf lint
	$(BIN)/python -m peerbridge_devstack.protogen --check

lint: install protos-check ## ruff, mypy, buf lint, stub freshness, the AsyncAPI document
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PY_SOURCES)
	node docs/integration/validate-asyncapi.mjs docs/integration/asyncapi.yaml

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint ## lint, then every test against real PostgreSQL and Kafka
	$(BIN)/pytest

test-fast: install ## unit tests only (no servers)
	$(BIN)/pytest -m "not integration and not e2e"

bench: install ## throughput and latency, as ratios to raw Kafka, into bench/results/
	$(BIN)/python -m peerbridge_devstack.bench

clean: ## remove the virtual environment and tool caches (not the data under ~/.local/share)
	rm -rf $(VENV) $(TOOLS) node_modules .pytest_cache .mypy_cache .ruff_cache
