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

.PHONY: run serve test lint format bench-ingest bench-ratings bench-features bench-walk-forward bench-dixon-coles bench-onnx bench-serving lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# With the shared data, the main job trains the calibrated stack on the EPL (2019-20..2022-23 scored); with only the
# sample seasons shipped in the package, Dixon-Coles on their last season.
ifdef MATCHDAY_DATA_DIR
RUN_ARGS ?= --league E0 --seasons 2019-2022 --model stack
endif

## run: the training pipeline, locally with kfp's local runner: ingest (MATCHDAY_DATA_DIR, else the bundled sample
## seasons), features, Feast, walk-forward training beside Pinnacle, MLflow registration, the gate, a deploy request
run: $(STAMP)
	$(BIN)/matchday pipeline run $(RUN_ARGS)

## serve: the champion `make run` registered, over HTTP (BentoML, :3000) and the Open Inference Protocol (HTTP under
## /v2, gRPC :8001); create a key first: .venv/bin/matchday auth key create me
serve: $(STAMP)
	$(BIN)/matchday serve $(SERVE_ARGS)

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

## bench-onnx: ONNX Runtime against native predict (XGBoost, LightGBM, the stack), one row and 1,000 rows
bench-onnx: $(STAMP)
	$(BIN)/python benchmarks/onnx_inference.py

## bench-serving: load on the running stack at fixed rates over HTTP and gRPC, batch rows/s, the in-process ceiling
bench-serving: $(STAMP)
	$(BIN)/python benchmarks/serving.py

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
