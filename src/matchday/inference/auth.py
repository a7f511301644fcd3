"""Who may call the serving endpoints: API keys for predictions, role-bearing JWTs for the admin routes.

API keys (`md_` + 256 random bits) are stored only as their SHA-256 in `api_keys`; a fast hash is enough for
random tokens, and lets a key be looked up by its hash. `ApiKeyStore.verify` is on every prediction's path, so
it remembers each verdict in-process for `cache_ttl_seconds` (10 s by default, bounded in size): a revoke reaches
every serving replica within that time, at once in the process that revoked.

Admin routes take `Authorization: Bearer <JWT>` (`matchday.inference.tokens`, re-exported here); `Guard` puts
keys, tokens and rate limits together for the front ends.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from matchday.config import Settings
from matchday.inference.errors import NotReady, Unauthorized
from matchday.inference.ratelimit import RateDecision
from matchday.inference.tokens import ROLES, TokenClaims, issue_token, resolve_jwt_secret, verify_token
from matchday.ingest.store.models import ApiKeyRow

__all__ = [
    "KEY_CACHE_TTL_SECONDS",
    "KEY_PREFIX",
    "ROLES",
    "ApiKeyInfo",
    "ApiKeyStore",
    "Guard",
    "IssuedKey",
    "RateChecker",
    "TokenClaims",
    "api_key_from_headers",
    "bearer_token_from_headers",
    "hash_key",
    "issue_token",
    "resolve_jwt_secret",
    "verify_token",
]

logger = logging.getLogger(__name__)

KEY_PREFIX = "md_"
KEY_CACHE_TTL_SECONDS = 10.0  # how long a revoked key may still be accepted by another process
_MAX_KEY_LENGTH = 128  # a real key is 46 characters; longer is junk not worth hashing
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}$")
_MISSING_KEY = "missing API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"

_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What may be known of a key without the key itself (never its hash)."""

    id: int
    name: str
    prefix: str
    rate_per_minute: int | None  # None: the service's default
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: `key` is shown once and stored nowhere (kept out of repr, so a log line cannot leak it)."""

    key: str = field(repr=False)
    info: ApiKeyInfo


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, row.prefix, row.rate_per_minute, row.created_at, row.revoked_at)


class _TtlCache(Generic[_V]):
    """A small LRU whose entries expire; thread-safe (front ends call from worker threads)."""

    def __init__(self, ttl_seconds: float, max_size: int, clock: Callable[[], float]) -> None:
        self._ttl, self._max_size, self._clock = ttl_seconds, max_size, clock
        self._entries: OrderedDict[str, tuple[float, _V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: _V) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class ApiKeyStore:
    """API keys in the `api_keys` table. Valid and refused keys are cached apart, so a flood of made-up keys
    cannot evict the real ones."""

    def __init__(
        self,
        engine: Engine,
        *,
        cache_ttl_seconds: float = KEY_CACHE_TTL_SECONDS,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.cache_ttl_seconds = cache_ttl_seconds
        self._valid: _TtlCache[ApiKeyInfo] = _TtlCache(cache_ttl_seconds, cache_size, clock)
        self._refused: _TtlCache[str] = _TtlCache(cache_ttl_seconds, cache_size, clock)

    def create(self, name: str, rate_per_minute: int | None = None) -> IssuedKey:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"name={name!r}: 1-64 letters, digits or _.@:- starting with a letter or digit")
        if rate_per_minute is not None and (isinstance(rate_per_minute, bool) or rate_per_minute < 1):
            raise ValueError(f"rate_per_minute={rate_per_minute!r}: must be at least 1 (or None for the default)")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            name=name, prefix=key[:12], key_hash=hash_key(key), rate_per_minute=rate_per_minute, created_at=_now()
        )
        duplicate = ValueError(f"name={name!r}: an API key with this name exists (revoked keys keep their names)")
        with Session(self._engine, expire_on_commit=False) as session:
            if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name)) is not None:
                raise duplicate
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # created by someone else since the check
                raise duplicate from None
        logger.info("auth.key.created", extra={"key_name": name, "key_prefix": row.prefix})
        return IssuedKey(key=key, info=_info(row))

    def revoke(self, name: str) -> ApiKeyInfo:
        """Revoke `name` (again is a no-op). Other processes stop accepting it within `cache_ttl_seconds`."""
        with Session(self._engine, expire_on_commit=False) as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
            if row is None:
                raise ValueError(f"name={name!r}: no API key with this name")
            if row.revoked_at is None:
                row.revoked_at = _now()
                session.commit()
                logger.info("auth.key.revoked", extra={"key_name": name, "key_prefix": row.prefix})
        self._valid.discard(row.key_hash)
        return _info(row)

    def verify(self, key: str | None) -> ApiKeyInfo:
        """The active key `key`, or `Unauthorized` saying whether it was missing, malformed, unknown or revoked
        (`NotReady` when the database cannot be reached to tell)."""
        if not key:
            raise Unauthorized(_MISSING_KEY)
        if not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_LENGTH:
            raise Unauthorized(f"malformed API key: Matchday keys start with {KEY_PREFIX!r}")
        digest = hash_key(key)
        info = self._valid.get(digest)
        if info is not None:
            return info
        refusal = self._refused.get(digest)
        if refusal is None:
            found = self._lookup(digest)
            if isinstance(found, ApiKeyInfo):
                self._valid.put(digest, found)
                return found
            refusal = found
            self._refused.put(digest, refusal)
        raise Unauthorized(refusal)

    def _lookup(self, digest: str) -> ApiKeyInfo | str:
        with Session(self._engine) as session:
            try:
                row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
            except DBAPIError as exc:  # the database is down: a 503 to retry, not a 500 (cached keys still pass)
                logger.warning("auth.key_store_unavailable", extra={"error": str(exc.orig)})
                raise NotReady("the API key store is unavailable; retry shortly") from exc
            # The database compares hashes, which tell nothing of the key; compare again in constant time anyway.
            if row is None or not hmac.compare_digest(row.key_hash, digest):
                return "unknown API key"
            if row.revoked_at is not None:
                return "API key revoked"
            return _info(row)

    def list(self, include_revoked: bool = True) -> builtins.list[ApiKeyInfo]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.name)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        with Session(self._engine) as session:
            return [_info(row) for row in session.scalars(query)]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict with the sender's capitalisation
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value.strip() if value is not None else None


def bearer_token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None."""
    value = _header(headers, "authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def api_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """`X-API-Key: <key>`, else `Authorization: Bearer md_...`; None when neither is sent."""
    key = _header(headers, "x-api-key")
    if key:
        return key
    token = bearer_token_from_headers(headers)
    return token if token is not None and token.startswith(KEY_PREFIX) else None


class RateChecker(Protocol):
    """What `Guard` needs of a rate limiter (`RedisRateLimiter`)."""

    def check(self, key_id: str, rate_per_minute: int | None = None, cost: int = 1) -> RateDecision: ...


class Guard:
    """Authentication and rate limits for the front ends. Calling the guard with a request's headers authorizes
    a prediction, so it is the `authorize` hook of the OIP servers as is.

    `limiter=None` serves without rate limits (the local profile without Redis)."""

    def __init__(self, settings: Settings, key_store: ApiKeyStore, limiter: RateChecker | None) -> None:
        self._secret = resolve_jwt_secret(settings)  # once: the local secret file is not read per request
        self._keys = key_store
        self._limiter = limiter

    def authorize_prediction(self, headers: Mapping[str, str]) -> ApiKeyInfo:
        """The caller's key; `Unauthorized` without a valid one, `RateLimited` when it is over its rate."""
        info = self._keys.verify(api_key_from_headers(headers))
        if self._limiter is not None:
            self._limiter.check(str(info.id), rate_per_minute=info.rate_per_minute)
        return info

    def authorize_admin(self, headers: Mapping[str, str], role: str = "admin") -> TokenClaims:
        """The caller's token claims if they grant `role` (`Unauthorized` / `Forbidden` otherwise)."""
        return verify_token(self._secret, bearer_token_from_headers(headers), role)

    def __call__(self, headers: Mapping[str, str]) -> None:
        self.authorize_prediction(headers)
