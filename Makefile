# backupwatch — every command the README mentions is a target here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA := deploy/kafka/kafka.sh
# The one list of system packages (Debian/Ubuntu), installed when missing.
SYSTEM_DEPS := deploy/system-deps.sh

.DEFAULT_GOAL := help

.PHONY: help system-deps system-deps-run setup kafka-up kafka-down kafka-status test test-unit fuzz lint format run screenshot bench clean

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

system-deps: ## install the system packages the tests need when missing (Java, Maven, Prometheus, Chromium, restic, Borg)
	@$(SYSTEM_DEPS) test

system-deps-run: ## install the system packages `make run` needs when missing (Java and Maven for Kafka)
	@$(SYSTEM_DEPS) run

setup: $(STAMP) ## create .venv and install the project with dev extras (fast when nothing changed)

kafka-up: ## start the local single-node Kafka (jars from Maven Central, cached)
	@$(KAFKA) start

kafka-down: ## stop the local Kafka
	@$(KAFKA) stop

kafka-status: ## is the local Kafka running, and where
	@$(KAFKA) status

test: system-deps setup ## run every test: unit, integration and e2e (starts its own Kafka)
	$(BIN)/pytest

test-unit: system-deps setup ## run the unit tests only (no Kafka needed)
	$(BIN)/pytest tests/unit

# Examples per fuzz test for `make fuzz` (`make test` runs a fixed 150, within a minute).
FUZZ_EXAMPLES ?= 5000

fuzz: setup ## the fuzz tests (hostile records through every reader) with FUZZ_EXAMPLES examples each, new ones each run
	BACKUPWATCH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/unit/fuzz -p no:cacheprovider

lint: setup ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

run: system-deps-run setup ## the demo: Kafka, a worker, a simulated fleet, alerts as they happen
	$(BIN)/python -m agents.simulator.demo

screenshot: system-deps setup ## docs/dashboard.png, the README's picture: a simulated fleet in Chromium
	BACKUPWATCH_SCREENSHOT=docs/dashboard.png $(BIN)/pytest -q \
		tests/e2e/test_dashboard_in_chromium.py -k test_the_fleet_page_agrees_with_the_api

$(VENV)/.bench-installed: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: setup $(VENV)/.bench-installed ## the standard benchmark set (see docs/benchmarks.md)
	$(BIN)/python -m bench.core --runs 3 --processes 8
	$(BIN)/python -m bench.pipeline --records 100000 --devices 10000 --runs 3
	$(BIN)/python -m bench.notify --alerts 1000 --devices 100 --runs 3
	$(BIN)/python -m bench.api latency --devices 100000 --requests 100
	$(BIN)/python -m bench.ingest --records 5000 --batch-records 50000 --clients 8 --runs 3

clean: ## remove the virtualenv and caches (not the Kafka jar cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
