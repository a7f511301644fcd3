"""`GET /v1/recommendations` and `GET /v1/arbitrage` on the real served stack: `bentoml serve` on the stack the
pipeline's steps trained and registered, API keys in the database and rate limits in the real Redis, over an
upcoming-fixtures file built from real EPL 2022-23 rows with their prices."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import SADeprecationWarning

from matchday.config import Settings
from matchday.inference.auth import ApiKeyStore
from matchday.ingest.football_data import parse_fixtures_file
from matchday.ingest.store.database import make_engine, migrate

from .football_data_server import write_fixtures_file
from .serving_support import ServingProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning"),
]


@pytest.fixture(scope="module")
def fixtures_file(serving_settings: Settings) -> Path:
    return write_fixtures_file(serving_settings.state_dir / "betting-fixtures.csv", rows=10)


@pytest.fixture(scope="module")
def server(serving_settings: Settings, fixtures_file: Path) -> Iterator[ServingProcess]:
    process = ServingProcess(serving_settings, {"MATCHDAY_BETTING_FIXTURES_FILE": str(fixtures_file)})
    try:
        process.wait_ready()
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.tail()


def _key(settings: Settings, rate: int) -> str:
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The ``noload`` loader strategy", SADeprecationWarning)
        return ApiKeyStore(engine).create(f"bet-{uuid.uuid4().hex[:8]}", rate_per_minute=rate).key


def test_both_routes_need_an_api_key(server: ServingProcess) -> None:
    for path in ("/v1/recommendations", "/v1/arbitrage"):
        refused = httpx.get(f"{server.url}{path}", timeout=30)
        assert refused.status_code == 401 and "API key" in refused.json()["error"]


def test_recommendations_are_value_bets_of_the_served_model_with_stakes(
    server: ServingProcess, serving_settings: Settings, fixtures_file: Path
) -> None:
    key = _key(serving_settings, 1000)
    params = {"bankroll": 2000, "min_edge": 0.0, "kelly": 0.5, "max_bet": 0.04}
    response = httpx.get(f"{server.url}/v1/recommendations", params=params, headers={"x-api-key": key}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    bets = body["recommendations"]
    assert bets, body
    assert all(b["edge"] > 0 and 0 < b["stake"] <= 0.04 * 2000 + 1e-6 for b in bets)
    assert all(b["edge"] == pytest.approx(b["probability"] * b["price"] - 1) for b in bets)
    fixtures = {(f.home_team, f.away_team): f for _, f in parse_fixtures_file(fixtures_file).fixtures}
    first = bets[0]
    fixture = fixtures[(first["home_team"], first["away_team"])]
    # the probability is the served model's: the same as POST /v1/predict answers for that fixture and its prices
    books: dict[str, dict[str, float]] = {}
    for quote in fixture.quotes:
        if quote.market.value == "1x2" and quote.phase.value == "opening":
            books.setdefault(quote.bookmaker, {})[quote.selection.value] = quote.price
    payload = {
        "competition": "E0",
        "home_team": fixture.home_team,
        "away_team": fixture.away_team,
        "odds": {"open": {book: prices for book, prices in books.items() if len(prices) == 3}},
    }
    predicted = httpx.post(
        f"{server.url}/v1/predict", json={"fixture": payload}, headers={"x-api-key": key}, timeout=30
    ).json()
    assert first["probability"] == pytest.approx(predicted["probabilities"][first["selection"]], abs=1e-9)
    best = max(q.price for q in fixture.quotes if q.selection.value == first["selection"] and q.market.value == "1x2"
               and q.bookmaker != "market_avg")  # fmt: skip
    assert first["price"] == pytest.approx(best)


def test_arbitrage_route_and_its_rate_limit(server: ServingProcess, serving_settings: Settings) -> None:
    key = _key(serving_settings, 3)
    statuses = []
    for _ in range(3):
        response = httpx.get(f"{server.url}/v1/arbitrage", headers={"x-api-key": key}, timeout=30)
        statuses.append(response.status_code)
        legs = response.json()
        assert isinstance(legs, list)
        for leg in legs:
            assert leg["margin"] > 0 and leg["bookmaker"] not in {"market_max", "market_avg"}
    assert statuses == [200, 200, 200]
    refused = httpx.get(f"{server.url}/v1/arbitrage", headers={"x-api-key": key}, timeout=30)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
