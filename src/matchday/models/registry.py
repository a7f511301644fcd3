"""Imports every built-in forecaster module, each of which registers its saved-model kind with
`matchday.models.persistence`, so `load_model` can read any of them."""

from __future__ import annotations

import matchday.models.boosters
import matchday.models.bundle
import matchday.models.dixon_coles_model
import matchday.models.market  # noqa: F401

__all__: list[str] = []
