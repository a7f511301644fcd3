"""Fixtures of the integration tests that are expensive enough to build once a session."""

from __future__ import annotations

import pytest

from matchday.config import Settings

from .serving_support import train_state


@pytest.fixture(scope="session")
def serving_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A state dir with a trained, registered stack: champion version 1, challenger version 2 (the same run)."""
    return train_state(tmp_path_factory.mktemp("serving"))
