"""The serving engine every front end calls: the champion and, during a canary, the challenger side by side.

Each request is routed by the canary's sticky hash of its routing key (the client id, else the API key, else the
request id), timed, checked (a valid probability triplet) and recorded for the canary's step decisions. A
challenger that fails answers from the champion instead, so the user sees no error while the canary counts one and
rolls back. Every prediction goes to the prediction log off the request path.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from matchday.inference.canary_stats import Variant
from matchday.inference.errors import NotReady
from matchday.inference.prediction_log import LoggedPrediction, PredictionLog
from matchday.inference.predictor import Predictor, Scored
from matchday.inference.schema import Fixture, InvalidInput, ModelInfo, ModelRef, Prediction, Probabilities

__all__ = ["CanaryRouter", "ServingEngine", "Variant", "valid_probabilities"]

logger = logging.getLogger(__name__)

_SUM_TOLERANCE = 1e-6


class CanaryRouter(Protocol):
    def route(self, routing_key: str) -> Variant: ...

    def record(self, variant: Variant, *, ok: bool, latency_seconds: float, valid: bool) -> None: ...


def valid_probabilities(values: Sequence[float]) -> bool:
    return (
        len(values) == 3
        and all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
        and abs(sum(values) - 1.0) <= _SUM_TOLERANCE
    )


class ServingEngine:
    def __init__(
        self,
        model_name: str,
        alias: str,
        *,
        log: PredictionLog | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._model_name = model_name
        self._alias = alias
        self._log = log
        self._clock = clock
        self._lock = threading.Lock()
        self._champion: Predictor | None = None
        self._challenger: Predictor | None = None
        self._router: CanaryRouter | None = None

    @property
    def model_name(self) -> str:
        return self._model_name

    def set_variants(self, champion: Predictor | None, challenger: Predictor | None = None) -> None:
        """Swap the loaded versions at once (after a load, a promotion or a rollback)."""
        with self._lock:
            self._champion, self._challenger = champion, challenger
        logger.info(
            "serving.variants",
            extra={
                "champion": champion.version if champion else None,
                "challenger": challenger.version if challenger else None,
            },
        )

    def set_router(self, router: CanaryRouter | None) -> None:
        self._router = router

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self._champion is not None

    def variant(self, name: Variant) -> Predictor | None:
        return self._champion if name == "champion" else self._challenger

    def models(self) -> list[ModelInfo]:
        with self._lock:
            loaded: list[tuple[Variant, Predictor | None]] = [
                ("champion", self._champion),
                ("challenger", self._challenger),
            ]
        return [
            ModelInfo(
                name=self._model_name,
                version=predictor.version,
                variant=variant,
                alias=self._alias if variant == "champion" else "challenger",
                moment=predictor.moment.value,
                output=predictor.bundle.output,
                required_odds=predictor.required_odds,
                ready=True,
            )
            for variant, predictor in loaded
            if predictor is not None
        ]

    def predict(
        self, fixtures: Sequence[Fixture], *, request_id: str, routing_key: str, markets: bool = True
    ) -> list[Prediction]:
        with self._lock:
            champion, challenger, router = self._champion, self._challenger, self._router
        if champion is None:
            raise NotReady(f"no version of {self._model_name} is loaded (alias {self._alias!r})")
        variant: Variant = "champion"
        if challenger is not None and router is not None:
            variant = router.route(routing_key)
        predictor = challenger if variant == "challenger" and challenger is not None else champion
        started = self._clock()
        try:
            scored = predictor.predict(fixtures, markets=markets)
        except InvalidInput:
            raise  # the request's fault, not the model's: the canary does not count it
        except Exception:
            if variant == "champion":
                self._record(router, variant, ok=False, started=started, valid=False)
                raise
            self._record(router, variant, ok=False, started=started, valid=False)
            logger.exception("serving.challenger_failed", extra={"request_id": request_id})
            variant, predictor, started = "champion", champion, self._clock()
            scored = predictor.predict(fixtures, markets=markets)
        valid = all(valid_probabilities(s.probabilities) for s in scored)
        latency = self._record(router, variant, ok=True, started=started, valid=valid)
        predictions = self._predictions(fixtures, scored, predictor, variant, request_id)
        self._submit(fixtures, scored, predictions, latency)
        return predictions

    def _record(self, router: CanaryRouter | None, variant: Variant, *, ok: bool, started: float, valid: bool) -> float:
        latency = self._clock() - started
        if router is not None:
            router.record(variant, ok=ok, latency_seconds=latency, valid=valid)
        return latency

    def _predictions(
        self,
        fixtures: Sequence[Fixture],
        scored: Sequence[Scored],
        predictor: Predictor,
        variant: Variant,
        request_id: str,
    ) -> list[Prediction]:
        # model_construct: every value is the engine's own and already checked; validating each of a 10,000-row
        # batch's responses again cost more than predicting it
        ref = ModelRef.model_construct(name=self._model_name, version=predictor.version, variant=variant)
        return [
            Prediction.model_construct(
                request_id=request_id,
                competition=fixture.competition,
                home_team=fixture.home_team,
                away_team=fixture.away_team,
                probabilities=Probabilities.model_construct(
                    home=s.probabilities[0], draw=s.probabilities[1], away=s.probabilities[2]
                ),
                markets=s.markets,
                model=ref,
            )
            for fixture, s in zip(fixtures, scored, strict=True)
        ]

    def _submit(
        self, fixtures: Sequence[Fixture], scored: Sequence[Scored], predictions: Sequence[Prediction], latency: float
    ) -> None:
        if self._log is None:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        per_row_ms = latency * 1000.0 / max(len(fixtures), 1)
        self._log.submit(
            [
                LoggedPrediction(
                    request_id=p.request_id,
                    served_at=now,
                    model_name=p.model.name,
                    model_version=p.model.version,
                    variant=p.model.variant,
                    competition=f.competition,
                    home_team=f.home_team,
                    away_team=f.away_team,
                    kickoff=_naive_utc(f.kickoff),
                    features=s.features,
                    probabilities=s.probabilities,
                    latency_ms=per_row_ms,
                )
                for f, s, p in zip(fixtures, scored, predictions, strict=True)
            ]
        )


def _naive_utc(moment: datetime | None) -> datetime | None:
    # the store keeps naive UTC times
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
