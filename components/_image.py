"""The image every component runs in: Python 3.11 with matchday and its dependencies installed (the project's
Dockerfile), so components install nothing at start and `kfp` itself is already there."""

from __future__ import annotations

from matchday import __version__

BASE_IMAGE = f"ghcr.io/matchday/matchday:{__version__}"
