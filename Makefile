# Erma Cloud — `make run` starts everything; `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
RASA := $(RASA_VENV)/bin/rasa

.PHONY: run run-scaled test test-scaled setup setup-platform setup-rasa setup-system setup-system-test setup-system-scaled db train test-platform test-platform-sqlite test-platform-postgres test-rasa bench clean

run: setup db train
	@scripts/run.sh

test: setup setup-system-test
	@scripts/test.sh

# The scaled set-up (issue 15): PostgreSQL, Redis, two of each process, HAProxy in front (scripts/scaled/).
run-scaled: setup setup-system-scaled train
	@scripts/scaled/run.sh

# Only the replica-kill test against the scaled set-up (also part of `make test`).
test-scaled: setup setup-system-scaled train
	@scripts/test.sh scaled

setup: setup-platform setup-rasa setup-system

setup-platform: $(VENV)/.installed
setup-rasa: $(RASA_VENV)/.installed

setup-system:
	@scripts/setup_system.sh

setup-system-test:
	@scripts/setup_system.sh --test

setup-system-scaled:
	@scripts/setup_system.sh --scaled

$(VENV)/.installed: requirements/platform.lock
	@echo "==> Creating the platform environment ($(VENV)) with $$(scripts/find_python311.sh)"
	@rm -rf $(VENV) && "$$(scripts/find_python311.sh)" -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/platform.lock
	@touch $@

$(RASA_VENV)/.installed: requirements/rasa.lock
	@py310="$$(scripts/find_python310.sh)" && echo "==> Creating the Rasa environment ($(RASA_VENV)) with $$py310 (a few minutes the first time)" \
	  && rm -rf $(RASA_VENV) && "$$py310" -m venv $(RASA_VENV)
	@$(RASA_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/rasa.lock
	@touch $@

db: setup-platform
	@$(PY) -m erma setup

train: setup
	@scripts/train.sh

test-platform: setup-platform
	@scripts/test.sh platform

test-rasa: setup
	@scripts/test.sh rasa

# Erma against a stock `rasa init` bot on the same Rasa (issue 15); the result goes to docs/benchmarks.md.
# `make bench BENCH_ARGS=--quick`: a smoke run that leaves the docs alone.
bench: setup train
	@scripts/bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(RASA_VENV) var models/*.tar.gz
