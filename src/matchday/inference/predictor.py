"""One served model version: a trained bundle whose boosters and stack run in ONNX Runtime, fed by `FixtureRowBuilder`.

    Predictor.from_registry(settings, alias, teams)   the version behind an MLflow alias (`champion`, `challenger`)
    predictor.predict(fixtures) -> list[Scored]       probabilities, goals markets, the feature row used

Boosters and the stack are exported to ONNX when the version is loaded (`matchday.integrations.onnx_export`) and
run in one onnxruntime session each: CPU by default, CUDA first where the `gpu` extra's onnxruntime-gpu is
installed. Dixon-Coles and the market baselines are closed-form NumPy and run as they are. Goals markets come from
the Dixon-Coles member's score grid where the bundle has one, whichever member answers the 1X2.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matchday.config import Settings
from matchday.inference.fixture_rows import FeatureBlock, FixtureRowBuilder, TeamFeatureTable
from matchday.inference.markets import markets_of
from matchday.inference.schema import Fixture, InvalidInput, Markets
from matchday.integrations.onnx_export import (
    OnnxPredictor,
    booster_to_onnx,
    stack_input,
    stack_to_onnx,
)
from matchday.models.base import FloatArray, Forecaster
from matchday.models.boosters import BoosterModel
from matchday.models.bundle import ModelBundle
from matchday.models.dixon_coles import outcome_probabilities
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.models.market import MarketBaseline

__all__ = ["Predictor", "Scored"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureRow:
    """A fixture's model input, kept as its block's arrays: the prediction log turns it into JSON off the request
    path."""

    block: FeatureBlock
    index: int

    def as_dict(self) -> dict[str, Any]:
        return self.block.row(self.index)


@dataclass(frozen=True)
class Scored:
    probabilities: tuple[float, float, float]
    markets: Markets | None
    features: FeatureRow


class Predictor:
    def __init__(
        self,
        bundle: ModelBundle,
        *,
        name: str,
        version: str,
        teams: TeamFeatureTable | None,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.bundle = bundle
        self.name = name
        self.version = version
        self.moment = bundle.moment
        # Only the members the answer depends on: a bundle also carries the baselines it was scored beside.
        needed = set(bundle.stack.base_names) if bundle.stack is not None else {bundle.output}
        self._members = [member for member in bundle.forecasters if member.name in needed]
        self.builder = FixtureRowBuilder(_input_columns(self._members), bundle.recipe, teams)
        self._sessions = {
            member.name: OnnxPredictor(booster_to_onnx(member), providers)
            for member in self._members
            if isinstance(member, BoosterModel)
        }
        self._stack = OnnxPredictor(stack_to_onnx(bundle.stack), providers) if bundle.stack is not None else None
        # markets from Dixon-Coles even when it is not a base: it is the bundle's goals model
        self._dixon_coles = next((m for m in bundle.forecasters if isinstance(m, DixonColesModel)), None)
        self._competitions = self._known_competitions()
        logger.info(
            "predictor.loaded",
            extra={"model": name, "version": version, "output": bundle.output, "onnx": sorted(self._sessions)},
        )

    @classmethod
    def from_registry(
        cls, settings: Settings, alias: str, teams: TeamFeatureTable | None, providers: Sequence[str] | None = None
    ) -> Predictor | None:
        """The version `alias` points at, or None when the alias does not exist (yet)."""
        from matchday.integrations.mlflow_registry import load_bundle_by_alias  # noqa: PLC0415  (MLflow is slow to import)

        found = load_bundle_by_alias(settings, alias)
        if found is None:
            return None
        bundle, version = found
        return cls(bundle, name=settings.model_name, version=version, teams=teams, providers=providers)

    @property
    def required_odds(self) -> list[str]:
        return list(self.builder.odds.required)

    @property
    def providers(self) -> list[str]:
        sessions = [*self._sessions.values(), *([self._stack] if self._stack is not None else [])]
        return sessions[0].providers if sessions else ["numpy"]

    def predict(self, fixtures: Sequence[Fixture], *, markets: bool = True) -> list[Scored]:
        """Scores `fixtures`; `markets=False` skips the goals markets (the OIP output is the 1X2 alone)."""
        self._check_competitions(fixtures)
        block = self.builder.block(fixtures)
        # Dixon-Coles' grids once, for its 1X2 as a base and for the markets
        dc_grids = None
        if self._dixon_coles is not None:
            dc_grids = self._dixon_coles.grids_of(
                block.keys["competition"], block.keys["home_team"], block.keys["away_team"]
            )
        probs = self._output(block, dc_grids)
        goals: list[Markets | None] = [None] * block.n
        if markets and dc_grids is not None:
            goals = markets_of(dc_grids)
        out = []
        for i, fixture in enumerate(fixtures):
            triplet = probs[i]
            if not np.all(np.isfinite(triplet)):
                field = f"fixtures[{i}]" if len(fixtures) > 1 else "fixture"
                raise InvalidInput(field, fixture.home_team, "the model cannot price this fixture (a member gave NaN)")
            out.append(Scored(_triplet(triplet), goals[i], FeatureRow(block, i)))
        return out

    def _output(self, block: FeatureBlock, dc_grids: FloatArray | None) -> FloatArray:
        if self._stack is None and self.bundle.output in self._sessions:
            return self._booster(self.bundle.output, block)
        members = {}
        for forecaster in self._members:
            if forecaster.name in self._sessions:
                members[forecaster.name] = self._booster(forecaster.name, block)
            elif forecaster is self._dixon_coles and dc_grids is not None:
                members[forecaster.name] = outcome_probabilities(dc_grids)
            elif isinstance(forecaster, MarketBaseline):
                members[forecaster.name] = forecaster.predict_values(block.matrix(forecaster.columns))
            else:  # any other member: a frame of just the columns it reads
                members[forecaster.name] = forecaster.predict(block.frame(_input_columns([forecaster])))
        if self._stack is None:
            return members[self.bundle.output]
        assert self.bundle.stack is not None
        names = self.bundle.stack.base_names
        return self._stack.predict(stack_input(members, names, self._stack.input_dtype))

    def _booster(self, name: str, block: FeatureBlock) -> FloatArray:
        session = self._sessions[name]
        return session.predict(block.matrix(session.features, np.float32))

    def _known_competitions(self) -> set[str]:
        known: set[str] = set()
        if self._dixon_coles is not None:
            known |= set(self._dixon_coles.params)
        if self.bundle.recipe is not None:
            known |= set(self.bundle.recipe.head_to_head)
        return known

    def _check_competitions(self, fixtures: Sequence[Fixture]) -> None:
        if not self._competitions:
            return
        for i, fixture in enumerate(fixtures):
            if fixture.competition not in self._competitions:
                field = f"fixtures[{i}].competition" if len(fixtures) > 1 else "competition"
                known = ", ".join(sorted(self._competitions))
                raise InvalidInput(field, fixture.competition, f"the model was trained on {known}")


def _input_columns(members: Sequence[Forecaster]) -> list[str]:
    columns: list[str] = ["competition", "home_team", "away_team"]
    for member in members:
        for column in [*getattr(member, "features", []), *getattr(member, "columns", [])]:
            if column not in columns:
                columns.append(column)
    return columns


def _triplet(values: FloatArray) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])
