"""Fast inserts for the simulator: rows as tuples, one prepared statement per batch.

Django's bulk_create builds a model instance and an SQL fragment per value, which costs
more than the database itself once a run reaches a million patients. The simulator
knows its rows are valid, so it assigns primary keys itself and sends plain tuples;
only values that need the backend's adaptation (times, JSON) go through their field, and
aware datetimes, dates and decimals through shortcuts that give the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models

# Adapted by their field (sqlite3 has no adapter of its own for times); datetimes, dates
# and decimals apart.
_ADAPTED = (models.TimeField, models.JSONField)


def next_id(model: type[models.Model]) -> int:
    """The first free primary key (the simulator is the only writer while it runs)."""
    highest = model._default_manager.aggregate(highest=models.Max("pk"))["highest"]
    return int(highest or 0) + 1


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """INSERT the rows (values in `columns` order, by field name); returns how many."""
    fields = [model._meta.get_field(name) for name in columns]
    adapters = [_adapter(field) for field in fields]
    quote = connection.ops.quote_name
    # Identifiers come from model metadata and are quoted; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(str(field.column)) for field in fields),  # type: ignore[union-attr]
        ", ".join(["%s"] * len(fields)),
    )
    prepared = [
        tuple(
            value if adapter is None or value is None else adapter(value)
            for adapter, value in zip(adapters, row, strict=True)
        )
        for row in rows
    ]
    if prepared:
        with connection.cursor() as cursor:
            cursor.executemany(sql, prepared)
    return len(prepared)


def _adapter(field: Any) -> Callable[[Any], Any] | None:
    if isinstance(field, models.DateTimeField):
        return _datetime_adapter()
    if isinstance(field, models.DateField):
        # Django passes dates through on PostgreSQL, and its SQLite backend registers an
        # adapter (isoformat) that gives what adapt_datefield_value would.
        return None
    if isinstance(field, models.DecimalField):
        return _decimal  # passed through by both backends (SQLite's adapter: str)
    if isinstance(field, _ADAPTED):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def _datetime_adapter() -> Callable[[datetime], Any]:
    """What DateTimeField.get_db_prep_save makes of an aware datetime, at a fraction of the
    cost (an appointment has ten timestamps): SQLite stores naive UTC text, PostgreSQL's
    driver takes the aware value itself."""
    is_sqlite, zone = connection.vendor == "sqlite", connection.timezone

    def adapt(value: datetime) -> Any:
        if value.tzinfo is None:
            raise ValueError(f"The simulator writes aware datetimes only, not {value}")
        return str(value.astimezone(zone).replace(tzinfo=None)) if is_sqlite else value

    return adapt


def _decimal(value: Any) -> Decimal:
    """Money is Decimal only: a float or a string here is a bug in the simulator."""
    if type(value) is not Decimal:
        raise TypeError(f"The simulator writes Decimal amounts only, not {value!r}")
    return value


def reset_sequences(*model_list: type[models.Model]) -> None:
    """After explicit ids, move PostgreSQL's sequences past them (a no-op on SQLite)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
