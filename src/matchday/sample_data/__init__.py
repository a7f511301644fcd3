"""A few real seasons shipped with the package (football-data.co.uk, EPL), so `make run` works offline."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["sample_data_dir"]


def sample_data_dir() -> Path:
    """A folder laid out like `MATCHDAY_DATA_DIR` (football-data/<Div>/<YYZZ>.csv)."""
    return Path(str(files(__package__)))
