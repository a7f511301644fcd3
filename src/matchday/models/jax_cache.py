"""JAX's persistent compilation cache: the Dixon-Coles solvers take seconds to compile and milliseconds to run, so
a command that fits them keeps the compiled code on disk and the next run of the same shapes skips compiling."""

from __future__ import annotations

from pathlib import Path

import jax

__all__ = ["enable_compilation_cache"]


def enable_compilation_cache(directory: Path, min_compile_seconds: float = 0.5) -> None:
    """Cache every compilation slower than `min_compile_seconds` under `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)  # type: ignore[no-untyped-call]
