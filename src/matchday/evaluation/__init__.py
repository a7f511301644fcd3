"""Scoring forecasts against results: pure functions over probability arrays, no I/O."""
