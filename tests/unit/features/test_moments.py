"""Prediction moments: a model predicting at the opening prices never sees a closing-price feature."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchday.features.moments import Moment, assert_moment, feature_moment, features_for

COLUMNS = [
    "home_elo",
    "open_pinnacle_h",
    "close_pinnacle_h",
    "away_form_points",
    "close_move_pinnacle_a",
    "open_ah_line",
    "closed_days",  # starts with "close" but not with "close_": known at open
    "pre_close_pinnacle_h",  # contains "close_" but does not start with it
]
CLOSE_ONLY = ["close_pinnacle_h", "close_move_pinnacle_a"]


def test_moments_are_open_then_close() -> None:
    assert [moment.value for moment in Moment] == ["open", "close"]
    assert Moment("close") is Moment.CLOSE


@pytest.mark.parametrize(
    ("name", "moment"),
    [
        ("close_pinnacle_h", Moment.CLOSE),
        ("close_move_pinnacle_d", Moment.CLOSE),
        ("open_pinnacle_h", Moment.OPEN),
        ("home_elo", Moment.OPEN),
        ("closed_days", Moment.OPEN),
        ("pre_close_pinnacle_h", Moment.OPEN),
        ("", Moment.OPEN),
    ],
)
def test_feature_moment_by_name(name: str, moment: Moment) -> None:
    assert feature_moment(name) is moment


def test_an_open_model_never_gets_a_close_feature() -> None:
    assert features_for(COLUMNS, Moment.OPEN) == [column for column in COLUMNS if column not in CLOSE_ONLY]


def test_a_close_model_gets_every_feature_in_order() -> None:
    assert features_for(COLUMNS, Moment.CLOSE) == COLUMNS
    assert features_for(iter(COLUMNS), Moment("close")) == COLUMNS  # any iterable, and the plain string value


def test_assert_moment_names_the_first_offending_column() -> None:
    with pytest.raises(ValueError, match="'close_pinnacle_h' is known only at the close moment") as raised:
        assert_moment(COLUMNS, Moment.OPEN)
    assert "close_move_pinnacle_a" not in str(raised.value)
    assert_moment(COLUMNS, Moment.CLOSE)
    assert_moment(features_for(COLUMNS, Moment.OPEN), Moment.OPEN)


@given(st.lists(st.text(alphabet="clos_epinah", max_size=12)), st.sampled_from(list(Moment)))
def test_features_for_is_exactly_what_assert_moment_accepts(columns: list[str], moment: Moment) -> None:
    allowed = features_for(columns, moment)
    assert_moment(allowed, moment)
    rejected = [column for column in columns if column not in allowed]
    assert all(column.startswith("close_") for column in rejected)
    assert moment is Moment.CLOSE or all(not column.startswith("close_") for column in allowed)
    if rejected:
        with pytest.raises(ValueError, match=repr(rejected[0])):
            assert_moment(columns, moment)
