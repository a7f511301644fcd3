"""`GET /v1/recommendations` (value bets with stakes for a bankroll) and `GET /v1/arbitrage` on the serving app,
over the upcoming fixtures with their current prices (`Settings.betting_fixtures_file`, default the fixtures file
`matchday data fixtures` downloads). The guard in `http_routes` authenticates (API key) and rate-limits both like
the prediction routes; the served model (champion, or the canary's variant for the caller) gives the
probabilities, `matchday.betting` the decisions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request

from matchday.betting.arbitrage import arbitrage
from matchday.betting.errors import BettingInputError
from matchday.betting.kelly import KellyRules
from matchday.betting.prices import best_prices
from matchday.betting.recommend import recommend
from matchday.betting.value import ValueFilter
from matchday.config import Settings
from matchday.domain import Fixture as UpcomingFixture
from matchday.domain import Market, Phase
from matchday.features.frames import frames_from_fixtures
from matchday.inference.errors import ServingError
from matchday.inference.runtime import current_runtime
from matchday.inference.schema import Fixture, InvalidInput, Prices1X2
from matchday.ingest.football_data import parse_fixtures_file

__all__ = ["BETTING_PATHS", "ArbitrageLeg", "Recommendation", "betting_router"]

BETTING_PATHS = ("/v1/recommendations", "/v1/arbitrage")
_KEY_ID_HEADER = "x-matchday-key-id"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recommendation(_Out):
    match_date: str
    competition: str
    home_team: str
    away_team: str
    selection: str
    bookmaker: str
    price: float
    probability: float
    edge: float
    stake: float


class Skipped(_Out):
    home_team: str
    away_team: str
    reason: str


class Recommendations(_Out):
    bankroll: float
    recommendations: list[Recommendation]
    skipped: list[Skipped]


class ArbitrageLeg(_Out):
    match_date: str
    competition: str
    home_team: str
    away_team: str
    market: str
    line: float | None
    selection: str
    bookmaker: str
    price: float
    stake: float
    payout: float
    margin: float


def _fixtures(settings: Settings) -> list[UpcomingFixture]:
    path = settings.betting_fixtures_file or settings.cache_dir / "football-data" / "fixtures.csv"
    if not Path(path).is_file():
        raise HTTPException(503, f"no upcoming fixtures: {path} does not exist (run `matchday data fixtures`)")
    return [fixture for _, fixture in parse_fixtures_file(Path(path)).fixtures]


def _served(fixture: UpcomingFixture) -> Fixture:
    """The serving schema's fixture: complete 1X2 books of the current prices, as the `open` phase."""
    books: dict[str, dict[str, float]] = {}
    for quote in fixture.quotes:
        if quote.market is Market.MATCH_ODDS and quote.phase is Phase.OPENING:
            books.setdefault(quote.bookmaker, {})[quote.selection.value] = quote.price
    odds = {book: Prices1X2(**prices) for book, prices in books.items() if len(prices) == 3}
    return Fixture(
        competition=fixture.competition,
        home_team=fixture.home_team,
        away_team=fixture.away_team,
        kickoff=fixture.kickoff_at,
        odds={"open": odds},
    )


def _probabilities(
    frame: pd.DataFrame, fixtures: Sequence[UpcomingFixture], routing_key: str
) -> tuple[pd.DataFrame, list[Skipped]]:
    """One row of model probabilities per fixture the model can price; the others with the model's reason."""
    engine = current_runtime().engine
    request_id = uuid.uuid4().hex
    by_key = {(f.competition, pd.Timestamp(f.match_date), f.home_team, f.away_team): f for f in fixtures}
    rows, skipped = [], []
    for match_id, *key in frame[["match_id", "competition", "match_date", "home_team", "away_team"]].itertuples(
        index=False
    ):
        fixture = by_key[(key[0], pd.Timestamp(key[1]), key[2], key[3])]
        try:
            (prediction,) = engine.predict([_served(fixture)], request_id=request_id, routing_key=routing_key)
        except (InvalidInput, ValueError) as exc:
            skipped.append(Skipped(home_team=fixture.home_team, away_team=fixture.away_team, reason=str(exc)))
            continue
        except ServingError as exc:
            raise HTTPException(exc.status, exc.message) from None
        probs = prediction.probabilities
        rows.append({"match_id": match_id, "p_home": probs.home, "p_draw": probs.draw, "p_away": probs.away})
    predicted = pd.DataFrame(rows, columns=["match_id", "p_home", "p_draw", "p_away"])
    return frame.merge(predicted, on="match_id"), skipped


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, object]]:
    """JSON-ready rows: dates as ISO days, NaN lines as None."""
    records = []
    for row in frame[list(columns)].to_dict(orient="records"):
        record = {str(k): v for k, v in row.items()}
        record["match_date"] = pd.Timestamp(str(record["match_date"])).date().isoformat()
        if "line" in record:
            record["line"] = None if pd.isna(record["line"]) else record["line"]
        records.append(record)
    return records


def betting_router() -> APIRouter:
    router = APIRouter(tags=["betting"])

    @router.get("/v1/recommendations", response_model=Recommendations)
    def recommendations(
        request: Request,
        bankroll: float = Query(1000.0, gt=0.0, description="The money staked over each match day's bets."),
        min_edge: float = Query(0.02, ge=0.0, lt=10.0, description="Smallest p x price - 1 to recommend."),
        kelly: float = Query(0.25, gt=0.0, le=1.0, description="Kelly fraction."),
        max_bet: float = Query(0.05, gt=0.0, le=1.0, description="Largest stake, as a fraction of the bankroll."),
        competition: str | None = Query(None, description="Only this league code, e.g. E0."),
    ) -> Recommendations:
        upcoming = _fixtures(current_runtime().settings)
        if competition is not None:
            upcoming = [f for f in upcoming if f.competition == competition]
        if not upcoming:
            return Recommendations(bankroll=bankroll, recommendations=[], skipped=[])
        frame, quotes = frames_from_fixtures(upcoming)
        routing_key = request.headers.get("x-client-id") or request.headers.get(_KEY_ID_HEADER) or uuid.uuid4().hex
        predictions, skipped = _probabilities(frame, upcoming, routing_key)
        try:
            rules, sizing = ValueFilter(min_edge=min_edge), KellyRules(kelly, max_bet=max_bet)
            bets = recommend(predictions, best_prices(quotes, Phase.OPENING), bankroll, rules, sizing)
        except BettingInputError as exc:
            raise HTTPException(422, str(exc)) from None
        items = [Recommendation.model_validate(row) for row in _records(bets, list(Recommendation.model_fields))]
        return Recommendations(bankroll=bankroll, recommendations=items, skipped=skipped)

    @router.get("/v1/arbitrage", response_model=list[ArbitrageLeg])
    def arbitrages(
        stake: float = Query(100.0, gt=0.0, description="Total stake per opportunity."),
        min_margin: float = Query(0.0, ge=0.0, description="Smallest guaranteed return to list."),
    ) -> list[ArbitrageLeg]:
        upcoming = _fixtures(current_runtime().settings)
        if not upcoming:
            return []
        frame, quotes = frames_from_fixtures(upcoming)
        found = arbitrage(quotes, Phase.OPENING, total_stake=stake, min_margin=min_margin)
        found = found.merge(frame[["match_id", "match_date", "competition", "home_team", "away_team"]], on="match_id")
        return [ArbitrageLeg.model_validate(row) for row in _records(found, list(ArbitrageLeg.model_fields))]

    return router
