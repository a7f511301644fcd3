"""Real EPL prices and results (football-data 2019-20 .. 2022-23) for the betting tests, read once a session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from matchday.cli.bet_support import frames_from_files

SEASONS = ("1920", "2021", "2122", "2223")


@pytest.fixture(scope="session")
def epl(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(matches, quotes) of the EPL 2019-20 .. 2022-23 from the real season files."""
    folder = tmp_path_factory.mktemp("epl") / "football-data" / "E0"
    folder.mkdir(parents=True)
    for season in SEASONS:
        (folder / f"{season}.csv").write_bytes((data_dir / "football-data" / "E0" / f"{season}.csv").read_bytes())
    return frames_from_files(folder.parents[1], ["E0"])
