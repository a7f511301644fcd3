"""monitoring/drift.yaml and the DriftConfig defaults agree; bad files fail naming the key and the value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from matchday.monitoring.drift_config import DriftConfig, DriftConfigError, load_drift_config, parse_duration

DRIFT_YAML = Path(__file__).resolve().parents[3] / "monitoring" / "drift.yaml"


def test_defaults_are_the_files_values() -> None:
    assert load_drift_config(DRIFT_YAML) == DriftConfig()
    assert load_drift_config(None) == DriftConfig()


@pytest.mark.parametrize(
    ("text", "expected"), [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("90s", timedelta(seconds=90)),
                           ("1.5d", timedelta(hours=36)), (" 30m ", timedelta(minutes=30))],
)  # fmt: skip
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["7", "d", "7w", "-1d", "0h", ""])
def test_bad_durations_name_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).strip("'") or "''"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("window: 7 days\n", "window='7 days'"),
        ("features: {drift_share: 1.5}\n", "features.drift_share=1.5"),
        ("predictions: {method: bogus}\n", "predictions.method='bogus'"),
        ("retrain: {seasons: last}\n", "retrain.seasons='last'"),
        ("windwo: 7d\n", "windwo"),
    ],
)
def test_bad_values_and_unknown_keys_are_named(tmp_path: Path, body: str, named: str) -> None:
    path = tmp_path / "drift.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DriftConfigError, match=str(path)) as raised:
        load_drift_config(path)
    assert named in str(raised.value)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "drift.yaml"
    path.write_text("- 7d\n", encoding="utf-8")
    with pytest.raises(DriftConfigError, match="expected a mapping"):
        load_drift_config(path)


def test_p_values_drift_below_and_distances_at_or_above_the_threshold() -> None:
    config = DriftConfig()
    assert config.features.drifted(0.001) and not config.features.drifted(0.5)
    assert config.categorical.drifted(0.1) and not config.categorical.drifted(0.05)
