"""Plain rows into a table, as fast as each database takes them.

Django's bulk_create builds a model instance and an SQL fragment per value, which costs
more than the database itself at 100,000 rows; imports send tuples instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Max, Model

from chairtime.simulation.bulk import insert_rows


def column_list(model: type[Model], names: Iterable[str]) -> str:
    """The quoted columns of these fields, comma-separated."""
    quote = connection.ops.quote_name
    return ", ".join(
        quote(str(model._meta.get_field(name).column))  # type: ignore[union-attr]
        for name in names
    )


def write_rows(model: type[Model], names: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """Plain rows in: COPY on PostgreSQL (psycopg's client-side binding of a big INSERT
    costs more than the server's work), one executemany on SQLite."""
    if connection.vendor != "postgresql":
        insert_rows(model, names, rows)
        return
    # Identifiers come from model metadata and are quoted; values travel as COPY data.
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({column_list(model, names)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])


def allocate_ids(model: type[Model], count: int) -> list[int]:
    """`count` new primary keys for rows written with `write_rows`, so that rows pointing
    at them (external IDs) can be written in the same pass. PostgreSQL: from the table's
    sequence. SQLite: after the highest id ever given, which is safe because a write transaction
    (BEGIN IMMEDIATE) holds the database's only write lock until it commits; call it
    inside the transaction that writes the rows."""
    if count <= 0:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, count],
            )
            return [row[0] for row in cursor.fetchall()]
    highest = model._default_manager.aggregate(highest=Max("pk"))["highest"] or 0
    with connection.cursor() as cursor:
        # AUTOINCREMENT never hands out an id again, even of a deleted row: neither do we.
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [model._meta.db_table])
        used = cursor.fetchone()
    highest = max(highest, int(used[0]) if used else 0)
    return list(range(highest + 1, highest + 1 + count))
