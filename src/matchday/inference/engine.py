"""The contract between the serving front ends and what answers them.

`InferenceEngine` is implemented by `matchday.inference.service_engine.ServingEngine` (the champion and, during a
canary, the challenger, routed by a sticky hash, every prediction logged); the BentoML service, the OIP HTTP routes
and the OIP gRPC server all call it, so each front end only translates its wire format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from matchday.inference.schema import Fixture, ModelInfo, Prediction

__all__ = ["InferenceEngine"]


class InferenceEngine(Protocol):
    @property
    def model_name(self) -> str:
        """The registered model's name: the OIP model name."""
        ...

    def live(self) -> bool:
        """The process is up (it may still be loading)."""
        ...

    def ready(self) -> bool:
        """The champion is loaded and answers; never raises."""
        ...

    def models(self) -> list[ModelInfo]:
        """The loaded variants, champion first (empty while nothing is loaded)."""
        ...

    def predict(
        self, fixtures: Sequence[Fixture], *, request_id: str, routing_key: str, markets: bool = True
    ) -> list[Prediction]:
        """One prediction per fixture, all from the variant `routing_key` routes to; `markets=False` leaves the
        goals markets out (the OIP output is the 1X2 alone).

        Raises `InvalidInput` naming the field (with `fixtures[i].` before it for a batch of more than one, the
        OIP front ends rename it to their tensor), `NotReady` when no model is loaded."""
        ...
