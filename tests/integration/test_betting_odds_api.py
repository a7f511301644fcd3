"""The Odds API adapter against a real HTTP server on 127.0.0.1 that answers in the documented v4 format
(`GET /v4/sports/{sport}/odds`: a JSON list of events; quota in x-requests-remaining / x-requests-used), with
scripted throttling, server errors, a bad key and an exhausted quota."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from matchday.betting.arbitrage import arbitrage
from matchday.betting.prices import best_prices
from matchday.config import Settings
from matchday.domain import Market, Phase, Selection
from matchday.features.frames import frames_from_fixtures
from matchday.integrations.odds_api import OddsApiClient, OddsApiError, QuotaExhaustedError

pytestmark = pytest.mark.integration

EVENTS: list[dict[str, Any]] = [
    {
        "id": "e912304de2b2ce35b473ce2ecd3d1502",
        "sport_key": "soccer_epl",
        "sport_title": "EPL",
        "commence_time": "2026-12-05T15:00:00Z",
        "home_team": "Arsenal",
        "away_team": "Chelsea",
        "bookmakers": [
            {
                "key": "pinnacle",
                "title": "Pinnacle",
                "last_update": "2026-12-04T01:00:00Z",
                "markets": [
                    {
                        "key": "h2h",
                        "last_update": "2026-12-04T01:00:00Z",
                        "outcomes": [
                            {"name": "Arsenal", "price": 2.05},
                            {"name": "Chelsea", "price": 3.9},
                            {"name": "Draw", "price": 3.6},
                        ],
                    },
                    {
                        "key": "totals",
                        "last_update": "2026-12-04T01:00:00Z",
                        "outcomes": [
                            {"name": "Over", "price": 1.95, "point": 2.5},
                            {"name": "Under", "price": 1.93, "point": 2.5},
                        ],
                    },
                ],
            },
            {
                "key": "williamhill",
                "title": "William Hill",
                "last_update": "2026-12-04T01:02:00Z",
                "markets": [
                    {
                        "key": "h2h",
                        "last_update": "2026-12-04T01:02:00Z",
                        "outcomes": [
                            {"name": "Arsenal", "price": 2.3},
                            {"name": "Chelsea", "price": 4.4},
                            {"name": "Draw", "price": 3.9},
                        ],
                    }
                ],
            },
        ],
    }
]


@dataclass
class Api:
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    remaining: int = 480
    used: int = 20
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    base_url: str = ""


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            api.requests.append(query)
            if api.script:
                status, headers, body = api.script.pop(0)
            elif query.get("apiKey") != ["secret-key"]:
                status, headers, body = 401, {}, b'{"message": "API key is not valid"}'
            elif url.path != "/v4/sports/soccer_epl/odds":
                status, headers, body = 404, {}, b'{"message": "Unknown sport"}'
            else:
                api.remaining, api.used = api.remaining - 1, api.used + 1
                quota = {"x-requests-remaining": str(api.remaining), "x-requests-used": str(api.used)}
                status, headers, body = 200, quota | {"x-requests-last": "1"}, json.dumps(EVENTS).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _client(api: Api, key: str = "secret-key", retries: int = 3) -> OddsApiClient:
    settings = Settings(odds_api_key=SecretStr(key), odds_api_base_url=api.base_url, download_retries=retries)
    return OddsApiClient(settings, backoff_s=0.01)


def test_fixtures_and_quotes_in_the_store_model_with_the_quota(api: Api) -> None:
    with _client(api) as client:
        fixtures = client.odds("soccer_epl")
    assert client.quota.remaining == 479 and client.quota.used == 21
    assert api.requests[0]["oddsFormat"] == ["decimal"] and api.requests[0]["markets"] == ["h2h,totals"]
    (fixture,) = fixtures
    assert (fixture.competition, fixture.home_team, fixture.away_team) == ("E0", "Arsenal", "Chelsea")
    assert fixture.kickoff_at is not None and fixture.kickoff_at.isoformat() == "2026-12-05T15:00:00+00:00"
    prices = {(q.bookmaker, q.market, q.selection, q.line): q.price for q in fixture.quotes}
    assert prices[("pinnacle", Market.MATCH_ODDS, Selection.DRAW, None)] == 3.6
    assert prices[("williamhill", Market.MATCH_ODDS, Selection.HOME, None)] == 2.3
    assert prices[("pinnacle", Market.OVER_UNDER, Selection.UNDER, 2.5)] == 1.93
    assert {q.phase for q in fixture.quotes} == {Phase.OPENING}
    # the same frames as the football-data files: best prices and arbitrage work on them unchanged
    _, quotes = frames_from_fixtures(fixtures)
    best = best_prices(quotes, Phase.OPENING).set_index("selection")
    assert best.loc["away", "bookmaker"] == "williamhill"
    found = arbitrage(quotes, Phase.OPENING)
    assert found.empty == (1 / 2.3 + 1 / 3.9 + 1 / 4.4 >= 1)


def test_throttling_and_server_errors_are_retried(api: Api) -> None:
    api.script = [(429, {"Retry-After": "0"}, b'{"message": "slow down"}'), (503, {}, b"busy")]
    with _client(api) as client:
        assert len(client.odds("soccer_epl")) == 1
    assert len(api.requests) == 3


def test_retries_give_up_with_the_cause(api: Api) -> None:
    api.script = [(500, {}, b"down")] * 3
    with _client(api, retries=3) as client, pytest.raises(OddsApiError, match="after 3 attempts: HTTP 500"):
        client.odds("soccer_epl")


def test_a_bad_key_fails_at_once(api: Api) -> None:
    with _client(api, key="wrong") as client, pytest.raises(OddsApiError, match="refused: HTTP 401") as refused:
        client.odds("soccer_epl")
    assert len(api.requests) == 1
    assert "wrong" not in str(refused.value)  # the key never reaches an error message or a log line


def test_an_exhausted_quota_stops_further_calls(api: Api) -> None:
    api.remaining = 1
    with _client(api) as client:
        client.odds("soccer_epl")
        assert client.quota.remaining == 0
        with pytest.raises(QuotaExhaustedError, match="no requests remain"):
            client.odds("soccer_epl")
    assert len(api.requests) == 1


def test_without_a_key_the_adapter_says_what_to_use() -> None:
    with pytest.raises(OddsApiError, match="MATCHDAY_ODDS_API_KEY is not set"):
        OddsApiClient(Settings())
    with pytest.raises(OddsApiError, match="sport='soccer_mars'"):
        OddsApiClient(Settings(odds_api_key=SecretStr("k"))).odds("soccer_mars")
