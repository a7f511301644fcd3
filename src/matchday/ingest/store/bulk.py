"""Bulk inserts, the fast way each database offers.

`insert_missing` skips rows that collide with a unique key (safe under concurrent writers) and returns the
keys of the rows it inserted; `insert_new` is for rows known to collide with nothing, such as the quotes of
matches this very transaction created, and skips the conflict check altogether.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Column, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from matchday.ingest.store.models import Base

__all__ = ["insert_missing", "insert_new"]

# Below this many rows a plain multi-row INSERT beats setting up a COPY.
_COPY_THRESHOLD = 200


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def insert_missing(
    connection: Connection,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows`, skipping those that collide with a unique constraint.

    Returns one tuple of the `returning` columns (default: the primary key) per row actually inserted.
    """
    if not rows:
        return []
    table = _table(model)
    columns = [table.c[name] for name in returning] or list(table.primary_key.columns)
    if connection.dialect.name == "postgresql":
        if len(rows) >= _COPY_THRESHOLD:
            return _copy_then_insert(connection, table, rows, columns)
        statement: Any = postgresql.insert(table).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing()
    # SQLAlchemy batches an executemany with RETURNING into multi-row INSERTs ("insertmanyvalues").
    result = connection.execute(statement.returning(*columns), list(rows))
    return [tuple(row) for row in result]


def insert_new(connection: Connection, model: type[Base], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Insert rows (value tuples in the order of `names`) that cannot collide with existing ones.

    Tuples rather than mappings: this is the path of the million quotes, where building a dict per row costs
    more than the database's own work. A collision is a bug and raises.
    """
    if not rows:
        return 0
    table = _table(model)
    if connection.dialect.name == "postgresql" and len(rows) >= _COPY_THRESHOLD:
        _copy(connection, table.name, names, rows)
    else:
        connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])
    return len(rows)


def _copy(connection: Connection, target: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    raw = connection.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no driver connection to COPY through")
    with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_then_insert(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], returning: list[Column[Any]]
) -> list[tuple[Any, ...]]:
    # COPY cannot skip conflicts, so stream into a session-private staging table and let one INSERT ... SELECT
    # apply ON CONFLICT DO NOTHING: far faster than row-wise INSERTs. Rows go in key order so that concurrent
    # writers lock the same keys in the same order and cannot deadlock.
    names = list(rows[0])
    staging = f"staging_{table.name}"
    column_list = ", ".join(names)
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {column_list} FROM {table.name} WITH NO DATA"
    )
    connection.exec_driver_sql(f"TRUNCATE {staging}")
    _copy(connection, staging, names, ([row[name] for name in names] for row in rows))
    result = connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM {staging} "
        f"ORDER BY {column_list} ON CONFLICT DO NOTHING RETURNING {', '.join(c.name for c in returning)}"
    )
    return [tuple(row) for row in result]
