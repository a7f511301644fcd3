"""`matchday bet backtest | value | arbitrage` for real: the EPL 2019-20 .. 2022-23 season files ingested into a
SQLite store, a predictions file from a stand-in forecaster that knows only opening prices, and an upcoming-fixtures
file; every command with --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from matchday.cli import app
from matchday.features.frames import frames_from_fixtures, frames_from_matches
from matchday.features.market import multiplicative
from matchday.ingest.football_data import parse_fixtures_file, parse_season_file

from .football_data_server import FOOTBALL_DATA, write_fixtures_file

pytestmark = pytest.mark.integration

SEASONS = ("1920", "2021", "2122", "2223")


def _run(state: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env={"MATCHDAY_STATE_DIR": str(state)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _stand_in(matches: pd.DataFrame, quotes: pd.DataFrame) -> pd.DataFrame:
    """Pinnacle's opening no-vig probabilities sharpened towards the favourite ("stack"), and a flat market
    average ("market_avg_open"), in the long layout of a walk-forward predictions.csv."""
    opening = quotes[(quotes["bookmaker"] == "pinnacle") & (quotes["phase"] == "opening") & (quotes["market"] == "1x2")]
    wide = opening.pivot_table(index="match_id", columns="selection", values="price")[["home", "draw", "away"]]
    probs = multiplicative(wide.to_numpy()) ** 1.15
    probs /= probs.sum(axis=1, keepdims=True)
    model = pd.DataFrame(probs, index=wide.index, columns=["p_home", "p_draw", "p_away"]).dropna().reset_index()
    keys = matches[["match_id", "competition", "season", "match_date", "home_team", "away_team"]]
    stack = keys.merge(model, on="match_id").assign(model="stack")
    average = stack.assign(model="market_avg_open", p_home=0.45, p_draw=0.27, p_away=0.28)
    return pd.concat([stack, average], ignore_index=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("bet-state")
    folder = tmp_path_factory.mktemp("bet-data") / "E0"
    folder.mkdir()
    for season in SEASONS:
        (folder / f"{season}.csv").write_bytes((FOOTBALL_DATA / "E0" / f"{season}.csv").read_bytes())
    _run(state, "data", "ingest", str(folder))
    parsed = [m for s in SEASONS for _, m in parse_season_file(folder / f"{s}.csv").matches]
    matches, quotes = frames_from_matches(parsed)
    _stand_in(matches, quotes).to_csv(state / "predictions.csv", index=False)
    return state


def test_backtest_json_has_every_line_and_the_controls(store: Path) -> None:
    rows = _run(
        store, "bet", "backtest", "--league", "E0", "--seasons", "2019-2022", "--predictions",
        str(store / "predictions.csv"), "--strategy", "flat:0.01", "--strategy", "kelly:0.25", "--json",
    )  # fmt: skip
    overall = {r["strategy"]: r for r in rows if r["competition"] == "all" and r["season"] == "all"}
    assert set(overall) == {
        "stack flat:0.01",
        "stack kelly:0.25",
        "control: market_avg_open value flat:0.01",
        "control: every selection @ best open",
        "control: every selection @ pinnacle open",
        "control: every selection @ market avg open",
    }
    assert overall["control: every selection @ best open"]["bets"] == 1520 * 3
    assert overall["control: every selection @ best open"]["mean_clv"] == pytest.approx(0.011, abs=0.0005)
    assert overall["control: every selection @ pinnacle open"]["mean_clv"] == pytest.approx(-0.022, abs=0.0005)
    stack = overall["stack flat:0.01"]
    assert stack["bets"] > 100 and stack["yield_low"] <= stack["yield"] <= stack["yield_high"]
    report = store / "reports" / "bet-backtest-E0-2019-2022-stack"
    assert (report / "bankroll.png").stat().st_size > 10_000 and (report / "clv.png").is_file()
    seasons = {r["season"] for r in rows if r["strategy"] == "stack flat:0.01"}
    assert seasons == {"all", 2019, 2020, 2021, 2022}


def test_arbitrage_on_stored_prices_equalises_the_payout(store: Path) -> None:
    rows = _run(store, "bet", "arbitrage", "--stored", "E0", "--seasons", "2019-2022", "--json")
    assert rows, "the EPL 2019-23 opening prices hold across-book arbitrages"
    by_match: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_match.setdefault((row["match_date"], row["home_team"], row["market"], row["line"]), []).append(row)
    for legs in by_match.values():
        assert sum(leg["stake"] for leg in legs) == pytest.approx(100.0)
        assert {round(leg["payout"], 6) for leg in legs} == {round(legs[0]["payout"], 6)}
        assert legs[0]["margin"] > 0 and "market_max" not in {leg["bookmaker"] for leg in legs}


def test_value_bets_of_upcoming_fixtures_with_stakes(store: Path, tmp_path: Path) -> None:
    fixtures = write_fixtures_file(tmp_path / "fixtures.csv", rows=10)
    frame, quotes = frames_from_fixtures([f for _, f in parse_fixtures_file(fixtures).fixtures])
    predictions = _stand_in(frame.assign(season=2022), quotes).query("model == 'stack'")
    predictions.to_csv(tmp_path / "upcoming.csv", index=False)
    rows = _run(
        store, "bet", "value", "--predictions", str(tmp_path / "upcoming.csv"), "--fixtures", str(fixtures),
        "--min-edge", "0.0", "--bankroll", "1000", "--json",
    )  # fmt: skip
    assert rows and all(r["edge"] > 0 and r["stake"] > 0 for r in rows)
    assert sum(r["stake"] for r in rows) <= 0.25 * 1000 * len({r["match_date"] for r in rows}) + 1e-6
    assert {r["home_team"] for r in rows} <= set(frame["home_team"])
