"""The BentoML service: `POST /v1/predict`, `POST /v1/predict/batch` (adaptive batching), and mounted beside them
the OIP v2 HTTP routes, `GET /v1/models` and the canary admin routes (`http_routes`). BentoML serves `/livez`,
`/readyz` (false until the champion is loaded) and `/metrics`; the OIP gRPC server runs in the same worker on
`Settings.grpc_port`, over the same engine.

Run it with `matchday serve` (or `bentoml serve matchday.inference.bento_service:MatchdayService`); configuration
comes from the `MATCHDAY_*` environment as everywhere else.
"""

from __future__ import annotations

import gc
import logging
import uuid
import warnings
from http import HTTPStatus

import bentoml
from bentoml.exceptions import BentoMLException
from pydantic.warnings import PydanticDeprecatedSince211

from matchday.config import load_settings
from matchday.inference.errors import ServingError
from matchday.inference.http_routes import KEY_ID_HEADER, REQUEST_ID_HEADER, GuardMiddleware, routes_app
from matchday.inference.runtime import ServingRuntime, set_current_runtime
from matchday.inference.schema import MAX_BATCH, Fixture, InvalidInput, Prediction
from matchday.log import configure_logging

__all__ = ["MatchdayService"]

logger = logging.getLogger(__name__)
# Adaptive batching dispatches as soon as its latency model says waiting gains nothing; this is the ceiling after
# which a queued batch call is refused (503) rather than answered late. A 10,000-fixture batch takes about a second.
_BATCH_LATENCY_LIMIT_MS = 10_000


def _rejected(exc: InvalidInput | ServingError) -> BentoMLException:
    """The error BentoML answers with this status and message (a 4xx names the field and value)."""
    if isinstance(exc, InvalidInput):
        return BentoMLException(str(exc), error_code=HTTPStatus.UNPROCESSABLE_ENTITY)
    return BentoMLException(exc.message, error_code=HTTPStatus(exc.status))


@bentoml.service(
    name="matchday",
    workers=1,
    traffic={"timeout": 30, "max_concurrency": 512},
    http={"cors": {"enabled": False}},
    # Every prediction is in the served-predictions log and the Prometheus counters already; a log line per
    # request cost a tenth of the server's CPU under load.
    logging={"access": {"enabled": False}},
)
@bentoml.asgi_app(routes_app(), path="/")
class MatchdayService:
    def __init__(self) -> None:
        # BentoML 1.4 reads `model_fields` off an instance on every call, which pydantic 2.11+ warns about each time:
        # thousands of stderr lines a minute under load, and their cost
        warnings.filterwarnings("ignore", category=PydanticDeprecatedSince211, module=r"_bentoml_impl\.")
        settings = load_settings()
        configure_logging(settings)
        self.runtime = ServingRuntime.start(settings)
        set_current_runtime(self.runtime)
        # Everything loaded so far (MLflow, Feast, JAX, the models: millions of objects) lives as long as the
        # process: keep it out of the collector's full passes, each of which otherwise stalled requests for
        # hundreds of milliseconds
        gc.collect()
        gc.freeze()

    def __is_ready__(self) -> bool:
        return self.runtime.engine.ready()

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        self.runtime.close()
        set_current_runtime(None)

    @bentoml.api(route="/v1/predict")
    def predict(self, fixture: Fixture, ctx: bentoml.Context) -> Prediction:
        """Home/draw/away probabilities and goals markets of one fixture."""
        headers = ctx.request.headers
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        routing_key = headers.get("x-client-id") or headers.get(KEY_ID_HEADER) or request_id
        try:
            return self.runtime.engine.predict([fixture], request_id=request_id, routing_key=routing_key)[0]
        except (InvalidInput, ServingError) as exc:
            raise _rejected(exc) from None

    @bentoml.api(
        route="/v1/predict/batch", batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=_BATCH_LATENCY_LIMIT_MS
    )
    def predict_batch(self, fixtures: list[Fixture]) -> list[Prediction]:
        """Many fixtures at once; concurrent calls are merged into one model call by adaptive batching."""
        # A merged batch carries no request headers: it is routed by its own request id, so the canary's share
        # holds over batches.
        request_id = uuid.uuid4().hex
        try:
            return self.runtime.engine.predict(fixtures, request_id=request_id, routing_key=request_id)
        except (InvalidInput, ServingError) as exc:
            raise _rejected(exc) from None


MatchdayService.add_asgi_middleware(GuardMiddleware)  # type: ignore[attr-defined]
