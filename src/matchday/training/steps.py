"""The training pipeline's steps as plain functions: JSON-serialisable arguments in, a JSON string out.

Each step builds its own `Settings` from `state_dir` / `data_dir` (and the `MATCHDAY_*` environment), so the same
call works in a Kubeflow container, in kfp's local runner and from a test: nothing travels between steps but
strings, numbers and paths under the state dir. The work itself is done by the functions the CLI uses
(`ingest_files`, `build_feature_table`, `feast_store`, `train_suite`, `register_and_gate`); a step only loads its
inputs, calls them and summarises what happened.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

from matchday.config import Settings, load_settings
from matchday.evaluation.dataset import load_dataset
from matchday.evaluation.suites import MODEL_CHOICES, ModelSuite, model_suite
from matchday.evaluation.walk_forward import WalkForwardConfig, WalkForwardResult
from matchday.features.moments import Moment
from matchday.features.table import build_feature_table, fit_params_before
from matchday.ingest.competitions import KNOWN_DIVISIONS
from matchday.ingest.service import discover_sources, ingest_files
from matchday.ingest.store import open_store
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.frames import load_match_frame, load_quote_frame
from matchday.ingest.store.queries import store_status
from matchday.models.base import Forecaster
from matchday.models.boosters import BoosterModel, BoosterParams, booster_model
from matchday.models.bundle import ModelBundle
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.sample_data import sample_data_dir
from matchday.training.fit import TrainedBundle, run_training

__all__ = [
    "build_features",
    "check_drift",
    "evaluate",
    "ingest",
    "parse_leagues",
    "publish_features",
    "register",
    "request_deploy",
    "train",
    "tune",
    "validate",
]

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.parquet"
DATASET_FILE = "dataset.parquet"
TRAIN_FILE = "train.json"
REGISTER_FILE = "register.json"
_MARKET_SUMMARY = ("pinnacle_open", "pinnacle_close")


def _settings(state_dir: str, data_dir: str = "") -> Settings:
    overrides: dict[str, object] = {"state_dir": Path(state_dir)}
    if data_dir:
        overrides["data_dir"] = Path(data_dir)
    return load_settings(**overrides)


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True)


def parse_leagues(leagues: str) -> list[str]:
    """'E0,E1' -> ['E0', 'E1']: a pipeline parameter is a string; unknown codes fail before any work is done."""
    codes = [code.strip() for code in leagues.split(",") if code.strip()]
    if not codes:
        raise ValueError("leagues: name at least one league code, e.g. E0")
    unknown = [code for code in codes if code not in KNOWN_DIVISIONS]
    if unknown:
        raise ValueError(f"leagues: unknown code(s) {', '.join(unknown)}; known: {', '.join(KNOWN_DIVISIONS)}")
    return codes


def _seasons(first_season: int, last_season: int) -> tuple[int, ...]:
    if first_season > last_season:
        raise ValueError(f"first_season {first_season} is after last_season {last_season}")
    return tuple(range(first_season, last_season + 1))


def ingest(state_dir: str, data_dir: str = "") -> str:
    """Ingest every season file under `data_dir` (empty: the sample seasons shipped with matchday) into the store.
    Files whose bytes were ingested before are skipped, so a re-run of the pipeline only adds what is new."""
    settings = _settings(state_dir, data_dir)
    root = settings.data_dir or sample_data_dir()
    sources = discover_sources(root)
    if not sources:
        raise ValueError(f"no source files under {root}")
    with closing(open_store(settings)) as store:
        report = ingest_files(store, sources)
    if report.failed:
        errors = "; ".join(f"{file.path.name}: {file.error}" for file in report.failed)
        raise RuntimeError(f"{len(report.failed)} file(s) failed to ingest: {errors}")
    summary = {
        "data_dir": str(root),
        "files": len(report.files),
        "loaded": sum(file.status == "loaded" for file in report.files),
        "unchanged": sum(file.status == "unchanged" for file in report.files),
        **{
            name: report.total(name)
            for name in ("rows_read", "matches_added", "quotes_added", "rows_quarantined", "values_quarantined")
        },
    }
    log.info("pipeline.ingest", extra=summary)
    return _dumps(summary)


def validate(state_dir: str) -> str:
    """What the store holds and what it refused; fails when it holds no match, so training never starts on
    nothing. Quarantined rows do not fail it: ingest already kept them out of the store, with their reasons."""
    settings = _settings(state_dir)
    with closing(open_store(settings)) as store:
        status = store_status(store.engine)
    matches = sum(season.matches for season in status.seasons)
    if matches == 0:
        raise ValueError(f"the store at {settings.resolved_database_url} holds no match: ingest data first")
    summary = {
        "matches": matches,
        "quotes": sum(season.quotes for season in status.seasons),
        "seasons": len(status.seasons),
        "teams": status.teams,
        "ingest_runs": status.ingest_runs,
        "failed_runs": status.failed_runs,
        "quarantined_rows": status.quarantined_rows,
        "quarantined_values": status.quarantined_values,
    }
    log.info("pipeline.validate", extra=summary)
    return _dumps(summary)


def build_features(state_dir: str, leagues: str, first_season: int, last_season: int) -> str:
    """Write the point-in-time feature table of `first_season`..`last_season` (ratings and form are built from
    every stored season before them) to <state_dir>/features/table.parquet; return its path."""
    settings = _settings(state_dir)
    kept = list(_seasons(first_season, last_season))
    with closing(open_store(settings)) as store:
        matches = load_match_frame(store.engine, competitions=parse_leagues(leagues))
        if matches.empty:
            raise ValueError(f"no matches of {leagues} in the store")
        quotes = load_quote_frame(store.engine, matches["match_id"].tolist())
    matches = matches[matches["season"] <= last_season].reset_index(drop=True)
    params, _ = fit_params_before(matches, kept[0])
    table = build_feature_table(matches, quotes, params=params, seasons=kept)
    path = settings.state_dir / "features" / "table.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False)
    log.info("pipeline.build_features", extra={"rows": len(table), "path": str(path)})
    return str(path.resolve())


def publish_features(state_dir: str, table_path: str) -> str:
    """Feast apply and materialize: the feature table becomes the offline sources, the online store gets every
    team's latest row, so serving reads the same features the models were trained on."""
    # Feast takes seconds to import: only this step pays for it.
    from matchday.integrations import feast_store  # noqa: PLC0415
    from matchday.integrations.feast_sources import source_dir  # noqa: PLC0415

    settings = _settings(state_dir)
    files = feast_store.write_sources(pd.read_parquet(table_path), source_dir(settings))
    applied = feast_store.apply(settings)
    materialized = feast_store.materialize(settings)
    summary = {
        "project": applied.project,
        "team_rows": files.team_rows,
        "match_rows": files.match_rows,
        "services": applied.services,
        "materialized_rows": materialized.rows,
        "window": [materialized.start.isoformat(), materialized.end.isoformat()],
    }
    log.info("pipeline.publish_features", extra={"rows": materialized.rows})
    return _dumps(summary)


