"""Per-API-key rate limits: a token bucket in Redis, shared by every serving replica.

One Lua script reads, refills and spends a bucket atomically, with the clock of the Redis server (`TIME`), so
replicas with drifting clocks still agree on one bucket. A bucket holds `min(burst, rate_per_minute)` tokens (a
burst never exceeds a minute's allowance) and refills at `rate_per_minute / 60` tokens a second; an idle bucket
expires once it would be full again, so Redis only holds keys that were used lately.

When Redis cannot be reached the limiter decides without it, for `error_backoff_seconds` after each failure (so
a dead Redis costs one socket timeout a second, not one per request). By default it fails open: the limit protects
serving capacity, not money, and a Redis outage must not take predictions down with it. Each failure is logged
and counted in `matchday_ratelimit_errors_total`. `fail_open=False` refuses instead, with `NotReady` (503): the
service cannot tell whether a key is over its limit, which is not the client's fault.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from redis.backoff import NoBackoff
from redis.retry import Retry

from matchday.inference.errors import NotReady, RateLimited

__all__ = ["DEFAULT_KEY_PREFIX", "RateDecision", "RedisRateLimiter"]

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "matchday:ratelimit:"

# KEYS[1]: the bucket. ARGV: capacity, refill rate (tokens/s), cost. Returns {allowed, tokens left, retry after s};
# numbers go back as strings because Redis truncates Lua numbers to integers.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(retry)}
"""

_counters: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()
_counters_lock = threading.Lock()


def _error_counter(registry: CollectorRegistry) -> Counter:
    # Created on first use, once per registry: a metric registered at import would be a side effect, and a second
    # registration of the same name raises.
    with _counters_lock:
        counter = _counters.get(registry)
        if counter is None:
            counter = Counter(
                "matchday_ratelimit_errors_total",
                "Rate-limit checks that could not reach Redis and were decided without it.",
                registry=registry,
            )
            _counters[registry] = counter
        return counter


@dataclass(frozen=True, slots=True)
class RateDecision:
    """`remaining`: whole requests the key may still make now. `degraded`: decided without Redis."""

    allowed: bool
    remaining: int
    retry_after_seconds: float
    degraded: bool = False


class RedisRateLimiter:
    """Token buckets per API key in Redis. Thread-safe: redis-py's client pools its connections."""

    def __init__(
        self,
        redis_url_or_client: str | redis.Redis,
        default_per_minute: int,
        burst: int,
        *,
        fail_open: bool = True,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        socket_timeout_seconds: float = 0.25,
        error_backoff_seconds: float = 1.0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        _positive("default_per_minute", default_per_minute)
        _positive("burst", burst)
        self._owns_client = isinstance(redis_url_or_client, str)
        if isinstance(redis_url_or_client, str):
            redis_url_or_client = redis.Redis.from_url(
                redis_url_or_client,
                socket_timeout=socket_timeout_seconds,
                socket_connect_timeout=socket_timeout_seconds,
                # One immediate retry: a pooled connection goes stale when Redis restarts; no back-off sleeps on
                # the request path.
                retry=Retry(NoBackoff(), 1),
            )
        self._client = redis_url_or_client
        self._script = self._client.register_script(_BUCKET_SCRIPT)
        self.default_per_minute = default_per_minute
        self.burst = burst
        self.fail_open = fail_open
        self.key_prefix = key_prefix
        self._backoff = error_backoff_seconds
        self._down_until = 0.0
        self._errors = _error_counter(registry)

    def bucket_key(self, key_id: str) -> str:
        return f"{self.key_prefix}{key_id}"

    def acquire(self, key_id: str, rate_per_minute: int | None = None, cost: int = 1) -> RateDecision:
        """Spend `cost` tokens of `key_id`'s bucket if it holds them; `rate_per_minute` overrides the default."""
        rate = self.default_per_minute if rate_per_minute is None else rate_per_minute
        _positive("rate_per_minute", rate)
        capacity = min(self.burst, rate)
        if cost < 1 or cost > capacity:
            raise ValueError(f"cost={cost!r}: must be between 1 and the bucket size {capacity}")
        if time.monotonic() < self._down_until:
            return self._without_redis()
        try:
            reply: Any = self._script(keys=[self.bucket_key(key_id)], args=[capacity, rate / 60.0, cost])
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self._backoff
            self._errors.inc()
            logger.warning(
                "ratelimit.redis_unavailable",
                extra={"error": str(exc), "fail_open": self.fail_open, "backoff_seconds": self._backoff},
            )
            return self._without_redis()
        allowed, tokens, retry_after = int(reply[0]), float(reply[1]), float(reply[2])
        return RateDecision(allowed=allowed == 1, remaining=math.floor(tokens), retry_after_seconds=retry_after)

    def check(self, key_id: str, rate_per_minute: int | None = None, cost: int = 1) -> RateDecision:
        """`acquire`, raising `RateLimited` (429, Retry-After) when the bucket is empty, or `NotReady` (503) when
        Redis is down and the limiter fails closed."""
        decision = self.acquire(key_id, rate_per_minute, cost)
        if decision.allowed:
            return decision
        if decision.degraded:
            raise NotReady("the rate limiter cannot reach its store; retry shortly")
        raise RateLimited(
            f"rate limit exceeded for this API key; retry in {decision.retry_after_seconds:.2f} s",
            retry_after_seconds=decision.retry_after_seconds,
        )

    def close(self) -> None:
        """Close the connections of a client this limiter made from a URL; a client passed in is the caller's."""
        if self._owns_client:
            self._client.close()

    def _without_redis(self) -> RateDecision:
        if self.fail_open:
            return RateDecision(allowed=True, remaining=0, retry_after_seconds=0.0, degraded=True)
        return RateDecision(allowed=False, remaining=0, retry_after_seconds=self._backoff, degraded=True)


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: must be a whole number of at least 1")
