"""The HTTP routes beside BentoML's own: the OIP v2 routes, `GET /v1/models` and the canary admin routes, plus the
guard middleware that authenticates and rate-limits every protected route before BentoML or FastAPI sees it.

    prediction routes  POST /v1/predict, /v1/predict/batch, /v2/models/.../infer   API key + rate limit
    betting routes     GET /v1/recommendations, /v1/arbitrage (`betting_routes`)    API key + rate limit
    viewer routes      GET /admin/canary                                              JWT with role viewer
    admin routes       POST /admin/canary/{start,pause,resume,abort}                  JWT with role admin

The routes reach the process's `ServingRuntime` through `current_runtime()`, so they can be built when the service
module is imported, before the runtime exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from matchday.inference.betting_routes import BETTING_PATHS, betting_router
from matchday.inference.canary import CanaryConflict, CanaryController, CanaryStatus
from matchday.inference.engine import InferenceEngine
from matchday.inference.errors import ServingError
from matchday.inference.oip_http import oip_router
from matchday.inference.runtime import current_runtime
from matchday.inference.schema import Fixture, ModelInfo, Prediction
from matchday.integrations.mlflow_registry import CHALLENGER, version_by_alias

__all__ = ["GuardMiddleware", "RuntimeEngine", "routes_app"]

REQUEST_ID_HEADER = "x-request-id"
KEY_ID_HEADER = "x-matchday-key-id"  # set by the guard for the routes behind it, never taken from the client


class RuntimeEngine:
    """The process's engine, looked up per call (the OIP routes are built before the runtime starts)."""

    @property
    def model_name(self) -> str:
        return current_runtime().engine.model_name

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        try:
            return current_runtime().engine.ready()
        except RuntimeError:
            return False

    def models(self) -> list[ModelInfo]:
        return current_runtime().engine.models()

    def predict(
        self, fixtures: Sequence[Fixture], *, request_id: str, routing_key: str, markets: bool = True
    ) -> list[Prediction]:
        engine = current_runtime().engine
        return engine.predict(fixtures, request_id=request_id, routing_key=routing_key, markets=markets)


def _engine() -> InferenceEngine:
    return RuntimeEngine()


class CanaryStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenger_version: str | None = Field(
        default=None, description="Default: the version the `challenger` alias names."
    )


class CanaryReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


def _admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin/canary", tags=["canary"])

    @router.get("", response_model=CanaryStatus | None)
    def status() -> CanaryStatus | None:
        return _canary().status()

    @router.post("/start", response_model=CanaryStatus)
    def start(body: CanaryStart) -> CanaryStatus:
        runtime = current_runtime()
        champion = runtime.engine.variant("champion")
        if champion is None:
            raise HTTPException(409, "no champion is loaded: nothing to compare a challenger with")
        version = body.challenger_version or _challenger_alias_version()
        if version == champion.version:
            raise HTTPException(409, f"version {version} is the champion already")
        try:
            return _canary().start(champion.version, version)
        except CanaryConflict as exc:
            raise HTTPException(409, str(exc)) from exc

    @router.post("/pause", response_model=CanaryStatus)
    def pause(body: CanaryReason) -> CanaryStatus:
        return _guarded(lambda: _canary().pause(body.reason))

    @router.post("/resume", response_model=CanaryStatus)
    def resume() -> CanaryStatus:
        return _guarded(lambda: _canary().resume())

    @router.post("/abort", response_model=CanaryStatus)
    def abort(body: CanaryReason) -> CanaryStatus:
        return _guarded(lambda: _canary().abort(body.reason))

    return router


def _guarded(action: Any) -> CanaryStatus:
    try:
        result: CanaryStatus = action()
    except (CanaryConflict, ValueError) as exc:
        raise HTTPException(409, str(exc)) from exc
    return result


def _canary() -> CanaryController:
    canary = current_runtime().canary
    if canary is None:
        raise HTTPException(503, "the canary controller is not running")
    return canary


def _challenger_alias_version() -> str:
    found = version_by_alias(current_runtime().settings, CHALLENGER)
    if found is None:
        raise HTTPException(409, "no challenger_version given and the `challenger` alias names no version")
    return str(found.version)


def routes_app() -> FastAPI:
    app = FastAPI(title="Matchday: Open Inference Protocol v2 and administration", docs_url=None, redoc_url=None)
    app.include_router(oip_router(_engine()))
    app.include_router(_admin_router())
    app.include_router(betting_router())

    @app.get("/v1/models", response_model=list[ModelInfo], tags=["models"])
    def models() -> list[ModelInfo]:
        return current_runtime().engine.models()

    return app


def _route_kind(method: str, path: str) -> str | None:
    if path in BETTING_PATHS:
        return "prediction"  # API key + rate limit, like the predictions they are made of
    if path.startswith("/v1/predict") or (path.startswith("/v2/models/") and path.endswith("/infer")):
        return "prediction"
    if path.startswith("/admin/"):
        return "viewer" if method == "GET" else "admin"
    return None  # the rest is metadata and probes, open like the OIP metadata routes


class GuardMiddleware:
    """Authenticates and rate-limits before the body is read; stamps a request id on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        headers = {key.lower(): value for key, value in request.headers.items()}
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        kind = _route_kind(scope["method"], scope["path"])
        extra: list[tuple[bytes, bytes]] = []
        if kind is not None:
            try:
                # a key lookup on a cache miss or the Redis round trip must not stall the event loop
                extra = await anyio.to_thread.run_sync(self._authorize, kind, headers)
            except ServingError as exc:
                response: Response = JSONResponse(
                    {"error": exc.message},
                    status_code=exc.status,
                    headers={**exc.headers(), "x-request-id": request_id},
                )
                await response(scope, receive, send)
                return
        raw = [(k, v) for k, v in scope["headers"] if k.lower() not in (KEY_ID_HEADER.encode(), b"x-request-id")]
        scope = {**scope, "headers": [*raw, (b"x-request-id", request_id.encode()), *extra]}

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        await self.app(scope, receive, stamped)

    @staticmethod
    def _authorize(kind: str, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
        guard = current_runtime().guard
        if kind == "prediction":
            info = guard.authorize_prediction(headers)
            return [(KEY_ID_HEADER.encode(), str(info.id).encode())]
        guard.authorize_admin(headers, kind)
        return []
