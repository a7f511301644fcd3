"""A request's fixture becomes the row the feature table would have built: market features through the table's own
code equal the quote-frame path's, team features take the table's side columns, and what cannot be served (an
unknown team, a missing price) is refused naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matchday.domain import ScoreGrid
from matchday.features.fixture_recipe import FixtureRecipe
from matchday.features.frames import QUOTE_COLUMNS
from matchday.features.market import market_features
from matchday.inference.fixture_rows import CachedTeamFeatures, FixtureRowBuilder, OddsNeed
from matchday.inference.markets import HANDICAP_LINES, OVER_UNDER_LINES, markets_of
from matchday.inference.schema import Fixture, InvalidInput
from matchday.models.dixon_coles import DixonColesParams, predict_grids

ODDS = {
    "open": {
        "pinnacle": {"home": 2.1, "draw": 3.5, "away": 3.6},
        "market_avg": {"home": 2.05, "draw": 3.4, "away": 3.5},
        "market_max": {"home": 2.2, "draw": 3.6, "away": 3.8},
        "bet365": {"home": 2.0, "draw": 3.4, "away": 3.75},
    },
    "close": {
        "pinnacle": {"home": 1.95, "draw": 3.6, "away": 4.0},
        "market_avg": {"home": 1.93, "draw": 3.5, "away": 3.9},
        "market_max": {"home": 2.0, "draw": 3.7, "away": 4.1},
    },
}
PHASES = {"open": "opening", "close": "closing"}
TOTALS = {"open": {"pinnacle": {"over": 1.9, "under": 2.0}}}


class TeamTable:
    """The online store's answer for known teams, NaN for the others (as the Feast reader gives it)."""

    def __init__(self) -> None:
        self.reads = 0
        self.table = pd.DataFrame(
            {"elo": [1600.0, 1550.0], "pi_home": [0.8, 0.5], "pi_away": [0.4, 0.3], "form_points_5": [2.2, 1.4]},
            index=["Arsenal", "Chelsea"],
        )

    def frame(self, teams: list[str]) -> pd.DataFrame:
        self.reads += 1
        return self.table.reindex(teams)


def _fixture(**changes: object) -> Fixture:
    base: dict[str, object] = {
        "competition": "E0",
        "home_team": "Arsenal",
        "away_team": "Chelsea",
        "odds": ODDS,
        "totals": TOTALS,
    }
    return Fixture.model_validate(base | changes)


def _quote_frame() -> pd.DataFrame:
    rows = []
    for phase, books in ODDS.items():
        for book, prices in books.items():
            for selection, price in prices.items():
                rows.append((7, book, "1x2", selection, PHASES[phase], np.nan, price))
    for phase, books in TOTALS.items():
        for book, prices in books.items():
            for selection, price in prices.items():
                rows.append((7, book, "over_under", selection, PHASES[phase], 2.5, price))
    return pd.DataFrame(rows, columns=list(QUOTE_COLUMNS))


def test_market_features_equal_the_quote_frame_path() -> None:
    table = market_features(_quote_frame(), [7])
    builder = FixtureRowBuilder(["competition", "home_team", "away_team", *table.columns], None, None)
    row = builder.rows([_fixture()])
    for column in table.columns:
        np.testing.assert_allclose(row[column].iloc[0], table[column].iloc[0], rtol=1e-12, equal_nan=True)
    assert row["open_n_books"].iloc[0] == 2  # pinnacle and bet365: the aggregates are not books
    assert not np.isnan(row["close_move_pinnacle_h"].iloc[0])


def test_team_features_take_the_tables_side_columns() -> None:
    recipe = FixtureRecipe(elo_home_advantage=60.0)
    columns = ["competition", "home_team", "away_team", "elo_home", "elo_away", "elo_diff", "home_form_points_5",
               "away_form_points_5", "pi_home_home", "pi_away_away", "pi_expected_gd", "h2h_n"]  # fmt: skip
    row = FixtureRowBuilder(columns, recipe, CachedTeamFeatures(TeamTable(), 30)).rows([_fixture()]).iloc[0]
    assert (row["elo_home"], row["elo_away"], row["elo_diff"]) == (1600.0, 1550.0, 110.0)
    assert (row["home_form_points_5"], row["away_form_points_5"]) == (2.2, 1.4)
    assert (row["pi_home_home"], row["pi_away_away"], row["h2h_n"]) == (0.8, 0.3, 0.0)


