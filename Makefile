# Matchday: `make run` and `make test` each set up .venv on a fresh machine, reinstalling only when
# pyproject.toml or requirements.lock changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= cpu,dev

# The shared real data sits beside the checkout on development and CI machines.
ifneq ($(wildcard ../shared/data),)
export MATCHDAY_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: run test lint format bench-ingest bench-ratings bench-features bench-walk-forward bench-dixon-coles lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[$(EXTRAS)]'
	@touch $(STAMP)

## run: ingest the match data (MATCHDAY_DATA_DIR, else the bundled sample seasons), show the store, build the
## point-in-time feature table and load it into Feast (offline files + online store), then walk Dixon-Coles
## through the EPL's 2022-23 season week by week next to Pinnacle's prices
run: $(STAMP)
	$(BIN)/matchday data ingest
	$(BIN)/matchday data status
	$(BIN)/matchday features build --out .matchday/features/table.parquet
	$(BIN)/matchday features apply --table .matchday/features/table.parquet
	$(BIN)/matchday features materialize
	$(BIN)/matchday evaluate walk-forward --league E0 --seasons 2022 --model dixon_coles

## test: every test, unit and integration (real PostgreSQL and Redis on 127.0.0.1)
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench-ingest: full ingest of MATCHDAY_DATA_DIR into SQLite and PostgreSQL; figures for BENCHMARKS.md
bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

## bench-ratings: walk-forward Elo-only and pi-only 1X2 forecasts next to Pinnacle's closing odds (EPL)
bench-ratings: $(STAMP)
	$(BIN)/python benchmarks/rating_baselines.py

## bench-features: feature table build, Feast materialize (SQLite and Redis), online lookup latency
bench-features: $(STAMP)
	$(BIN)/python benchmarks/features.py

## bench-walk-forward: the stack, boosters and Dixon-Coles walked weekly through 2019-20..2022-23 of the big five
## leagues next to Pinnacle's opening and closing prices (about ten minutes a league on two cores)
bench-walk-forward: $(STAMP)
	$(BIN)/python benchmarks/walk_forward.py --model stack --out .matchday/reports/benchmark

## bench-dixon-coles: speed of the weekly Dixon-Coles walk-forward (EPL, four seasons) and of a NUTS fit
bench-dixon-coles: $(STAMP)
	$(BIN)/python benchmarks/dixon_coles_speed.py
	$(BIN)/python benchmarks/dixon_coles_nuts.py

## lock: re-resolve the dependencies and rewrite requirements.lock
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[$(EXTRAS)]'
	( echo "# Tested versions of every dependency, used as pip constraints by the Makefile (reproducible resolves)."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^matchday' ) > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .matchday