def _boosters(model: str) -> list[str]:
    return {"xgboost": ["xgboost"], "lightgbm": ["lightgbm"], "stack": ["xgboost", "lightgbm"]}.get(model, [])


def tune(
    state_dir: str,
    leagues: str,
    first_season: int,
    last_season: int,
    model: str = "dixon_coles",
    moment: str = "open",
    num_samples: int = 0,
) -> str:
    """Ray Tune search for `model`'s forecasters, `num_samples` trials each (0 skips it: '{}', the defaults).

    The validation season is the one before `first_season`: tuning on the seasons the walk-forward then scores
    would make its figures optimistic. Returns {"dixon_coles": {...}, "xgboost": {...}, ...} of best params."""
    if num_samples <= 0:
        log.info("pipeline.tune.skipped", extra={"num_samples": num_samples})
        return "{}"
    from matchday.training import tune as ray_tune  # noqa: PLC0415  (Ray takes seconds to import)

    settings = _settings(state_dir)
    _check_model(model)
    validation = (first_season - 1,)
    with closing(open_store(settings)) as store:
        dataset, _ = load_dataset(store.engine, parse_leagues(leagues), validation[0], validation[0])
    storage = (settings.state_dir / "tune").resolve()
    best: dict[str, Any] = {}
    if model in ("dixon_coles", "stack"):
        result = ray_tune.tune_dixon_coles(
            dataset,
            validation,
            storage_dir=storage,
            num_samples=num_samples,
            gpus_per_trial=settings.train_gpus,
            jax_cache_dir=settings.state_dir / "jax-cache",
        )
        best["dixon_coles"] = dict(result.best_params)
    for library in _boosters(model):
        found = ray_tune.tune_boosters(
            dataset,
            library,  # type: ignore[arg-type]
            Moment(moment),
            validation,
            storage_dir=storage,
            num_samples=num_samples,
            gpus_per_trial=settings.train_gpus,
        )
        best[library] = found.best_params.to_dict()
    log.info("pipeline.tune", extra={"models": sorted(best)})
    return _dumps(best)


def _check_model(model: str) -> None:
    if model not in MODEL_CHOICES or model == "market":
        raise ValueError(f"model {model!r}: expected one of {', '.join(c for c in MODEL_CHOICES if c != 'market')}")