def test_unknown_team_and_missing_prices_are_refused_by_name() -> None:
    columns = ["competition", "home_team", "away_team", "elo_home", "elo_diff", "open_pinnacle_h", "open_avg_h"]
    builder = FixtureRowBuilder(columns, FixtureRecipe(elo_home_advantage=60.0), CachedTeamFeatures(TeamTable(), 30))
    assert builder.odds == OddsNeed(("open.pinnacle", "open.market_avg"))
    with pytest.raises(InvalidInput, match=r"away_team='Atlantis'.*unknown team") as caught:
        builder.rows([_fixture(away_team="Atlantis")])
    assert caught.value.field == "away_team"
    with pytest.raises(InvalidInput) as missing:
        builder.rows([_fixture(), _fixture(odds={"open": {"pinnacle": ODDS["open"]["pinnacle"]}})])
    assert missing.value.field == "fixtures[1].odds.open.market_avg"


def test_a_model_reading_team_features_needs_the_store_and_a_recipe() -> None:
    with pytest.raises(ValueError, match="online store and a fixture recipe"):
        FixtureRowBuilder(
            ["competition", "home_team", "away_team", "elo_home"], None, CachedTeamFeatures(TeamTable(), 30)
        )


def test_team_rows_are_cached_and_refreshed_off_the_request_path() -> None:
    now = [0.0]
    source = TeamTable()
    cached = CachedTeamFeatures(source, ttl_seconds=30, clock=lambda: now[0])
    first = cached.frame(["Arsenal", "Chelsea", "Arsenal"])
    assert list(first.index) == ["Arsenal", "Chelsea", "Arsenal"] and source.reads == 1
    cached.frame(["Chelsea"])
    assert source.reads == 1
    now[0] = 31.0
    source.table.loc["Chelsea", "elo"] = 1500.0
    # stale: this call still gets the row in hand while a background read refreshes it
    assert cached.frame(["Chelsea"])["elo"].iloc[0] == 1550.0
    assert cached.wait_refreshed()
    assert cached.frame(["Chelsea"])["elo"].iloc[0] == 1500.0 and source.reads == 2


def test_batch_markets_equal_the_score_grids() -> None:
    params = DixonColesParams(("A", "B", "C"), np.array([0.3, 0.0, -0.2]), np.array([-0.1, 0.1, 0.2]), 0.25, -0.08)
    grids = predict_grids(params, ["A", "B", "C"], ["C", "A", "B"])
    unknown = np.full_like(grids[:1], np.nan)
    markets = markets_of(np.concatenate([grids, unknown]))
    assert markets[-1] is None
    for grid_array, served in zip(grids, markets[:-1], strict=True):
        grid = ScoreGrid.from_matrix(grid_array)
        assert served is not None
        np.testing.assert_allclose(served.expected_goals, grid.expected_goals(), rtol=1e-12)
        for line, entry in zip(OVER_UNDER_LINES, served.over_under, strict=True):
            np.testing.assert_allclose((entry.over, entry.under, entry.push), grid.over_under(line), atol=1e-12)
        for line, handicap in zip(HANDICAP_LINES, served.asian_handicap, strict=True):
            np.testing.assert_allclose(
                (handicap.home, handicap.away, handicap.push), grid.asian_handicap(line), atol=1e-12
            )
        assert served.both_teams_to_score == pytest.approx(grid.both_teams_to_score()[0], abs=1e-12)
        top = [(s.home, s.away, s.probability) for s in served.most_likely_scores]
        assert top == [(h, a, pytest.approx(p, abs=1e-15)) for h, a, p in grid.most_likely_scores(5)]
