"""The Odds API (v4) adapter: current prices of upcoming fixtures, as the same `Fixture`/`OddsQuote` model the
football-data files give, so the betting code cannot tell the sources apart.

`GET {base}/v4/sports/{sport}/odds?apiKey=..&regions=..&markets=h2h,totals&oddsFormat=decimal&dateFormat=iso`
answers a list of events (id, sport_key, commence_time, home_team, away_team, bookmakers[key, title,
last_update, markets[key, outcomes[name, price, point]]]). Every call costs quota: the response headers
`x-requests-remaining` and `x-requests-used` are kept on the client, and once the remaining quota is known to be
zero no further call is made. 429 and 5xx answers and transport errors are retried with exponential backoff
(honouring a numeric Retry-After); 401, 403 and 422 are not. The quotes are current prices, the ones on offer at
the decision moment, stored with the `opening` phase as the football-data fixtures file does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

from matchday.config import Settings
from matchday.domain import Fixture, Market, OddsQuote, Phase, Selection

__all__ = ["SPORT_KEYS", "OddsApiClient", "OddsApiError", "Quota", "QuotaExhaustedError", "events_to_fixtures"]

log = logging.getLogger(__name__)

SPORT_KEYS: dict[str, str] = {
    "soccer_epl": "E0",
    "soccer_efl_champ": "E1",
    "soccer_germany_bundesliga": "D1",
    "soccer_italy_serie_a": "I1",
    "soccer_spain_la_liga": "SP1",
    "soccer_france_ligue_one": "F1",
}
_MAX_BACKOFF_S = 30.0
_MAX_RETRY_AFTER_S = 120.0


class OddsApiError(RuntimeError):
    """A call failed for good; the message names the URL (without the key) and the cause."""


class QuotaExhaustedError(OddsApiError):
    """The API said no requests remain: calling again would fail and cost nothing but time."""


@dataclass(frozen=True, slots=True)
class Quota:
    remaining: int | None
    used: int | None


def _number(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(float(headers[name]))
    except (KeyError, ValueError):
        return None


def _quote(bookmaker: str, market: str, outcome: Mapping[str, Any], home: str, away: str) -> OddsQuote | None:
    price, name = outcome.get("price"), outcome.get("name")
    if not isinstance(price, int | float) or price <= 1.0:
        return None
    if market == "h2h":
        selection = {home: Selection.HOME, away: Selection.AWAY, "Draw": Selection.DRAW}.get(str(name))
        return None if selection is None else OddsQuote(bookmaker, Market.MATCH_ODDS, selection, Phase.OPENING, price)
    if market == "totals" and isinstance(outcome.get("point"), int | float):
        selection = {"Over": Selection.OVER, "Under": Selection.UNDER}.get(str(name))
        if selection is not None:
            line = float(outcome["point"])
            return OddsQuote(bookmaker, Market.OVER_UNDER, selection, Phase.OPENING, float(price), line)
    return None


def events_to_fixtures(events: list[Mapping[str, Any]], competition: str) -> list[Fixture]:
    """Fixtures with their 1X2 (h2h) and over/under (totals) quotes; other markets are skipped."""
    fixtures = []
    for event in events:
        try:
            home, away = str(event["home_team"]), str(event["away_team"])
            kickoff = datetime.fromisoformat(str(event["commence_time"]).replace("Z", "+00:00"))
        except (KeyError, ValueError) as exc:
            raise OddsApiError(f"event {event.get('id')!r}: bad or missing field ({exc})") from None
        quotes = [
            quote
            for book in event.get("bookmakers", [])
            for market in book.get("markets", [])
            for outcome in market.get("outcomes", [])
            if (quote := _quote(str(book["key"]), str(market["key"]), outcome, home, away)) is not None
        ]
        fixtures.append(Fixture(competition, kickoff.date(), kickoff, home, away, tuple(quotes)))
    return fixtures


class OddsApiClient:
    """One API key, one httpx client; `odds(sport)` fetches the upcoming fixtures of a sport key."""

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if settings.odds_api_key is None:
            raise OddsApiError("MATCHDAY_ODDS_API_KEY is not set: use the upcoming-fixtures file instead")
        self._key = settings.odds_api_key.get_secret_value()
        self.base_url = settings.odds_api_base_url.rstrip("/")
        self.retries = settings.download_retries
        self.backoff_s, self.timeout_s, self._sleep = backoff_s, timeout_s, sleep
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()
        self.quota = Quota(None, None)

    def odds(self, sport: str, regions: str = "eu,uk", markets: str = "h2h,totals") -> list[Fixture]:
        if sport not in SPORT_KEYS:
            raise OddsApiError(f"sport={sport!r}: expected one of {', '.join(SPORT_KEYS)}")
        params = {"regions": regions, "markets": markets, "oddsFormat": "decimal", "dateFormat": "iso"}
        body = self._get(f"/v4/sports/{sport}/odds", params)
        if not isinstance(body, list):
            raise OddsApiError(f"/v4/sports/{sport}/odds: expected a list of events, got {type(body).__name__}")
        return events_to_fixtures(body, SPORT_KEYS[sport])

    def _get(self, path: str, params: dict[str, str]) -> Any:
        if self.quota.remaining == 0:
            raise QuotaExhaustedError(f"GET {path}: no requests remain (used {self.quota.used})")
        url = f"{self.base_url}{path}"
        last = ""
        for attempt in range(1, self.retries + 1):
            delay = min(self.backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
            try:
                response = self._client.get(url, params={**params, "apiKey": self._key}, timeout=self.timeout_s)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                self._track(response)
                if response.status_code == 200:
                    return response.json()
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise self._refused(path, last)
                delay = self._retry_after(response, delay)
            if attempt < self.retries:
                log.warning("odds_api.retry", extra={"path": path, "attempt": attempt, "error": last})
                self._sleep(delay)
        raise OddsApiError(f"GET {path} failed after {self.retries} attempts: {last}")

    def _track(self, response: httpx.Response) -> None:
        remaining = _number(response.headers, "x-requests-remaining")
        used = _number(response.headers, "x-requests-used")
        if remaining is not None or used is not None:
            self.quota = Quota(remaining, used)
            log.info("odds_api.quota", extra={"remaining": remaining, "used": used})

    def _refused(self, path: str, detail: str) -> OddsApiError:
        if self.quota.remaining == 0:
            return QuotaExhaustedError(f"GET {path}: {detail}")
        return OddsApiError(f"GET {path} refused: {detail}")

    @staticmethod
    def _retry_after(response: httpx.Response, default: float) -> float:
        try:
            return min(max(float(response.headers.get("Retry-After", "")), 0.0), _MAX_RETRY_AFTER_S)
        except ValueError:
            return default

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
