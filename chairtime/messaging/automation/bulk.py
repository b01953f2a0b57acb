"""The bulk path into the outbox: many messages in a few statements, with the guarantees
of `enqueue_message` (one row per idempotency key, even when two runs race).

One `INSERT … ON CONFLICT DO NOTHING RETURNING id, idempotency_key` per batch (PostgreSQL
and SQLite ≥ 3.35 both have it; PostgreSQL gets the rows as one array per column): a key
another transaction holds makes PostgreSQL wait for it and then skip the row, and only
rows really inserted come back, so each run writes the history (MessageEvent) and
confirmation links of exactly its own messages. Rows go in key order, so two runs lock
keys in the same order and cannot deadlock. Addresses and texts were checked by the
caller (templates are validated when saved; values are cut to their limits; addresses
normalised); the audit trail gets one event per run, written by the caller with counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from chairtime.messaging.choices import EventKind, MessageStatus
from chairtime.messaging.models import ConfirmationLink, Message, MessageEvent

ROWS_PER_STATEMENT = 500  # 25 columns: 12,500 parameters, under SQLite's 32,766


@dataclass(frozen=True)
class LinkRow:
    token_hash: str
    appointment_id: int
    starts_at: datetime
    expires_at: datetime


@dataclass
class Draft:
    """A message ready for the outbox."""

    organization_id: int
    branch_id: int
    patient_id: int | None
    channel: str
    purpose: str
    to_address: str
    idempotency_key: str
    cause: str
    body: str
    not_before: datetime
    rule_id: int | None = None
    subject: str = ""
    template_code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    appointment_id: int | None = None
    appointment_starts_at: datetime | None = None
    link: LinkRow | None = None


_COLUMNS = (
    "organization", "branch", "patient", "channel", "purpose", "to_address", "subject", "body",
    "template_code", "params", "idempotency_key", "cause", "status", "reason", "not_before",
    "attempts", "claimed_by", "provider_message_id", "error_code", "error_text", "created_at",
    "updated_at", "appointment", "appointment_starts_at", "rule",
)  # fmt: skip
_EVENT_COLUMNS = ("message", "occurred_at", "kind", "status_before", "status_after", "attempt",
                  "worker", "detail")  # fmt: skip
_LINK_COLUMNS = ("organization", "branch", "appointment", "starts_at", "token_hash",
                 "expires_at", "created_at")  # fmt: skip
POSTGRES_ROWS_PER_STATEMENT = 5000


def _insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    skip_taken: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT plain rows (aware datetimes, dicts for JSON); `skip_taken`: ON CONFLICT DO
    NOTHING; returns the `returning` columns of the rows really inserted.

    PostgreSQL gets one array per column (`INSERT … SELECT … FROM unnest(…)`): a statement
    with tens of thousands of placeholders costs the driver more than the server its
    rows. SQLite gets multi-row VALUES when rows must come back, else executemany."""
    if not rows:
        return []
    fields = [model._meta.get_field(name) for name in columns]
    if connection.vendor == "postgresql":
        return _insert_postgresql(model, fields, rows, skip_taken, returning)
    return _insert_sqlite(model, fields, rows, skip_taken, returning)


def _tail(skip_taken: bool, returning: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    sql = " ON CONFLICT DO NOTHING" if skip_taken else ""
    if returning:
        sql += " RETURNING " + ", ".join(quote(name) for name in returning)
    return sql


def _insert_postgresql(
    model: type[models.Model], fields: list[Any], rows: list[tuple[Any, ...]],
    skip_taken: bool, returning: Sequence[str],
) -> list[tuple[Any, ...]]:  # fmt: skip
    quote = connection.ops.quote_name
    names = [quote(str(f.column)) for f in fields]
    is_json = [isinstance(f, models.JSONField) for f in fields]
    arrays = ", ".join(
        "%s::text[]" if json else f"%s::{f.db_type(connection)}[]"
        for f, json in zip(fields, is_json, strict=True)
    )
    picks = ", ".join(f"c{n}::jsonb" if json else f"c{n}" for n, json in enumerate(is_json))
    aliases = ", ".join(f"c{n}" for n in range(len(fields)))
    # Identifiers and types come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {picks} FROM unnest({arrays}) AS u({aliases})" + _tail(skip_taken, returning)
    )
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), POSTGRES_ROWS_PER_STATEMENT):
            chunk = rows[start : start + POSTGRES_ROWS_PER_STATEMENT]
            columns = [list(column) for column in zip(*chunk, strict=True)]
            for n, json in enumerate(is_json):
                if json:
                    columns[n] = [None if v is None else _json(v) for v in columns[n]]
            cursor.execute(sql, columns)
            if returning:
                found += cursor.fetchall()
    return found


