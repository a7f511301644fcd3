"""After training: log the run and register the bundle in MLflow (alias `challenger`), then the promotion gate
judges it against the `champion` on the same walk-forward matches.

- No champion yet: a version that passes the gate (against the base rate) becomes `champion` at once: there is
  nothing to roll a canary out against.
- A champion exists: a version that passes is tagged `matchday.gate=passed` and a canary deploy is requested; the
  serving side rolls it out (`matchday.inference.canary`) and the canary, not the gate, moves `champion`.
- A version that fails is tagged `matchday.gate=kept` and stays a challenger nobody serves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from matchday.config import Settings
from matchday.domain import season_label
from matchday.evaluation.report import metrics_table
from matchday.integrations import mlflow_registry
from matchday.models.base import without_results
from matchday.training.fit import TrainedBundle
from matchday.training.gate import GateDecision, base_rate, decide

__all__ = ["PROBABILITY_COLUMNS", "Registration", "reference_snapshot", "register_and_gate"]

PROBABILITY_COLUMNS = ("p_home", "p_draw", "p_away")

log = logging.getLogger(__name__)

EXPERIMENT = "matchday-training"


@dataclass(frozen=True)
class Registration:
    run: mlflow_registry.TrainingRun
    decision: GateDecision
    promoted: bool  # became champion here (the first version that passes)
    deploy_request: Path | None  # the canary hand-over, for a version that passed against a champion


def _metrics(predictions: pd.DataFrame) -> dict[str, float]:
    """rps / log_loss per model, league and season (and overall), on the matches every model priced."""
    table = metrics_table(predictions, by=("competition", "season"))
    metrics: dict[str, float] = {}
    for _, row in table.iterrows():
        season = row["season"] if row["season"] == "all" else season_label(int(row["season"]))
        for name in ("rps", "log_loss"):
            metrics[f"{name}/{row['model']}/{row['competition']}/{season}"] = float(row[name])
    return metrics


def _champion_predictions(settings: Settings) -> pd.DataFrame | None:
    champion = mlflow_registry.version_by_alias(settings, "champion")
    if champion is None:
        return None
    output = champion.tags.get(mlflow_registry.OUTPUT_TAG)
    table = mlflow_registry.run_predictions(settings, champion)
    return table[table["model"] == output]


def _request_deploy(settings: Settings, version: str, decision: GateDecision) -> Path:
    """The hand-over to serving, as a file beside the MLflow tag the serving side polls: a canary of `version`."""
    folder = settings.state_dir / "deploy" / "requests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{settings.model_name}-v{version}.json"
    request = {
        "model_name": settings.model_name,
        "version": version,
        "model_uri": f"models:/{settings.model_name}/{version}",
        "strategy": "canary",
        "requested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "gate": asdict(decision),
    }
    path.write_text(json.dumps(request, indent=2) + "\n", encoding="utf-8")
    return path


def reference_snapshot(dataset: pd.DataFrame, trained: TrainedBundle) -> pd.DataFrame:
    """What drift monitoring compares served traffic with: the rows of the evaluated seasons, only what was known
    before kickoff (the bundle's input columns), with the answering model's out-of-sample probabilities."""
    predictions = trained.evaluation.predictions
    answered = predictions[predictions["model"] == trained.bundle.output]
    probabilities = answered[["match_id", *PROBABILITY_COLUMNS]].drop_duplicates("match_id")
    rows = without_results(dataset[dataset["match_id"].isin(probabilities["match_id"])])
    snapshot = rows[["match_id", "kickoff", *trained.bundle.input_columns()]]
    return snapshot.merge(probabilities, on="match_id", how="left").reset_index(drop=True)


def register_and_gate(
    settings: Settings,
    trained: TrainedBundle,
    dataset: pd.DataFrame,
    bundle_dir: Path,
    report_dir: Path,
    params: Mapping[str, object],
) -> Registration:
    """Register the bundle as the new `challenger` and gate it against the `champion` (or, with none yet, against
    the base rate of the seasons before the evaluated ones): see the module docstring for what passing does."""
    predictions = trained.evaluation.predictions
    challenger = predictions[predictions["model"] == trained.bundle.output]
    champion = _champion_predictions(settings)
    first_season = min(trained.evaluation.config.seasons)
    decision = decide(challenger, champion, base_rate(dataset, first_season), model=trained.bundle.output)
    run = mlflow_registry.log_training_run(
        settings,
        experiment=EXPERIMENT,
        params=params,
        metrics=_metrics(predictions),
        bundle_dir=bundle_dir,
        report_dir=report_dir,
        features=trained.bundle.input_columns(),
        data_hash=mlflow_registry.data_hash(dataset),
        input_example=without_results(dataset.tail(5)),
        predictions=predictions,
        reference=reference_snapshot(dataset, trained),
    )
    mlflow_registry.tag_gate(settings, run.model_version, passed=decision.promote)
    promoted, request = False, None
    if decision.promote and champion is None:
        mlflow_registry.promote(settings, run.model_version)
        promoted = True
    elif decision.promote:
        request = _request_deploy(settings, run.model_version, decision)
    log.info(
        "gate decided",
        extra={
            "version": run.model_version,
            "promote": decision.promote,
            "promoted": promoted,
            "canary_requested": request is not None,
            "reason": decision.reason,
        },
    )
    return Registration(run, decision, promoted, request)