def _tuned(forecaster: Forecaster, params: dict[str, Any], moment: Moment, gpu: bool) -> Forecaster:
    """`forecaster` rebuilt with the tuned parameters of its kind, if the tune step found any."""
    if isinstance(forecaster, DixonColesModel) and "dixon_coles" in params:
        from matchday.training.tune import dixon_coles_from_params  # noqa: PLC0415  (imports Ray)

        return dixon_coles_from_params(params["dixon_coles"], name=forecaster.name)
    if isinstance(forecaster, BoosterModel):
        library = next((lib for lib in ("xgboost", "lightgbm") if forecaster.name.startswith(lib)), None)
        if library is not None and library in params:
            return booster_model(
                library,  # type: ignore[arg-type]
                moment,
                name=forecaster.name,
                params=BoosterParams.from_dict(params[library]),
                device="cuda" if gpu else "cpu",
            )
    return forecaster


def _suite(model: str, moment: Moment, params_json: str, gpu: bool) -> ModelSuite:
    suite = model_suite(model, moment)
    params: dict[str, Any] = json.loads(params_json or "{}")
    if not params:
        return suite
    return ModelSuite([_tuned(m, params, moment, gpu) for m in suite.models], suite.baselines, suite.stack)


def train(
    state_dir: str,
    leagues: str,
    first_season: int,
    last_season: int,
    model: str = "stack",
    moment: str = "open",
    params_json: str = "{}",
    refit_days: int = 7,
    booster_refit_days: int = 28,
    warmup_seasons: int = 2,
) -> str:
    """Walk `model` forward over the seasons (the honest figures, beside the market), fit the bundle on every
    match and save it with its report under <state_dir>/models/<run>; the dataset and walk-forward predictions
    are saved beside them for the register step, which must judge exactly what this step evaluated."""
    settings = _settings(state_dir)
    _check_model(model)
    codes = parse_leagues(leagues)
    seasons = _seasons(first_season, last_season)
    moment_ = Moment(moment)
    suite = _suite(model, moment_, params_json, settings.train_gpus > 0)
    config = WalkForwardConfig(
        seasons=seasons,
        refit_days=refit_days,
        warmup_seasons=warmup_seasons,
        model_refit_days={m.name: booster_refit_days for m in suite.models if isinstance(m, BoosterModel)},
    )
    folder = settings.state_dir / "models" / f"{'-'.join(codes)}-{model}-{moment_}-{time.strftime('%Y%m%d-%H%M%S')}"
    output = run_training(settings, codes, suite, config, folder)
    trained, dataset, report = output.trained, output.dataset, output.report
    trained.evaluation.predictions.to_parquet(folder / PREDICTIONS_FILE, index=False)
    dataset.to_parquet(folder / DATASET_FILE, index=False)
    result = {
        "folder": str(folder.resolve()),
        "bundle_dir": str((folder / "bundle").resolve()),
        "report_dir": str(report.markdown.parent.resolve()),
        "metrics_path": str(report.metrics.resolve()),
        "output": trained.bundle.output,
        "trained_on": trained.trained_on,
        "seconds": round(trained.seconds, 1),
        "elo_fitted_on": list(output.elo_fitted_on),
        "params": {
            "leagues": codes,
            "seasons": f"{first_season}-{last_season}",
            "model": model,
            "moment": str(moment_),
            "refit_days": refit_days,
            "booster_refit_days": booster_refit_days,
            "warmup_seasons": warmup_seasons,
            "tuned": json.loads(params_json or "{}"),
        },
        "seasons": list(seasons),
        "refit_days": refit_days,
        "warmup_seasons": warmup_seasons,
    }
    (folder / TRAIN_FILE).write_text(_dumps(result) + "\n", encoding="utf-8")
    log.info("pipeline.train", extra={"folder": str(folder), "output": trained.bundle.output})
    return _dumps(result)


def evaluate(train_json: str) -> str:
    """The walk-forward figures the train step wrote (its report's metrics.json): overall RPS and log loss of the
    trained model beside Pinnacle's opening and closing prices, on the matches all of them priced."""
    trained = json.loads(train_json)
    report = json.loads(Path(trained["metrics_path"]).read_text(encoding="utf-8"))
    models: dict[str, dict[str, Any]] = report["models"]
    keep = [trained["output"], *(name for name in _MARKET_SUMMARY if name in models)]
    summary = {
        "output": trained["output"],
        "common_matches": report["common_matches"],
        "models": {
            name: {key: models[name].get(key) for key in ("n", "rps", "log_loss")} for name in keep if name in models
        },
    }
    return _dumps(summary)


