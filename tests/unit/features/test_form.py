"""Form features, plus the properties every history feature group (form, schedule, head-to-head) must hold.

Exact values are worked out by hand in the tests. The simulated league, the brute-force reference and the
real-data smoke test cover all three groups here, so the league is built in one place.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from matchday.features.form import FORM_STATS, FormParams, form_features
from matchday.features.head_to_head import head_to_head_features
from matchday.features.schedule import schedule_features
from matchday.ingest.parsed import ParsedFile

STATS = ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target")
FeatureFunction = Callable[[pd.DataFrame], pd.DataFrame]
FEATURE_GROUPS: dict[str, FeatureFunction] = {
    "form": form_features,
    "schedule": schedule_features,
    "head_to_head": head_to_head_features,
}
W1, W2 = 0.5 ** (1 / 3), 0.5 ** (2 / 3)  # the default weights (half-life 3) at ages 1 and 2


def frame(rows: Sequence[tuple[object, ...]], competition: str = "E0") -> pd.DataFrame:
    """A match frame from (date, home, away, home_goals, away_goals[, hs, as, hst, ast]) rows; ids 0, 1, ..."""
    records = []
    for match_id, (day, home, away, home_goals, away_goals, *stats) in enumerate(rows):
        shots = [float(str(value)) for value in stats] if stats else [math.nan] * 4
        date = pd.Timestamp(str(day))
        season = date.year if date.month >= 7 else date.year - 1
        records.append(
            [match_id, competition, season, date, home, away, home_goals, away_goals, *shots],
        )
    columns = ["match_id", "competition", "season", "match_date", "home_team", "away_team", "home_goals", "away_goals"]
    return pd.DataFrame(records, columns=[*columns, *STATS])


def side(features: pd.DataFrame, match_id: int, prefix: str) -> dict[str, float]:
    """One scope of one side of one match, e.g. prefix 'home_venue_form', as {stat: value}."""
    return {stat: at(features, match_id, f"{prefix}_{stat}") for stat in ("n", *FORM_STATS)}


def at(features: pd.DataFrame, match_id: int, column: str) -> float:
    """One feature of one match as a float."""
    return float(features.loc[[match_id], [column]].to_numpy(dtype=np.float64)[0, 0])


def row(features: pd.DataFrame, match_id: int, columns: list[str]) -> list[float]:
    """Some features of one match as floats."""
    return [float(value) for value in features.loc[[match_id], columns].to_numpy(dtype=np.float64)[0]]


# --- hand-built frames -----------------------------------------------------------------------------------------


def test_columns_and_index_follow_the_frame() -> None:
    matches = frame([("2020-08-01", "A", "B", 1, 0), ("2020-08-01", "C", "D", 2, 2), ("2020-08-08", "B", "C", 0, 3)])
    matches["match_id"] = [10, 20, 30]
    features = form_features(matches)
    assert features.index.tolist() == [10, 20, 30]
    assert features.index.name == "match_id"
    expected = [
        f"{prefix}_{stat}"
        for prefix in ("home_form", "home_venue_form", "away_form", "away_venue_form")
        for stat in ("n", *FORM_STATS)
    ]
    assert features.columns.tolist() == expected
    assert features["home_form_n"].dtype == np.int64


def test_first_match_has_nan_averages_and_zero_count() -> None:
    features = form_features(frame([("2020-08-01", "A", "B", 3, 1, 10, 5, 6, 2)]))
    row = features.iloc[0]
    assert row.filter(like="_n").tolist() == [0, 0, 0, 0]
    assert row.drop(row.filter(like="_n").index).isna().all()


def test_weighted_form_by_hand() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 2, 0, 10, 4, 5, 1),  # A home: 3 pts
            ("2020-08-08", "C", "A", 1, 1, 8, 6, 3, 2),  # A away: 1 pt
            ("2020-08-15", "A", "D", 0, 1, 12, 7, 4, 3),  # A home: 0 pts
            ("2020-08-22", "A", "E", 0, 0, 1, 1, 1, 1),
        ]
    )
    features = form_features(matches)
    total = 1 + W1 + W2  # ages 0, 1, 2: the D, C and B matches
    assert side(features, 3, "home_form") == pytest.approx(
        {
            "n": 3,
            "points": (0 + 1 * W1 + 3 * W2) / total,
            "gf": (0 + 1 * W1 + 2 * W2) / total,
            "ga": (1 + 1 * W1 + 0 * W2) / total,
            "shots_for": (12 + 6 * W1 + 10 * W2) / total,
            "shots_against": (7 + 8 * W1 + 4 * W2) / total,
            "sot_for": (4 + 2 * W1 + 5 * W2) / total,
            "sot_against": (3 + 3 * W1 + 1 * W2) / total,
        }
    )
    # Venue form counts ages among home matches only: the D match is age 0, the B match age 1.
    assert side(features, 3, "home_venue_form") == pytest.approx(
        {
            "n": 2,
            "points": (0 + 3 * W1) / (1 + W1),
            "gf": (0 + 2 * W1) / (1 + W1),
            "ga": (1 + 0 * W1) / (1 + W1),
            "shots_for": (12 + 10 * W1) / (1 + W1),
            "shots_against": (7 + 4 * W1) / (1 + W1),
            "sot_for": (4 + 5 * W1) / (1 + W1),
            "sot_against": (3 + 1 * W1) / (1 + W1),
        }
    )
    assert at(features, 3, "away_form_n") == 0  # E's first match
    assert np.isnan(at(features, 3, "away_form_points"))


def test_away_side_and_its_venue_form() -> None:
    matches = frame(
        [
            ("2020-08-01", "B", "A", 0, 2),  # A away: 3 pts
            ("2020-08-08", "A", "C", 1, 1),  # A home: 1 pt
            ("2020-08-15", "D", "A", 4, 0),
        ]
    )
    features = form_features(matches)
    assert side(features, 2, "away_form") == pytest.approx(
        {"n": 2, "points": (1 + 3 * W1) / (1 + W1), "gf": (1 + 2 * W1) / (1 + W1), "ga": 1 / (1 + W1)}
        | dict.fromkeys(FORM_STATS[3:], math.nan),
        nan_ok=True,
    )
    assert side(features, 2, "away_venue_form") == pytest.approx(
        {"n": 1, "points": 3, "gf": 2, "ga": 0} | dict.fromkeys(FORM_STATS[3:], math.nan), nan_ok=True
    )


def test_window_keeps_only_the_last_matches_and_weights_follow_the_half_life() -> None:
    results = [(5, 0), (0, 0), (1, 0), (0, 1)]  # A's goals for and against in four home matches
    rows = [(f"2020-08-0{i + 1}", "A", f"X{i}", gf, ga) for i, (gf, ga) in enumerate(results)]
    features = form_features(frame([*rows, ("2020-08-09", "A", "Z", 0, 0)]), FormParams(window=3, half_life=1))
    # Window 3: the 5-0 falls out; ages 0, 1, 2 weigh 1, 0.5, 0.25.
    assert side(features, 4, "home_form") == pytest.approx(
        {"n": 3, "points": (0 + 3 * 0.5 + 1 * 0.25) / 1.75, "gf": (0 + 1 * 0.5 + 0) / 1.75, "ga": 1 / 1.75}
        | dict.fromkeys(FORM_STATS[3:], math.nan),
        nan_ok=True,
    )


def test_same_day_matches_of_a_team_do_not_see_each_other() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 3, 0),
            ("2020-08-01", "C", "A", 2, 0),  # A's second match that day: must not know the 3-0
            ("2020-08-02", "A", "D", 1, 1),
        ]
    )
    features = form_features(matches, FormParams(half_life=1))
    assert at(features, 1, "away_form_n") == 0
    assert np.isnan(at(features, 1, "away_form_points"))
    # The next day sees both, the later match_id being the more recent: (0 * 1 + 3 * 0.5) / 1.5.
    assert at(features, 2, "home_form_n") == 2
    assert at(features, 2, "home_form_points") == pytest.approx(1.0)
    assert at(features, 2, "home_form_gf") == pytest.approx(1.5 / 1.5)


def test_shot_features_skip_matches_without_statistics_inside_the_window() -> None:
    nan = math.nan
    matches = frame(
        [
            ("2020-08-01", "A", "B", 1, 0, 10, 2, 4, 1),
            ("2020-08-08", "A", "C", 1, 0, nan, nan, nan, nan),
            ("2020-08-15", "A", "D", 1, 0, 4, 6, 2, 3),
            ("2020-08-22", "A", "E", 1, 0, 0, 0, 0, 0),
        ]
    )
    features = form_features(matches, FormParams(half_life=1))
    # Ages 0 (w 1) and 2 (w 0.25) carry shots; the statless match at age 1 is skipped but still ages the older one.
    assert at(features, 3, "home_form_shots_for") == pytest.approx((4 + 10 * 0.25) / 1.25)
    assert at(features, 3, "home_form_sot_against") == pytest.approx((3 + 1 * 0.25) / 1.25)
    assert at(features, 3, "home_form_n") == 3
    assert at(features, 3, "home_form_points") == 3


def test_shot_features_are_nan_when_the_window_has_no_statistics() -> None:
    nan = math.nan
    matches = frame(
        [
            ("2020-08-01", "A", "B", 1, 0, 10, 2, 4, 1),  # beyond a 2-match window by the last match
            ("2020-08-08", "A", "C", 1, 0, nan, nan, nan, nan),
            ("2020-08-15", "A", "D", 1, 0, nan, nan, nan, nan),
            ("2020-08-22", "A", "E", 1, 0, 1, 1, 1, 1),
        ]
    )
    features = form_features(matches, FormParams(window=2))
    assert at(features, 2, "home_form_shots_for") == 10  # the B match is still in the window
    shot_columns = [f"home_form_{stat}" for stat in FORM_STATS[3:]]
    assert all(math.isnan(v) for v in row(features, 3, shot_columns))
    assert at(features, 3, "home_form_points") == pytest.approx(3)


def test_absent_statistic_columns_give_nan_shot_features() -> None:
    matches = frame([("2020-08-01", "A", "B", 1, 0), ("2020-08-08", "A", "B", 2, 0)]).drop(columns=list(STATS))
    features = form_features(matches)
    assert at(features, 1, "home_form_gf") == 1
    shot_columns = [f"{prefix}_{stat}" for prefix in ("home_form", "away_form") for stat in FORM_STATS[3:]]
    assert all(math.isnan(v) for v in row(features, 1, shot_columns))


def test_form_crosses_season_and_competition_boundaries() -> None:
    lower = frame([("2021-05-01", "A", "B", 4, 0)], competition="E1")
    upper = frame([("2021-08-14", "C", "A", 0, 0)], competition="E0").assign(match_id=1)
    features = form_features(pd.concat([lower, upper], ignore_index=True))
    assert at(features, 1, "away_form_n") == 1
    assert at(features, 1, "away_form_gf") == 4


def test_an_unsorted_frame_is_rejected() -> None:
    matches = frame([("2020-08-08", "A", "B", 1, 0), ("2020-08-01", "C", "D", 1, 0)])
    with pytest.raises(ValueError, match="sorted"):
        form_features(matches)


def test_an_empty_frame_gives_an_empty_result() -> None:
    features = form_features(frame([]).astype({"match_id": np.int64}))
    assert features.empty
    assert "home_form_points" in features.columns


@pytest.mark.parametrize(("window", "half_life"), [(0, 3.0), (6, 0.0), (6, -1.0)])
def test_bad_parameters_are_rejected(window: int, half_life: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        FormParams(window=window, half_life=half_life)


# --- a simulated league: leakage, invariance and a brute-force reference, for all three feature groups ---------


def _round_robin(teams: int) -> list[list[tuple[int, int]]]:
    """One half-season by the circle method: teams - 1 rounds of teams / 2 pairings."""
    order, rounds = list(range(teams)), []
    for number in range(teams - 1):
        pairs = [(order[i], order[teams - 1 - i]) for i in range(teams // 2)]
        rounds.append([(a, h) for h, a in pairs] if number % 2 else pairs)
        order = [order[0], order[-1], *order[1:-1]]
    return rounds


def _result(rng: np.random.Generator) -> list[float]:
    home_goals, away_goals = rng.poisson(1.5), rng.poisson(1.1)
    home_shots, away_shots = rng.poisson(13), rng.poisson(10)
    home_sot, away_sot = rng.binomial(home_shots, 0.35), rng.binomial(away_shots, 0.35)
    return [home_goals, away_goals, home_shots, away_shots, home_sot, away_sot]


def simulated_league(seed: int = 7, teams: int = 10, seasons: int = 3) -> pd.DataFrame:
    """Double round-robin seasons (weekly rounds over two days, some midweek), Poisson goals, random shots.

    The second season has no statistics and the third loses some at random; a few cup ties put a team on the
    pitch twice on one day.
    """
    rng = np.random.default_rng(seed)
    rows: list[list[object]] = []
    for season in range(seasons):
        first_half = _round_robin(teams)
        schedule = first_half + [[(a, h) for h, a in pairs] for pairs in first_half]
        for number, pairs in enumerate(schedule):
            start = pd.Timestamp(2018 + season, 8, 4) + pd.Timedelta(days=7 * number + 3 * (number % 5 == 4))
            for home, away in pairs:
                date = start + pd.Timedelta(days=int(rng.integers(0, 2)))
                rows.append(["L", 2018 + season, date, f"T{home:02d}", f"T{away:02d}", *_result(rng)])
    for index in rng.choice(len(rows), size=15, replace=False):
        cup_home = str(rows[index][3])
        cup_away = f"T{(int(cup_home[1:]) + int(rng.integers(1, teams))) % teams:02d}"
        rows.append(["CUP", rows[index][1], rows[index][2], cup_home, cup_away, *_result(rng)])
    columns = ["competition", "season", "match_date", "home_team", "away_team", "home_goals", "away_goals", *STATS]
    league = pd.DataFrame(rows, columns=columns).sort_values("match_date", kind="stable", ignore_index=True)
    league.loc[league["season"] == 2019, list(STATS)] = np.nan
    league.loc[(league["season"] == 2020) & (rng.random(len(league)) < 0.2), list(STATS)] = np.nan
    league = league.astype(dict.fromkeys(STATS, np.float64) | {"home_goals": np.int64, "away_goals": np.int64})
    return league.assign(match_id=np.arange(len(league), dtype=np.int64))


@pytest.fixture(scope="module")
def league() -> pd.DataFrame:
    return simulated_league()


def _team_days(matches: pd.DataFrame) -> pd.DataFrame:
    """One (team, day) row per team per match."""
    sides = [matches[[f"{side}_team", "match_date"]].set_axis(["team", "day"], axis=1) for side in ("home", "away")]
    return pd.concat(sides, ignore_index=True)


def _cutoff(league: pd.DataFrame) -> pd.Timestamp:
    """A day of the middle season on which some team plays twice."""
    team_days = _team_days(league[league["season"] == 2019])
    doubles = team_days[team_days.duplicated()]
    assert not doubles.empty, "the simulated league should hold same-day doubles"
    return pd.Timestamp(doubles["day"].iloc[len(doubles) // 2])


def test_the_simulated_league_is_valid(league: pd.DataFrame) -> None:
    assert len(league) == 3 * 90 + 15
    assert league["home_shots"].isna().any()
    assert league["home_shots"].notna().any()


@pytest.mark.parametrize("group", FEATURE_GROUPS)
def test_changing_later_results_leaves_earlier_features_unchanged(league: pd.DataFrame, group: str) -> None:
    compute, cutoff = FEATURE_GROUPS[group], _cutoff(league)
    later = league["match_date"] >= cutoff
    changed = league.copy()
    rng = np.random.default_rng(99)
    changed.loc[later, ["home_goals", "away_goals"]] = rng.integers(0, 6, size=(later.sum(), 2))
    changed.loc[later, list(STATS)] = rng.integers(0, 30, size=(later.sum(), 4)).astype(float)
    after_day = league["match_date"] > cutoff  # fixtures after the cutoff day differ too
    changed.loc[after_day, "home_team"] = changed.loc[after_day, "home_team"].to_numpy()[::-1]
    changed = changed[changed["home_team"] != changed["away_team"]]
    before, after = compute(league), compute(changed)
    upto = league.loc[league["match_date"] <= cutoff, "match_id"]  # the cutoff day itself sees only earlier days
    assert_frame_equal(before.loc[upto], after.loc[upto])
    shared = after.index.intersection(before.index[later.to_numpy()])
    assert not before.loc[shared].equals(after.loc[shared]), "the change should show after the cutoff"


@pytest.mark.parametrize("group", FEATURE_GROUPS)
def test_deleting_later_matches_leaves_earlier_features_unchanged(league: pd.DataFrame, group: str) -> None:
    compute, cutoff = FEATURE_GROUPS[group], _cutoff(league)
    earlier = league[league["match_date"] < cutoff]
    assert_frame_equal(compute(league).loc[earlier["match_id"]], compute(earlier))


@pytest.mark.parametrize("group", FEATURE_GROUPS)
def test_row_order_before_sorting_does_not_matter(league: pd.DataFrame, group: str) -> None:
    shuffled = league.sample(frac=1.0, random_state=3).sort_values(["match_date", "match_id"])
    assert_frame_equal(FEATURE_GROUPS[group](league), FEATURE_GROUPS[group](shuffled))


@pytest.mark.parametrize("group", FEATURE_GROUPS)
def test_team_names_do_not_matter(league: pd.DataFrame, group: str) -> None:
    # Renaming reverses the order in which teams are first seen, so internal team codes change.
    rename = {f"T{i:02d}": f"club {9 - i}" for i in range(10)}
    renamed = league.assign(home_team=league["home_team"].map(rename), away_team=league["away_team"].map(rename))
    assert_frame_equal(FEATURE_GROUPS[group](league), FEATURE_GROUPS[group](renamed))


# --- the brute-force reference: every feature straight from its definition, one match at a time ---------------


def _view(match: pd.Series, team: str) -> list[float]:
    """FORM_STATS of a match as `team` saw it."""
    home = match["home_team"] == team
    gf, ga = (match["home_goals"], match["away_goals"]) if home else (match["away_goals"], match["home_goals"])
    shots = [match[column] for column in (STATS if home else (STATS[1], STATS[0], STATS[3], STATS[2]))]
    return [3.0 if gf > ga else 1.0 if gf == ga else 0.0, gf, ga, *shots]


def _weighted(history: list[list[float]], params: FormParams) -> list[float]:
    recent = history[::-1][: params.window]
    out = []
    for k in range(len(FORM_STATS)):
        pairs = [(0.5 ** (age / params.half_life), v[k]) for age, v in enumerate(recent) if not math.isnan(v[k])]
        out.append(sum(w * v for w, v in pairs) / sum(w for w, _ in pairs) if pairs else math.nan)
    return [float(len(recent)), *out]


def _reference_row(matches: pd.DataFrame, match: pd.Series, params: FormParams) -> dict[str, float]:
    past = matches[matches["match_date"] < match["match_date"]]
    out: dict[str, float] = {}
    for prefix, team in (("home", match["home_team"]), ("away", match["away_team"])):
        played = past[(past["home_team"] == team) | (past["away_team"] == team)]
        at_venue = played[played[f"{prefix}_team"] == team]
        for scope, history in (("form", played), ("venue_form", at_venue)):
            values = _weighted([_view(m, team) for _, m in history.iterrows()], params)
            out |= {f"{prefix}_{scope}_{stat}": v for stat, v in zip(("n", *FORM_STATS), values, strict=True)}
        days = (match["match_date"] - played["match_date"]).dt.days
        out[f"{prefix}_rest_days"] = min(days.min(), 30) if len(days) else math.nan
        out[f"{prefix}_matches_14d"] = float((days <= 14).sum())
    meetings = past[past["home_team"].isin([match["home_team"], match["away_team"]])]
    meetings = meetings[meetings["away_team"].isin([match["home_team"], match["away_team"]])].tail(5)
    views = [_view(m, match["home_team"]) for _, m in meetings.iterrows()]
    out["h2h_n"] = float(len(views))
    out["h2h_home_points"] = float(np.mean([v[0] for v in views])) if views else math.nan
    out["h2h_home_gd"] = float(np.mean([v[1] - v[2] for v in views])) if views else math.nan
    return out


def test_all_features_match_a_brute_force_reference(league: pd.DataFrame) -> None:
    params = FormParams(window=4, half_life=2.0)
    rows = [_reference_row(league, match, params) for _, match in league.iterrows()]
    reference = pd.DataFrame(rows, index=pd.Index(league["match_id"], name="match_id"))
    computed = pd.concat(
        [form_features(league, params), schedule_features(league), head_to_head_features(league)], axis=1
    )
    assert_frame_equal(computed, reference[computed.columns], check_dtype=False, rtol=1e-12)
    assert (computed["h2h_n"] == 5).any() and (computed["home_form_n"] == 4).any()


# --- real data -----------------------------------------------------------------------------------------------------


def real_match_frame(parsed_seasons: dict[str, ParsedFile]) -> pd.DataFrame:
    """Every season file's matches, match_id the running index after a stable sort by date."""
    records = []
    for name in sorted(parsed_seasons):
        for _, match in parsed_seasons[name].matches:
            stats = [getattr(match.stats, column) for column in STATS]
            identity = [match.competition, match.season, pd.Timestamp(match.match_date), match.home_team]
            score = [match.away_team, match.home_goals, match.away_goals]
            records.append([*identity, *score, *(math.nan if v is None else float(v) for v in stats)])
    columns = ["competition", "season", "match_date", "home_team", "away_team", "home_goals", "away_goals", *STATS]
    matches = pd.DataFrame(records, columns=columns).sort_values("match_date", kind="stable", ignore_index=True)
    return matches.assign(match_id=np.arange(len(matches), dtype=np.int64))


