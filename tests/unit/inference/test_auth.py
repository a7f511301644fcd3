"""API keys on SQLite, role-bearing JWTs, the local JWT secret file and the headers a key or token comes in."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from matchday.config import Profile, Settings, SettingsError
from matchday.inference.auth import (
    ApiKeyStore,
    Guard,
    api_key_from_headers,
    bearer_token_from_headers,
    issue_token,
    resolve_jwt_secret,
    verify_token,
)
from matchday.inference.errors import Forbidden, Unauthorized
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.models import ApiKeyRow

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def settings(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", jwt_secret=SecretStr(SECRET))


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    migrate(engine)
    yield engine
    engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# JWT


def test_token_round_trip(settings: Settings) -> None:
    token = issue_token(settings, "ops@example.com", ["admin"], ttl_seconds=600)
    claims = verify_token(settings, token, "admin")
    assert claims.subject == "ops@example.com"
    assert claims.roles == ("admin",)
    assert claims.expires_at - claims.issued_at == timedelta(seconds=600)
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="matchday")
    assert payload["iss"] == "matchday" and payload["roles"] == ["admin"] and payload["sub"] == "ops@example.com"


def test_admin_implies_viewer_but_not_the_reverse(settings: Settings) -> None:
    admin = issue_token(settings, "ops", ["admin"])
    assert verify_token(SECRET, admin, "viewer").has_role("viewer")
    viewer = issue_token(settings, "dashboard", ["viewer"])
    assert verify_token(settings, viewer, "viewer").subject == "dashboard"
    with pytest.raises(Forbidden, match=r"role 'admin' required; the token holds \['viewer'\]") as caught:
        verify_token(settings, viewer, "admin")
    assert caught.value.status == 403


def test_expired_token_is_unauthorized(settings: Settings) -> None:
    token = issue_token(settings, "ops", ["admin"], ttl_seconds=3600, now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(Unauthorized, match="token expired") as caught:
        verify_token(settings, token, "admin")
    assert caught.value.status == 401 and caught.value.headers() == {"WWW-Authenticate": "Bearer"}


def test_token_signed_with_another_secret_is_unauthorized(settings: Settings) -> None:
    token = issue_token(settings, "ops", ["admin"])
    with pytest.raises(Unauthorized, match="bad signature"):
        verify_token("another-secret-that-is-also-long-enough!!", token, "admin")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "missing token"),
        ("", "missing token"),
        ("not-a-jwt", "invalid token"),
        (jwt.encode({"sub": "x", "roles": ["admin"], "iat": 1, "exp": 4102444800, "iss": "else"}, SECRET), "issuer"),
        (jwt.encode({"sub": "x", "iat": 1, "exp": 4102444800, "iss": "matchday"}, SECRET), "roles"),
        (jwt.encode({"sub": "x", "roles": "admin", "iat": 1, "exp": 4102444800, "iss": "matchday"}, SECRET), "list"),
    ],
)
def test_bad_tokens_are_unauthorized(token: str | None, message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        verify_token(SECRET, token, "viewer")


def test_issue_token_refuses_bad_input(settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"roles=\['root'\]"):
        issue_token(settings, "ops", ["root"])
    with pytest.raises(ValueError, match=r"roles=\[\]"):
        issue_token(settings, "ops", [])
    with pytest.raises(ValueError, match="ttl_seconds=0"):
        issue_token(settings, "ops", ["admin"], ttl_seconds=0)
    with pytest.raises(ValueError, match="subject=''"):
        issue_token(settings, "", ["admin"])
    with pytest.raises(ValueError, match="required_role"):
        verify_token(settings, issue_token(settings, "ops", ["admin"]), "superuser")


def test_short_configured_secret_is_refused(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    short = Settings(state_dir=tmp_path, jwt_secret=SecretStr("too-short"))
    with pytest.raises(SettingsError, match="MATCHDAY_JWT_SECRET is too short"):
        issue_token(short, "ops", ["admin"])


def test_a_prod_server_without_a_configured_secret_refuses_to_sign(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prod = Settings(
        state_dir=tmp_path, profile=Profile.PROD, database_url="postgresql://db/m", mlflow_tracking_uri="http://m"
    )
    with pytest.raises(SettingsError, match="MATCHDAY_JWT_SECRET"):
        issue_token(prod, "ops", ["admin"])
    assert not (tmp_path / "serving" / "jwt-secret").exists()


def test_local_secret_file_is_created_once_private_and_reused(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local = Settings(state_dir=tmp_path / "state")
    path = tmp_path / "state" / "serving" / "jwt-secret"
    assert not path.exists()
    token = issue_token(local, "ops", ["admin"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text()
    assert len(secret) >= 32
    assert resolve_jwt_secret(local) == secret
    assert verify_token(Settings(state_dir=tmp_path / "state"), token, "admin").subject == "ops"
    assert path.read_text() == secret
    assert [p.name for p in path.parent.iterdir()] == ["jwt-secret"]  # no temporary file left behind
    with pytest.raises(Unauthorized, match="bad signature"):  # another state dir: another secret
        verify_token(Settings(state_dir=tmp_path / "other"), token, "admin")


# Headers


@pytest.mark.parametrize(
    ("headers", "key", "bearer"),
    [
        ({"x-api-key": "md_abc"}, "md_abc", None),
        ({"X-Api-Key": " md_abc "}, "md_abc", None),
        ({"authorization": "Bearer md_xyz"}, "md_xyz", "md_xyz"),
        ({"authorization": "bearer md_xyz"}, "md_xyz", "md_xyz"),
        ({"x-api-key": "md_abc", "authorization": "Bearer md_xyz"}, "md_abc", "md_xyz"),
        ({"authorization": "Bearer eyJhbGciOi.x.y"}, None, "eyJhbGciOi.x.y"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, None, None),
        ({"authorization": "Bearer "}, None, None),
        ({}, None, None),
    ],
)
def test_headers(headers: dict[str, str], key: str | None, bearer: str | None) -> None:
    assert api_key_from_headers(headers) == key
    assert bearer_token_from_headers(headers) == bearer


# API keys


def test_created_key_verifies_and_only_its_hash_is_stored(engine: Engine) -> None:
    store = ApiKeyStore(engine)
    issued = store.create("odds-team", rate_per_minute=120)
    assert issued.key.startswith("md_") and len(issued.key) == 46
    assert issued.key not in repr(issued)
    info = store.verify(issued.key)
    assert (info.name, info.rate_per_minute, info.prefix, info.active) == ("odds-team", 120, issued.key[:12], True)
    with Session(engine) as session:
        row = session.scalars(select(ApiKeyRow)).one()
        assert row.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()
        stored = [str(getattr(row, column.key)) for column in ApiKeyRow.__table__.columns]
    assert not any(issued.key in value for value in stored)
    assert not any(value in issued.key for value in stored if len(value) > 12)  # only the short prefix
    assert [k.name for k in store.list()] == ["odds-team"]
    assert not hasattr(store.list()[0], "key_hash")


def test_unknown_revoked_missing_and_malformed_keys_are_unauthorized(engine: Engine) -> None:
    store = ApiKeyStore(engine)
    issued = store.create("client")
    cases = [
        ("md_" + "x" * 43, "unknown API key"),
        (None, "missing API key"),
        ("", "missing API key"),
        ("sk_" + "x" * 43, "malformed API key"),
        ("md_" + "x" * 500, "malformed API key"),
    ]
    for key, message in cases:
        with pytest.raises(Unauthorized, match=message):
            store.verify(key)
    store.verify(issued.key)
    revoked = store.revoke("client")
    assert revoked.revoked_at is not None and not revoked.active
    with pytest.raises(Unauthorized, match="API key revoked"):
        store.verify(issued.key)
    assert store.revoke("client").revoked_at == revoked.revoked_at  # revoking again changes nothing
    assert store.list(include_revoked=False) == []


def test_bad_names_and_duplicates_are_refused(engine: Engine) -> None:
    store = ApiKeyStore(engine)
    store.create("client")
    with pytest.raises(ValueError, match="name='client': an API key with this name exists"):
        store.create("client")
    with pytest.raises(ValueError, match="name='has space'"):
        store.create("has space")
    with pytest.raises(ValueError, match="rate_per_minute=0"):
        store.create("other", rate_per_minute=0)
    with pytest.raises(ValueError, match="name='nobody': no API key"):
        store.revoke("nobody")


def test_another_process_honours_a_revoke_within_the_cache_ttl(engine: Engine) -> None:
    clock = Clock()
    admin, replica = ApiKeyStore(engine), ApiKeyStore(engine, cache_ttl_seconds=10, clock=clock)
    issued = admin.create("client")
    replica.verify(issued.key)
    admin.revoke("client")
    clock.now += 9
    assert replica.verify(issued.key).name == "client"  # still cached: the documented delay
    clock.now += 2
    with pytest.raises(Unauthorized, match="revoked"):
        replica.verify(issued.key)


def test_a_refused_key_is_cached_too(engine: Engine) -> None:
    clock = Clock()
    store = ApiKeyStore(engine, cache_ttl_seconds=10, clock=clock)
    unknown = "md_" + "y" * 43
    with pytest.raises(Unauthorized, match="unknown"):
        store.verify(unknown)
    with Session(engine) as session:  # a row for that key appears behind the cache's back
        session.add(
            ApiKeyRow(
                name="late",
                prefix=unknown[:12],
                key_hash=hashlib.sha256(unknown.encode()).hexdigest(),
                created_at=datetime(2024, 1, 1),
            )
        )
        session.commit()
    with pytest.raises(Unauthorized, match="unknown"):
        store.verify(unknown)
    clock.now += 11
    assert store.verify(unknown).name == "late"


# Guard


def test_guard_authorizes_predictions_and_admin_calls(settings: Settings, engine: Engine) -> None:
    store = ApiKeyStore(engine)
    issued = store.create("client")
    guard = Guard(settings, store, limiter=None)
    assert guard.authorize_prediction({"x-api-key": issued.key}).name == "client"
    assert guard({"authorization": f"Bearer {issued.key}"}) is None
    with pytest.raises(Unauthorized, match="missing API key"):
        guard({})
    token = issue_token(settings, "ops", ["viewer"])
    assert guard.authorize_admin({"authorization": f"Bearer {token}"}, "viewer").subject == "ops"
    with pytest.raises(Forbidden, match="'admin'"):
        guard.authorize_admin({"authorization": f"Bearer {token}"}, "admin")
    with pytest.raises(Unauthorized, match="missing token"):
        guard.authorize_admin({"x-api-key": issued.key}, "viewer")
