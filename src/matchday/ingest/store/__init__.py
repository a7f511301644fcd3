"""The SQL match store: models, migrations, bulk writes and read-side summaries."""

from __future__ import annotations

from matchday.config import Settings
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.repository import MatchStore

__all__ = ["MatchStore", "open_store"]


def open_store(settings: Settings) -> MatchStore:
    """The configured store with its schema migrated to the latest revision."""
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return MatchStore(engine)
