"""What the canary measures: sticky routing buckets, per-variant step counters with a p99, and the health rules.

Routing: a key's bucket is the first 8 bytes of SHA-256 of the key, as an integer, mod 10 000; a key goes to the
challenger while its bucket is below share * 10 000. The bucket never changes, so a key routed to the challenger
at 5% stays on it at 25%.

Health (`breach`): the error and invalid budgets are rates of max(requests, min_requests_to_judge). Before a step
has `min_requests_to_judge` challenger requests, more failures than max_error_rate * min_requests_to_judge mean the
rate at the judging point would breach whatever came next; acting at once bounds the failed user requests. The p99
latency (and its ratio to the champion's) is judged only from `min_requests_to_judge` requests on.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from matchday.inference.canary_config import CanaryConfig

__all__ = [
    "ROUTING_BUCKETS",
    "VARIANTS",
    "Variant",
    "VariantFigures",
    "VariantStats",
    "breach",
    "certain_breach",
    "percentile",
    "routing_bucket",
]

Variant = Literal["champion", "challenger"]
VARIANTS: tuple[Variant, ...] = ("champion", "challenger")
ROUTING_BUCKETS = 10_000


def routing_bucket(routing_key: str) -> int:
    digest = hashlib.sha256(routing_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % ROUTING_BUCKETS


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q`-th percentile (0 < q <= 100): the smallest value with at least q% of the values at or
    below it; None for no values. p99 of 1..1000 is 990."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class VariantFigures(BaseModel):
    """One variant in the current step: `error_rate` over its requests, `valid_rate` over its answered requests,
    `p99_latency_ms` over its requests' latencies (None while there are none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int
    errors: int
    invalid: int
    error_rate: float | None
    valid_rate: float | None
    p99_latency_ms: float | None


class VariantStats:
    """Step counters of one variant and a uniform sample of its latencies (reservoir sampling: exact while the
    step has no more requests than the reservoir holds). Not locked: the controller's lock guards it."""

    __slots__ = ("_latencies", "_rng", "_size", "errors", "invalid", "requests")

    def __init__(self, reservoir_size: int = 4096, seed: int = 0) -> None:
        self._size = reservoir_size
        self._rng = random.Random(seed)  # noqa: S311  sampling, not secrets: seeded, a replay measures the same p99
        self._latencies: list[float] = []
        self.requests = 0
        self.errors = 0
        self.invalid = 0

    def add(self, *, ok: bool, latency_seconds: float, valid: bool) -> None:
        self.requests += 1
        if not ok:
            self.errors += 1
        elif not valid:
            self.invalid += 1
        if len(self._latencies) < self._size:
            self._latencies.append(latency_seconds)
        else:
            slot = self._rng.randrange(self.requests)
            if slot < self._size:
                self._latencies[slot] = latency_seconds

    def figures(self) -> VariantFigures:
        answered = self.requests - self.errors
        p99 = percentile(self._latencies, 99.0)
        return VariantFigures(
            requests=self.requests,
            errors=self.errors,
            invalid=self.invalid,
            error_rate=self.errors / self.requests if self.requests else None,
            valid_rate=(answered - self.invalid) / answered if answered else None,
            p99_latency_ms=None if p99 is None else p99 * 1000.0,
        )


def certain_breach(config: CanaryConfig, requests: int, errors: int, invalid: int) -> str | None:
    """The error or validity rule broken by these counts, if any: cheap enough for every request."""
    judge = config.min_requests_to_judge
    if errors > config.max_error_rate * max(requests, judge):
        return f"{errors} of {requests} challenger requests failed: over max_error_rate={config.max_error_rate}"
    answered = requests - errors
    if invalid > (1.0 - config.min_valid_rate) * max(answered, judge):
        return (
            f"{invalid} of {answered} challenger predictions were not valid probabilities: "
            f"under min_valid_rate={config.min_valid_rate}"
        )
    return None


def breach(config: CanaryConfig, champion: VariantFigures, challenger: VariantFigures) -> str | None:
    """Why the challenger must be rolled back now, or None while it is healthy."""
    found = certain_breach(config, challenger.requests, challenger.errors, challenger.invalid)
    judge = config.min_requests_to_judge
    if found is not None or challenger.requests < judge or challenger.p99_latency_ms is None:
        return found
    if challenger.p99_latency_ms > config.max_p99_latency_ms:
        return (
            f"challenger p99 latency {challenger.p99_latency_ms:.1f} ms is over "
            f"max_p99_latency_ms={config.max_p99_latency_ms}"
        )
    ratio = config.max_p99_latency_ratio
    if ratio is None or champion.requests < judge or not champion.p99_latency_ms:
        return None
    if challenger.p99_latency_ms > ratio * champion.p99_latency_ms:
        return (
            f"challenger p99 latency {challenger.p99_latency_ms:.1f} ms is over max_p99_latency_ratio={ratio} "
            f"times the champion's {champion.p99_latency_ms:.1f} ms"
        )
    return None
