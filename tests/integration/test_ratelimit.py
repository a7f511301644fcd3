"""The token bucket on the real Redis: bursts, refills, replicas sharing a bucket, per-key rates, Redis down.

Each test works under its own key prefix and deletes its keys after, so tests (and people) sharing the Redis
server never see each other's buckets.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from matchday.config import Settings
from matchday.inference.auth import ApiKeyStore, Guard
from matchday.inference.errors import NotReady, RateLimited
from matchday.inference.ratelimit import RedisRateLimiter
from matchday.ingest.store.database import make_engine, migrate

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("MATCHDAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:  # a red test, not a skip: the machine is meant to have this server
        client.close()
        raise RuntimeError(f"Redis at {REDIS_URL} is not usable; start it (see .ci/run)") from exc
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    prefix = f"matchday:test:ratelimit:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def limiter(client: redis.Redis, prefix: str, per_minute: int, burst: int) -> RedisRateLimiter:
    return RedisRateLimiter(client, per_minute, burst, key_prefix=prefix, registry=CollectorRegistry())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_burst_is_allowed_then_refused_with_the_refill_time(client: redis.Redis, prefix: str) -> None:
    bucket = limiter(client, prefix, per_minute=6, burst=5)  # one token every 10 s
    decisions = [bucket.acquire("k") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True] * 5
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    refused = bucket.acquire("k")
    assert not refused.allowed and refused.remaining == 0
    assert 5 < refused.retry_after_seconds <= 10  # the next token is at most one refill period away
    with pytest.raises(RateLimited) as caught:
        bucket.check("k")
    assert caught.value.status == 429
    assert caught.value.headers() == {"Retry-After": str(math.ceil(caught.value.retry_after_seconds))}
    assert client.hget(f"{prefix}k", "tokens") is not None  # the documented key layout


def test_bucket_refills_at_the_rate(client: redis.Redis, prefix: str) -> None:
    bucket = limiter(client, prefix, per_minute=600, burst=2)  # ten tokens a second
    assert bucket.acquire("k").allowed and bucket.acquire("k").allowed
    refused = bucket.acquire("k")
    assert not refused.allowed and 0 < refused.retry_after_seconds <= 0.1
    time.sleep(refused.retry_after_seconds + 0.05)
    assert bucket.acquire("k").allowed


def test_replicas_share_one_bucket(client: redis.Redis, prefix: str) -> None:
    clients = [redis.Redis.from_url(REDIS_URL) for _ in range(2)]  # a connection pool each, like two processes
    first, second = (limiter(replica, prefix, per_minute=6, burst=4) for replica in clients)
    try:
        allowed = [(first if i % 2 else second).acquire("shared").allowed for i in range(4)]
        assert allowed == [True] * 4
        assert not first.acquire("shared").allowed
        assert not second.acquire("shared").allowed
        assert first.acquire("other").allowed  # a bucket per key
    finally:
        for replica in clients:
            replica.close()


def test_per_key_rate_overrides_the_default(client: redis.Redis, prefix: str) -> None:
    bucket = limiter(client, prefix, per_minute=600, burst=10)
    slow = [bucket.acquire("slow", rate_per_minute=3).allowed for _ in range(4)]
    assert slow == [True, True, True, False]  # a burst never exceeds a minute's allowance
    assert 10 < bucket.acquire("slow", rate_per_minute=3).retry_after_seconds <= 20
    assert all(bucket.acquire("fast").allowed for _ in range(10))
    assert not bucket.acquire("fast").allowed


def test_idle_bucket_expires_once_it_would_be_full(client: redis.Redis, prefix: str) -> None:
    bucket = limiter(client, prefix, per_minute=600, burst=10)
    bucket.acquire("k", cost=3)
    assert 0 < client.pttl(f"{prefix}k") <= 300 + 1000


def test_bad_arguments_are_refused(client: redis.Redis, prefix: str) -> None:
    bucket = limiter(client, prefix, per_minute=60, burst=5)
    with pytest.raises(ValueError, match="cost=6"):
        bucket.acquire("k", cost=6)
    with pytest.raises(ValueError, match="rate_per_minute=0"):
        bucket.acquire("k", rate_per_minute=0)
    with pytest.raises(ValueError, match="burst=0"):
        RedisRateLimiter(client, 60, 0)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_unreachable_redis_fails_open_by_default(registry: CollectorRegistry) -> None:
    bucket = RedisRateLimiter(f"redis://127.0.0.1:{closed_port()}/0", 60, 5, registry=registry)
    handler = Records()
    logger = logging.getLogger("matchday.inference.ratelimit")
    logger.addHandler(handler)
    try:
        decision = bucket.check("k")
        assert decision.allowed and decision.degraded
        assert bucket.acquire("k").allowed  # within the back-off: Redis is not tried again
    finally:
        logger.removeHandler(handler)
        bucket.close()
    assert registry.get_sample_value("matchday_ratelimit_errors_total") == 1.0
    assert [record.getMessage() for record in handler.records] == ["ratelimit.redis_unavailable"]


def test_unreachable_redis_fails_closed_when_asked(registry: CollectorRegistry) -> None:
    bucket = RedisRateLimiter(
        f"redis://127.0.0.1:{closed_port()}/0", 60, 5, fail_open=False, registry=registry, error_backoff_seconds=0
    )
    try:
        decision = bucket.acquire("k")
        assert not decision.allowed and decision.degraded
        with pytest.raises(NotReady, match="rate limiter"):
            bucket.check("k")
    finally:
        bucket.close()
    assert registry.get_sample_value("matchday_ratelimit_errors_total") == 2.0  # no back-off: tried each time


def test_guard_limits_each_key_at_its_own_rate(
    client: redis.Redis, prefix: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("MATCHDAY_"):
            monkeypatch.delenv(name)
    engine = make_engine(sqlite_url)
    try:
        migrate(engine)
        store = ApiKeyStore(engine)
        slow, fast = store.create("slow", rate_per_minute=2), store.create("fast")
        settings = Settings(state_dir=tmp_path, jwt_secret=SecretStr("x" * 32))
        guard = Guard(settings, store, limiter(client, prefix, per_minute=600, burst=5))
        guard({"x-api-key": slow.key})
        guard({"x-api-key": slow.key})
        with pytest.raises(RateLimited) as caught:
            guard({"x-api-key": slow.key})
        assert int(caught.value.headers()["Retry-After"]) > 1
        for _ in range(5):
            assert guard.authorize_prediction({"authorization": f"Bearer {fast.key}"}).name == "fast"
    finally:
        engine.dispose()