@pytest.mark.slow
def test_real_data_smoke(parsed_seasons: dict[str, ParsedFile]) -> None:
    matches = real_match_frame(parsed_seasons)
    started = time.perf_counter()
    features = pd.concat([compute(matches) for compute in FEATURE_GROUPS.values()], axis=1)
    elapsed = time.perf_counter() - started
    print(f"form + schedule + head-to-head for {len(matches)} matches: {elapsed:.3f} s")
    assert len(matches) > 30_000
    assert elapsed < 5.0
    assert features.index.equals(pd.Index(matches["match_id"]))
    team_debuts = _team_days(matches).groupby("team")["day"].min()
    for prefix in ("home", "away"):
        debut = (matches["match_date"] == matches[f"{prefix}_team"].map(team_debuts)).to_numpy()
        first = features[debut].filter(regex=f"^{prefix}_")
        assert debut.sum() >= 20  # dozens of clubs, over five leagues and their promotions
        assert (first.filter(regex="_n$|_14d$") == 0).all().all()
        assert first.drop(columns=first.filter(regex="_n$|_14d$").columns).isna().all().all()
    home_first = matches["home_team"] < matches["away_team"]
    low = matches["home_team"].where(home_first, matches["away_team"])
    pair = low + "|" + matches["away_team"].where(home_first, matches["home_team"])
    first_meeting = (matches["match_date"] == pair.map(matches.groupby(pair)["match_date"].min())).to_numpy()
    assert (features.loc[first_meeting, "h2h_n"] == 0).all()
    assert features.loc[first_meeting, ["h2h_home_points", "h2h_home_gd"]].isna().all().all()
    assert (features["home_form_n"] == 6).mean() > 0.9
    assert features["home_form_shots_for"].notna().mean() > 0.9