def _insert_sqlite(
    model: type[models.Model], fields: list[Any], rows: list[tuple[Any, ...]],
    skip_taken: bool, returning: Sequence[str],
) -> list[tuple[Any, ...]]:  # fmt: skip
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(f.column)) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    adapters = [_sqlite_adapter(f) for f in fields]
    prepared = [
        tuple(v if a is None or v is None else a(v) for a, v in zip(adapters, row, strict=True))
        for row in rows
    ]
    head = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES "  # noqa: S608
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if not returning:
            cursor.executemany(head + one + _tail(skip_taken, returning), prepared)
            return found
        for start in range(0, len(prepared), ROWS_PER_STATEMENT):
            chunk = prepared[start : start + ROWS_PER_STATEMENT]
            sql = head + ", ".join([one] * len(chunk)) + _tail(skip_taken, returning)
            cursor.execute(sql, [value for row in chunk for value in row])
            found += cursor.fetchall()
    return found


def _sqlite_adapter(field: Any) -> Any:
    """What the field makes of a value on SQLite, without its per-value cost: naive UTC
    text for an aware datetime (as DateTimeField stores it), JSON text for a dict."""
    if isinstance(field, models.DateTimeField):
        return lambda value: str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(field, models.JSONField):
        return _json
    return None


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _row(draft: Draft, now: datetime) -> tuple[Any, ...]:
    return (
        draft.organization_id, draft.branch_id, draft.patient_id, draft.channel, draft.purpose,
        draft.to_address, draft.subject[:200], draft.body, draft.template_code, draft.params,
        draft.idempotency_key, draft.cause[:120], MessageStatus.QUEUED, "", draft.not_before, 0,
        "", "", "", "", now, now, draft.appointment_id, draft.appointment_starts_at, draft.rule_id,
    )  # fmt: skip


def insert_drafts(drafts: Sequence[Draft], *, now: datetime) -> int:
    """Insert the messages whose key is free, with their history and links, in one
    transaction; returns how many were inserted (the rest existed already)."""
    if len({d.organization_id for d in drafts}) > 1:
        raise ValueError("insert_drafts takes the drafts of one organisation at a time")
    ordered = sorted(drafts, key=lambda d: d.idempotency_key)
    by_key = {d.idempotency_key: d for d in ordered}
    with transaction.atomic():
        returned = _insert(
            Message, _COLUMNS, [_row(draft, now) for draft in ordered], skip_taken=True,
            returning=("id", "idempotency_key"),
        )  # fmt: skip
        inserted = sorted((int(pk), by_key[key]) for pk, key in returned)
        _insert(
            MessageEvent, _EVENT_COLUMNS,
            [(pk, now, EventKind.ENQUEUED, "", MessageStatus.QUEUED, 0, "", draft.cause[:500])
             for pk, draft in inserted],
        )  # fmt: skip
        links = {
            draft.link.token_hash: (
                draft.organization_id, draft.branch_id, draft.link.appointment_id,
                draft.link.starts_at, draft.link.token_hash, draft.link.expires_at, now,
            )
            for _pk, draft in inserted
            if draft.link is not None
        }  # fmt: skip
        _insert(
            ConfirmationLink, _LINK_COLUMNS, [links[key] for key in sorted(links)], skip_taken=True
        )
    return len(inserted)
