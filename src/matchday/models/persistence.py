"""Saved models: a folder holding `manifest.json` (the model kind, its format version and explicit parameters)
beside any native files (an XGBoost JSON model, a LightGBM text model). Pickle is never used, so a saved model
is readable, diffable and safe to load. Loading a folder written by another format version fails with a message
naming both versions rather than mispredicting."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from matchday.models.base import Forecaster

__all__ = ["MANIFEST", "load_model", "read_manifest", "register", "write_manifest"]

MANIFEST = "manifest.json"

_LOADERS: dict[str, Callable[[Path], Any]] = {}


def register(kind: str, loader: Callable[[Path], Any]) -> None:
    """Make `load_model` able to read folders of `kind` with `loader(path)`."""
    _LOADERS[kind] = loader


def write_manifest(path: Path, kind: str, format_version: int, payload: Mapping[str, Any]) -> None:
    """Create the folder `path` and write its manifest: the kind, format version and `payload`."""
    path.mkdir(parents=True, exist_ok=True)
    manifest = {"model": kind, "format_version": format_version, **payload}
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.is_file():
        raise FileNotFoundError(f"{path} is not a saved model: it has no {MANIFEST}")
    data = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{file} must hold a JSON object")
    return data


def read_manifest(path: Path, kind: str, format_version: int) -> dict[str, Any]:
    """The manifest of the saved model in `path`; ValueError when it is not a `kind` model of `format_version`."""
    data = _manifest(path)
    if data.get("model") != kind:
        raise ValueError(f"{path} holds a {data.get('model')!r} model, not {kind!r}")
    if data.get("format_version") != format_version:
        raise ValueError(
            f"{path} holds a {kind} model of format version {data.get('format_version')!r}; this code reads "
            f"version {format_version} only - retrain it, or load it with the release that wrote it"
        )
    return data


def load_model(path: Path) -> Forecaster:
    """Load any saved forecaster, dispatching on the kind in its manifest."""
    import matchday.models.registry  # noqa: F401, PLC0415 - registers the built-in kinds on first use

    kind = _manifest(path).get("model")
    if kind not in _LOADERS:
        raise ValueError(f"{path} holds a model of unknown kind {kind!r}; known: {', '.join(sorted(_LOADERS))}")
    model: Forecaster = _LOADERS[kind](path)
    return model
