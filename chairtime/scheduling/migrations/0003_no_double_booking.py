"""The database's own guarantee against double booking: the last line of defence.

Services check for conflicts under a lock and explain them; this makes a conflicting row
impossible even if a service is wrong or two of them race. Rows that no longer hold
their resources (cancelled, no-show) and rows flagged as overbooked are outside the rule.

- Doctor, assistant and chair are held from the start to the end of the cleaning buffer
  (`blocked_until`); a patient only for the procedure itself (`ends_at`).
- PostgreSQL: exclusion constraints over time ranges (btree_gist).
- SQLite: writes are serialized (IMMEDIATE transactions); triggers refuse an overlapping
  insert or update. Datetimes are stored as UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]",
  which compares correctly as text.
"""

from django.db import migrations

HELD = "status NOT IN ('cancelled', 'no_show') AND NOT is_overbooked"
RESOURCES = (
    # (name, column, end column)
    ("doctor", "doctor_id", "blocked_until"),
    ("assistant", "assistant_id", "blocked_until"),
    ("chair", "chair_id", "blocked_until"),
    ("patient", "patient_id", "ends_at"),
)


def _postgresql(forward: bool) -> list[str]:
    if not forward:
        return [
            f"ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appointment_no_{name}_overlap"
            for name, _, _ in RESOURCES
        ]
    statements = ["CREATE EXTENSION IF NOT EXISTS btree_gist"]
    for name, column, end in RESOURCES:
        statements.append(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT appointment_no_{name}_overlap "
            f"EXCLUDE USING gist ({column} WITH =, tstzrange(starts_at, {end}, '[)') WITH &&) "
            f"WHERE ({HELD})"
        )
    return statements


def _sqlite_trigger(event: str) -> str:
    other = "a.id != NEW.id AND " if event == "UPDATE" else ""
    checks = []
    for name, column, end in RESOURCES:
        checks.append(
            f"SELECT RAISE(ABORT, 'appointment_no_{name}_overlap') WHERE NEW.{column} IS NOT NULL "
            f"AND EXISTS (SELECT 1 FROM scheduling_appointment a WHERE {other}"
            f"a.{column} = NEW.{column} AND a.status NOT IN ('cancelled', 'no_show') "
            f"AND a.is_overbooked = 0 AND a.starts_at < NEW.{end} AND NEW.starts_at < a.{end});"
        )
    return (
        f"CREATE TRIGGER appointment_no_overlap_{event.lower()} BEFORE {event} "
        f"ON scheduling_appointment FOR EACH ROW "
        f"WHEN NEW.status NOT IN ('cancelled', 'no_show') AND NEW.is_overbooked = 0 "
        f"BEGIN {' '.join(checks)} END"
    )


def _sqlite(forward: bool) -> list[str]:
    if not forward:
        return [
            "DROP TRIGGER IF EXISTS appointment_no_overlap_insert",
            "DROP TRIGGER IF EXISTS appointment_no_overlap_update",
        ]
    return [_sqlite_trigger("INSERT"), _sqlite_trigger("UPDATE")]


def _apply(schema_editor, forward: bool) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _postgresql(forward)
    elif vendor == "sqlite":
        statements = _sqlite(forward)
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"No double-booking guard for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def forwards(apps, schema_editor):
    _apply(schema_editor, forward=True)


def backwards(apps, schema_editor):
    _apply(schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_appointment_book")]
    operations = [migrations.RunPython(forwards, backwards)]
