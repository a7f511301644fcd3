"""Everything a serving process holds, built from `Settings` and closed in order: the Feast online store, the
champion (and a canary's challenger) loaded from MLflow, the canary controller, the prediction log, the guard
(API keys, JWT, Redis rate limits) and the OIP gRPC server beside BentoML's HTTP server.

One runtime per serving process; the BentoML service creates it in its worker and `current_runtime()` hands it to
the ASGI middleware and the mounted routes of that process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from matchday.config import Settings
from matchday.inference.auth import ApiKeyStore, Guard
from matchday.inference.canary import CanaryConflict, CanaryController, CanaryRecord, CanaryStatus, mlflow_actions
from matchday.inference.canary_config import load_canary_config
from matchday.inference.fixture_rows import CachedTeamFeatures
from matchday.inference.oip_grpc import GrpcServerHandle, start_grpc_server
from matchday.inference.prediction_log import PredictionLog
from matchday.inference.predictor import Predictor
from matchday.inference.ratelimit import RedisRateLimiter
from matchday.inference.service_engine import ServingEngine
from matchday.ingest.store.database import make_engine, migrate
from matchday.integrations.feast_store import OnlineTeamFeatures, open_store
from matchday.integrations.mlflow_registry import (
    CANARY_TAG,
    CHALLENGER,
    GATE_PASSED,
    GATE_TAG,
    load_bundle_by_version,
    version_by_alias,
)

__all__ = ["ServingRuntime", "current_runtime", "set_current_runtime"]

logger = logging.getLogger(__name__)
_CURRENT: ServingRuntime | None = None


def current_runtime() -> ServingRuntime:
    if _CURRENT is None:
        raise RuntimeError("no serving runtime in this process: the service has not started")
    return _CURRENT


def set_current_runtime(runtime: ServingRuntime | None) -> None:
    global _CURRENT  # noqa: PLW0603  one runtime per serving process, reached from its middleware
    _CURRENT = runtime


@dataclass
class ServingRuntime:
    settings: Settings
    engine: ServingEngine
    guard: Guard
    canary: CanaryController | None = None
    grpc: GrpcServerHandle | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock)
    _teams: CachedTeamFeatures | None = None
    _watching: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, settings: Settings, *, grpc: bool = True, rate_limits: bool = True) -> ServingRuntime:
        stack = contextlib.ExitStack()
        try:
            return cls._start(settings, stack, grpc=grpc, rate_limits=rate_limits)
        except BaseException:
            stack.close()
            raise

    @classmethod
    def _start(
        cls, settings: Settings, stack: contextlib.ExitStack, *, grpc: bool, rate_limits: bool
    ) -> ServingRuntime:
        database = make_engine(settings.resolved_database_url)
        stack.callback(database.dispose)
        migrate(database)
        log = PredictionLog(
            database,
            batch_size=settings.prediction_log_batch,
            interval_seconds=settings.prediction_log_interval_seconds,
        )
        stack.callback(log.close)
        limiter = None
        if rate_limits:
            limiter = RedisRateLimiter(settings.redis_url, settings.rate_limit_per_minute, settings.rate_limit_burst)
            stack.callback(limiter.close)
        guard = Guard(settings, ApiKeyStore(database), limiter)
        engine = ServingEngine(settings.model_name, settings.serving_alias, log=log)
        runtime = cls(settings, engine, guard, _stack=stack)
        store = stack.enter_context(open_store(settings))
        runtime._teams = CachedTeamFeatures(OnlineTeamFeatures(store), settings.team_feature_cache_seconds)
        actions = mlflow_actions(settings)
        runtime.canary = CanaryController.load(
            database,
            settings.model_name,
            load_canary_config(settings.canary_config),
            on_promote=actions.on_promote,
            on_rollback=actions.on_rollback,
            on_change=runtime._canary_changed,
        )
        stack.callback(runtime.canary.close)
        engine.set_router(runtime.canary)
        active = runtime.canary.active
        runtime.reload(active.challenger_version if active is not None else None)
        runtime.canary.start_evaluator()
        if settings.canary_poll_seconds > 0:
            runtime._start_watcher()
            stack.callback(runtime._stop_watcher)
        if grpc:
            runtime.grpc = start_grpc_server(engine, settings.serving_host, settings.grpc_port, authorize=guard)
        return runtime

    def load_version(self, version: str) -> Predictor:
        bundle = load_bundle_by_version(self.settings, version)
        return Predictor(bundle, name=self.settings.model_name, version=version, teams=self._teams)

    def reload(self, challenger_version: str | None = None) -> None:
        """Load the champion from its alias and, when given, the challenger's version; swap both in at once."""
        with self._reload_lock:
            try:
                champion = Predictor.from_registry(self.settings, self.settings.serving_alias, self._teams)
            except Exception:  # an unreadable registry leaves the service up and unready, never crashing
                logger.exception("serving.load_failed", extra={"alias": self.settings.serving_alias})
                champion = None
            challenger = None
            if challenger_version:
                try:
                    challenger = self.load_version(challenger_version)
                except Exception as exc:  # the champion serves on; the canary cannot go on without its challenger
                    logger.exception("serving.challenger_load_failed", extra={"version": challenger_version})
                    self._abort_canary(f"challenger version {challenger_version} failed to load: {exc}")
            self.engine.set_variants(champion, challenger)

    def _abort_canary(self, reason: str) -> None:
        canary = self.canary
        if canary is None:
            return
        # from another thread: this runs inside the controller's own change notification
        threading.Thread(target=_abort_quietly, args=(canary, reason), name="canary-abort", daemon=True).start()

    def start_gated_challenger(self) -> CanaryStatus | None:
        """Start the canary of the `challenger` alias's version if the gate passed it and no canary judged it yet
        (training hands a version over this way, `matchday.training.register`); None when there is nothing to do."""
        canary, champion = self.canary, self.engine.variant("champion")
        if canary is None or champion is None or canary.active is not None:
            return None
        found = version_by_alias(self.settings, CHALLENGER)
        if found is None or str(found.version) == champion.version:
            return None
        if found.tags.get(GATE_TAG) != GATE_PASSED or CANARY_TAG in found.tags:
            return None
        try:
            return canary.start(champion.version, str(found.version))
        except CanaryConflict:  # another serving process started it first
            return None

    def _start_watcher(self) -> None:
        self._watching.clear()
        thread = threading.Thread(target=self._watch, name="challenger-watch", daemon=True)
        thread.start()

    def _stop_watcher(self) -> None:
        self._watching.set()

    def _watch(self) -> None:
        while not self._watching.wait(self.settings.canary_poll_seconds):
            try:
                self.start_gated_challenger()
            except Exception:  # the registry may be unreachable for a while: look again at the next poll
                logger.exception("serving.challenger_watch_failed")

    def _canary_changed(self, record: CanaryRecord) -> None:
        # started: load the challenger beside the champion; promoted, rolled back or aborted: the champion alone
        # (after a promotion the alias names the former challenger)
        self.reload(record.challenger_version if record.active else None)

    def close(self, grace_seconds: float = 10.0) -> None:
        """Drain: the gRPC server stops taking calls and finishes running ones, then the log is flushed."""
        if self.grpc is not None:
            self.grpc.stop(grace_seconds)
        self._stack.close()

    @contextlib.contextmanager
    def installed(self) -> Iterator[ServingRuntime]:
        set_current_runtime(self)
        try:
            yield self
        finally:
            set_current_runtime(None)


def _abort_quietly(canary: CanaryController, reason: str) -> None:
    try:
        canary.abort(reason)
    except Exception:  # already finished by another process or operator: nothing left to abort
        logger.exception("serving.canary_abort_failed", extra={"reason": reason})
