"""Matchday: football match prediction and betting intelligence, as an MLOps platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("matchday")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+dev"

__all__ = ["__version__"]
