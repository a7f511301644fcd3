"""What the serving endpoints take and return, as pydantic models (the HTTP API's OpenAPI schema comes from them).

A fixture names its competition and teams and, where the model's moment needs them, the bookmakers' prices:
`odds[phase][bookmaker]` holds decimal 1X2 prices and `totals[phase][bookmaker]` over/under 2.5 prices, `phase`
being `open` or `close`. The names follow the feature table: `pinnacle`, `market_avg`, `market_max` and any
individual book (the dispersion features read those). Outcome probabilities are ordered (home, draw, away).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MAX_BATCH",
    "AsianHandicapPrices",
    "BatchRequest",
    "BatchResponse",
    "Fixture",
    "InvalidInput",
    "Markets",
    "ModelInfo",
    "ModelRef",
    "OverUnder",
    "Phase",
    "Prediction",
    "Prices1X2",
    "PricesOverUnder",
    "Probabilities",
    "ScoreProbability",
]

Phase = Literal["open", "close"]
MAX_BATCH = 10_000
_NAME = r"^\S(.*\S)?$"  # no leading or trailing blanks


class InvalidInput(ValueError):  # noqa: N818  the request's fault, as the name says
    """A request the model cannot answer; `field` is the request path of the offending value (`odds.open.pinnacle`),
    served as a 4xx naming both."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prices1X2(_Frozen):
    home: float = Field(gt=1.0, description="Decimal price of a home win.")
    draw: float = Field(gt=1.0)
    away: float = Field(gt=1.0)


class PricesOverUnder(_Frozen):
    over: float = Field(gt=1.0, description="Decimal price of over 2.5 goals.")
    under: float = Field(gt=1.0)


class Fixture(_Frozen):
    competition: str = Field(min_length=1, max_length=16, pattern=_NAME, examples=["E0"])
    home_team: str = Field(min_length=1, max_length=128, pattern=_NAME, examples=["Arsenal"])
    away_team: str = Field(min_length=1, max_length=128, pattern=_NAME, examples=["Chelsea"])
    kickoff: datetime | None = Field(default=None, description="UTC kickoff; logged with the prediction.")
    odds: dict[Phase, dict[str, Prices1X2]] = Field(
        default_factory=dict,
        description="1X2 prices by phase then bookmaker; a model predicting at `open` needs the opening prices.",
        examples=[{"open": {"pinnacle": {"home": 2.1, "draw": 3.5, "away": 3.6}}}],
    )
    totals: dict[Phase, dict[str, PricesOverUnder]] = Field(
        default_factory=dict, description="Over/under 2.5 prices by phase then bookmaker (optional)."
    )

    @model_validator(mode="after")
    def _two_teams(self) -> Fixture:
        if self.home_team == self.away_team:
            raise ValueError(f"home_team and away_team are both {self.home_team!r}")
        return self


class BatchRequest(_Frozen):
    fixtures: list[Fixture] = Field(min_length=1, max_length=MAX_BATCH)


class Probabilities(_Frozen):
    home: float
    draw: float
    away: float


class OverUnder(_Frozen):
    line: float
    over: float
    under: float
    push: float


class AsianHandicapPrices(_Frozen):
    line: float = Field(description="The home side's handicap.")
    home: float
    away: float
    push: float


class ScoreProbability(_Frozen):
    home: int
    away: int
    probability: float


class Markets(_Frozen):
    """Goals markets from the model's score grid (Dixon-Coles members only)."""

    expected_goals: tuple[float, float]
    over_under: list[OverUnder]
    asian_handicap: list[AsianHandicapPrices]
    both_teams_to_score: float
    most_likely_scores: list[ScoreProbability]


class ModelRef(_Frozen):
    name: str
    version: str
    variant: Literal["champion", "challenger"]


class Prediction(_Frozen):
    request_id: str
    competition: str
    home_team: str
    away_team: str
    probabilities: Probabilities
    markets: Markets | None = Field(description="Null when the served model has no score grid for the fixture.")
    model: ModelRef


class BatchResponse(_Frozen):
    request_id: str
    predictions: list[Prediction]


class ModelInfo(_Frozen):
    name: str
    version: str
    variant: Literal["champion", "challenger"]
    alias: str
    moment: Phase
    output: str = Field(description="The bundle member that answers (the stack, a booster, Dixon-Coles).")
    required_odds: list[str] = Field(description="phase.bookmaker prices a fixture must carry.")
    ready: bool
