"""`ApiKeyStore` on the real PostgreSQL: keys created, verified, revoked; names unique across processes."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from matchday.inference.auth import ApiKeyStore
from matchday.inference.errors import NotReady, Unauthorized
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.models import ApiKeyRow

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_create_verify_revoke(engine: Engine) -> None:
    store = ApiKeyStore(engine)
    issued = store.create("odds-team", rate_per_minute=300)
    other = store.create("dashboard")
    info = store.verify(issued.key)
    assert (info.name, info.rate_per_minute, info.active) == ("odds-team", 300, True)
    assert store.verify(other.key).rate_per_minute is None
    with Session(engine) as session:
        hashes = dict(session.execute(select(ApiKeyRow.name, ApiKeyRow.key_hash)).all())
    assert hashes["odds-team"] == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key not in hashes.values()

    # A second process (its own cache) sees the revoke at once when it had not cached the key.
    store.revoke("odds-team")
    with pytest.raises(Unauthorized, match="API key revoked"):
        ApiKeyStore(engine).verify(issued.key)
    with pytest.raises(Unauthorized, match="API key revoked"):
        store.verify(issued.key)
    with pytest.raises(Unauthorized, match="unknown API key"):
        store.verify(issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B"))
    assert store.verify(other.key).name == "dashboard"
    assert [(k.name, k.active) for k in store.list()] == [("dashboard", True), ("odds-team", False)]
    assert [k.name for k in store.list(include_revoked=False)] == ["dashboard"]


def test_duplicate_name_is_refused_even_after_a_revoke(engine: Engine) -> None:
    store = ApiKeyStore(engine)
    store.create("client")
    with pytest.raises(ValueError, match="name='client': an API key with this name exists"):
        ApiKeyStore(engine).create("client")
    store.revoke("client")
    with pytest.raises(ValueError, match="name='client'"):
        store.create("client")
    with Session(engine) as session:
        assert session.scalars(select(ApiKeyRow.name)).all() == ["client"]


def test_unreachable_database_is_not_ready_not_unauthorized() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test?connect_timeout=2")
    try:
        with pytest.raises(NotReady, match="API key store is unavailable") as caught:
            ApiKeyStore(engine).verify("md_" + "x" * 43)
        assert caught.value.status == 503
    finally:
        engine.dispose()