def _trained_bundle(trained: dict[str, Any]) -> tuple[TrainedBundle, pd.DataFrame]:
    """What the train step evaluated and fitted, read back: the bundle, its walk-forward predictions, its data."""
    folder = Path(trained["folder"])
    predictions = pd.read_parquet(folder / PREDICTIONS_FILE)
    config = WalkForwardConfig(
        seasons=tuple(trained["seasons"]),
        refit_days=int(trained["refit_days"]),
        warmup_seasons=int(trained["warmup_seasons"]),
    )
    evaluation = WalkForwardResult(
        predictions=predictions,
        warmup_predictions=predictions.iloc[0:0],
        config=config,
        blocks=0,
        fits={},
        fit_seconds={},
        predict_seconds={},
        calibrations={},
        models=[],
        stack=None,
    )
    dataset = pd.read_parquet(folder / DATASET_FILE)
    bundle = ModelBundle.load(Path(trained["bundle_dir"]))
    return TrainedBundle(bundle, evaluation, int(trained["trained_on"]), float(trained["seconds"])), dataset


def register(state_dir: str, train_json: str) -> str:
    """Log the run and register the bundle in MLflow as `challenger`, run the promotion gate and, if it passes,
    promote it to `champion` and write the canary deploy request (`register_and_gate`)."""
    from matchday.training.register import register_and_gate  # noqa: PLC0415  (MLflow takes seconds to import)

    settings = _settings(state_dir)
    trained = json.loads(train_json)
    bundle, dataset = _trained_bundle(trained)
    outcome = register_and_gate(
        settings, bundle, dataset, Path(trained["bundle_dir"]), Path(trained["report_dir"]), trained["params"]
    )
    decision = outcome.decision
    result = {
        "model_name": settings.model_name,
        "run_id": outcome.run.run_id,
        "version": outcome.run.model_version,
        "model_uri": outcome.run.model_uri,
        "promoted": outcome.promoted,
        "decision": "promote" if decision.promote else "keep",
        "reference": decision.reference,
        "reason": decision.reason,
        "deploy_request": str(outcome.deploy_request) if outcome.deploy_request is not None else "",
    }
    # Beside the train step's output, so `matchday pipeline run` can report a run it did not see step by step.
    (Path(trained["folder"]) / REGISTER_FILE).write_text(_dumps(result) + "\n", encoding="utf-8")
    log.info("pipeline.register", extra={"version": result["version"], "promoted": outcome.promoted})
    return _dumps(result)


def request_deploy(state_dir: str, register_json: str) -> str:
    """Confirm the canary deploy request the gate wrote for a version that passed against the champion (serving
    rolls it out); fails when the request file is missing, so such a version never goes unannounced. The first
    champion is promoted by the gate itself: nothing to roll out against."""
    settings = _settings(state_dir)
    registered = json.loads(register_json)
    if not registered["deploy_request"]:
        reason = "the first champion: promoted directly" if registered["promoted"] else registered["reason"]
        return _dumps({"requested": False, "reason": reason})
    path = Path(registered["deploy_request"])
    if not path.is_file():
        raise FileNotFoundError(f"no deploy request at {path} for {settings.model_name} v{registered['version']}")
    request = json.loads(path.read_text(encoding="utf-8"))
    log.info("pipeline.request_deploy", extra={"version": request["version"], "path": str(path)})
    return _dumps(
        {"requested": True, "path": str(path), "version": request["version"], "strategy": request["strategy"]}
    )


def check_drift(state_dir: str, window: str = "", end: str = "") -> str:
    """The monitoring pipeline's drift step: `matchday monitor drift`'s check (`matchday.monitoring.check`) of
    the served version over `window` (default drift.yaml's) ending at `end` (ISO, UTC; default now). "retrain"
    when it drifted and the cooldown allows a training, which is then the pipeline's own retrain branch."""
    from matchday.monitoring.check import run_check, window_end  # noqa: PLC0415  (Evidently is slow to import)
    from matchday.monitoring.drift_config import load_drift_config, parse_duration  # noqa: PLC0415
    from matchday.monitoring.retrain import PipelineBranchLauncher  # noqa: PLC0415

    settings = _settings(state_dir)
    config = load_drift_config(settings.drift_config)
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        outcome = run_check(
            settings,
            engine,
            config,
            end=window_end(end) if end else None,
            window=parse_duration(window) if window else None,
            launcher=PipelineBranchLauncher(),
        )
    finally:
        engine.dispose()
    trigger = outcome.trigger
    retrain = trigger is not None and trigger.status == "launched"
    result = outcome.drift.result
    reason = "; ".join(result.reasons) or result.verdict
    if trigger is not None and not retrain:
        reason += f"; not retrained: {trigger.detail}"
    log.info("pipeline.check_drift", extra={"verdict": result.verdict, "retrain": retrain, "check": outcome.check_id})
    return _dumps(
        {
            "decision": "retrain" if retrain else "ok",
            "drift": result.drifted,
            "reason": reason,
            "check_id": outcome.check_id,
        }
    )
