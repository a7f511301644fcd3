"""Prediction moments: which features a model may use, given when it predicts.

A model declares the moment it predicts at. At `open` only opening prices are known; at `close` the closing
prices are known as well, and so is everything known at `open`. Features are assigned to moments by name: a
closing-price feature starts with `close_`, and everything else (ratings, form, `open_*` market features) is
known at `open`. Keeping the rule in one place means a model cannot train on a price it will not have when it
predicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["Moment", "assert_moment", "feature_moment", "features_for"]

_CLOSE_PREFIX = "close_"


class Moment(StrEnum):
    """When a prediction is made, in time order."""

    OPEN = "open"
    CLOSE = "close"


_ORDER = {moment: rank for rank, moment in enumerate(Moment)}


def feature_moment(name: str) -> Moment:
    """The earliest moment at which the feature `name` is known."""
    return Moment.CLOSE if name.startswith(_CLOSE_PREFIX) else Moment.OPEN


def _known_at(name: str, moment: Moment) -> bool:
    return _ORDER[feature_moment(name)] <= _ORDER[Moment(moment)]


def features_for(columns: Iterable[str], moment: Moment) -> list[str]:
    """The columns, in their order, that a model predicting at `moment` may use."""
    return [column for column in columns if _known_at(column, moment)]


def assert_moment(columns: Iterable[str], moment: Moment) -> None:
    """Raise ValueError naming the first column that is not yet known at `moment`."""
    for column in columns:
        if not _known_at(column, moment):
            raise ValueError(
                f"feature {column!r} is known only at the {feature_moment(column)} moment, "
                f"after the {Moment(moment)} moment the model predicts at"
            )
