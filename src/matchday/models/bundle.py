"""A model bundle: what training produces and serving loads. The forecasters fitted on all history, the stack over
them when there is one, and which of them answers. One folder: `manifest.json` naming the members and a subfolder
per member in its own saved form (`matchday.models.persistence`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pandas as pd

from matchday.features.fixture_recipe import FixtureRecipe
from matchday.features.moments import Moment
from matchday.models.base import FloatArray, Forecaster
from matchday.models.persistence import load_model, read_manifest, register, write_manifest
from matchday.models.stack import StackModel

__all__ = ["ModelBundle"]

_STACK_FOLDER = "stack"
_RECIPE_FILE = "fixture_recipe.json"


class ModelBundle:
    """`output` names the member whose probabilities `predict` returns: a forecaster's name or the stack's.
    `recipe` is what a server needs to rebuild a fixture's match-level features (`matchday.features.fixture_recipe`);
    training attaches it, a bundle without one can only be served from complete feature rows."""

    KIND: ClassVar[str] = "bundle"
    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(
        self,
        forecasters: Sequence[Forecaster],
        stack: StackModel | None,
        output: str,
        moment: Moment,
        recipe: FixtureRecipe | None = None,
    ) -> None:
        names = [forecaster.name for forecaster in forecasters]
        if len(set(names)) != len(names):
            raise ValueError(f"forecaster names must be unique, got {names}")
        if stack is not None:
            missing = [base for base in stack.base_names if base not in names]
            if missing:
                raise ValueError(f"the stack's base(s) {', '.join(missing)} are not in the bundle: {names}")
        known = [*names, *([stack.name] if stack is not None else [])]
        if output not in known:
            raise ValueError(f"output {output!r} is not a member of the bundle: {', '.join(known)}")
        self.forecasters = list(forecasters)
        self.stack = stack
        self.output = output
        self.moment = Moment(moment)
        self.name = output
        self.recipe = recipe

    def predict_all(self, rows: pd.DataFrame) -> dict[str, FloatArray]:
        """Every member's (n, 3) probabilities for `rows` (feature rows without results)."""
        probs = {forecaster.name: forecaster.predict(rows) for forecaster in self.forecasters}
        if self.stack is not None:
            probs[self.stack.name] = self.stack.predict({base: probs[base] for base in self.stack.base_names})
        return probs

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        """The `output` member's (n, 3) probabilities, ordered (home, draw, away)."""
        if self.stack is not None and self.output == self.stack.name:
            return self.predict_all(rows)[self.output]
        member = next(forecaster for forecaster in self.forecasters if forecaster.name == self.output)
        return member.predict(rows)

    def input_columns(self) -> list[str]:
        """The row columns the members read: booster features, market prices and the match keys."""
        columns: list[str] = ["competition", "home_team", "away_team"]
        for forecaster in self.forecasters:
            for column in [*getattr(forecaster, "features", []), *getattr(forecaster, "columns", [])]:
                if column not in columns:
                    columns.append(column)
        return columns

    def save(self, path: Path) -> None:
        for forecaster in self.forecasters:
            forecaster.save(path / forecaster.name)
        if self.stack is not None:
            self.stack.save(path / _STACK_FOLDER)
        payload = {
            "forecasters": [forecaster.name for forecaster in self.forecasters],
            "stack": self.stack is not None,
            "output": self.output,
            "moment": str(self.moment),
        }
        if self.recipe is not None:
            (path / _RECIPE_FILE).write_text(json.dumps(self.recipe.to_dict(), allow_nan=True), encoding="utf-8")
        write_manifest(path, self.KIND, self.FORMAT_VERSION, payload)

    @classmethod
    def load(cls, path: Path) -> ModelBundle:
        manifest = read_manifest(path, cls.KIND, cls.FORMAT_VERSION)
        forecasters = [load_model(path / name) for name in manifest["forecasters"]]
        stack = StackModel.load(path / _STACK_FOLDER) if manifest["stack"] else None
        recipe_file = path / _RECIPE_FILE
        recipe = (
            FixtureRecipe.from_dict(json.loads(recipe_file.read_text(encoding="utf-8")))
            if recipe_file.exists()
            else None
        )
        return cls(forecasters, stack, str(manifest["output"]), Moment(manifest["moment"]), recipe)


register(ModelBundle.KIND, ModelBundle.load)
