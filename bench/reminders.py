"""Generation of the day's reminders: 50,000 appointments tomorrow, one "1 day before"
reminder rule, one run of `generate_messages` (the scheduled task's work), then the same
run again, which must add nothing.

    .venv/bin/python bench/reminders.py                        # a temporary SQLite database
    .venv/bin/python bench/reminders.py --database-url URL     # an empty PostgreSQL database
    .venv/bin/python bench/reminders.py --appointments 100000 --branches 200

The organisation has `--branches` branches (100) in Vietnam, China, Spain and the US (in turn),
25 chairs each with a doctor, and one patient per appointment: a mobile phone for all, a
Zalo account for a third of the Vietnamese, WeChat for a third of the Chinese; in Spain
and the US a fifth have an e-mail instead of a phone, and one patient in a hundred has no
address at all (skipped, counted). So every channel, language and template is exercised;
the patient's language is the branch's, or English for one in ten. Appointments start
between 24 and 46 hours from "now", so every 1-day reminder is due within the run's
24-hour horizon. The rows are written straight to the tables (as the simulator does).
The bench checks the outbox afterwards: exactly one message per appointment, each with
its "enqueued" event, and one audit event for the run.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup_django  # noqa: E402

COUNTRIES = (
    ("VN", "Asia/Ho_Chi_Minh", "VND", "vi_VN"), ("CN", "Asia/Shanghai", "CNY", "zh_CN"),
    ("ES", "Europe/Madrid", "EUR", "es_ES"), ("US", "America/New_York", "USD", "en_US"),
)  # fmt: skip
CHAIRS = 25
PHONES = {"VN": "+8491{:07d}", "CN": "+86139{:08d}", "ES": "+3461{:07d}", "US": "+16462{:06d}"}
NOW = datetime(2030, 3, 4, 0, 0, tzinfo=UTC)


def make_book(appointments: int, branch_count: int):  # type: ignore[no-untyped-def]
    """The organisation, its branches, chairs, doctors, patients and appointments."""
    from django.db import transaction

    from chairtime.accounts.models import User
    from chairtime.clinical.models import Procedure
    from chairtime.messaging.automation.services import ensure_defaults
    from chairtime.messaging.models import AutomationRule
    from chairtime.patients.models import Patient, PatientChatId, PatientPhone
    from chairtime.scheduling.models import Appointment, Chair
    from chairtime.simulation.bookings import APPOINTMENT_COLUMNS
    from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
    from chairtime.tenancy.models import Branch, Organization

    organization = Organization.objects.create(name="Bench Dental", slug=f"bench-{time.time_ns()}")
    branches = [
        Branch.objects.create(
            organization=organization, name=f"Branch {n + 1}", code=f"b{n + 1}", country=country,
            time_zone=zone, currency=currency, locale=locale, phone="+84 28 3822 1234",
        )
        for n, (country, zone, currency, locale) in ((n, COUNTRIES[n % 4]) for n in range(branch_count))
    ]  # fmt: skip
    procedure = Procedure.objects.create(
        organization=organization, code="SCALE", name="Scale and polish", category="hygiene",
        ladder_tier="regular", default_duration_minutes=30,
        names={"vi": "Lấy cao răng", "zh-hans": "洗牙", "es": "Limpieza"},
    )  # fmt: skip
    with transaction.atomic():
        doctors = User.objects.bulk_create(
            User(username=f"bench-dr-{n}", first_name="Doctor", last_name=str(n))
            for n in range(branch_count * CHAIRS)
        )
        chairs = Chair.objects.bulk_create(
            Chair(branch=branch, name=f"Chair {c + 1}", sort_order=c)
            for branch in branches for c in range(CHAIRS)
        )  # fmt: skip
        per_chair = -(-appointments // len(chairs))
        spacing = timedelta(minutes=22 * 60 // per_chair)
        length = min(timedelta(minutes=30), spacing)
        first_patient, first_appointment = next_id(Patient), next_id(Appointment)
        patients, phones, chats, rows = [], [], [], []
        for n in range(appointments):
            chair = chairs[n % len(chairs)]
            branch = branches[(n % len(chairs)) // CHAIRS]
            doctor = doctors[n % len(chairs)]
            patient_id = first_patient + n
            language = (
                "en"
                if n % 10 == 0
                else {"VN": "vi", "CN": "zh-hans", "ES": "es"}.get(branch.country, "en")
            )
            # In Spain and the US one in five has an e-mail and no phone; one in a hundred
            # of everyone has neither (skipped and counted).
            email = f"p{n}@example.com" if branch.country in ("ES", "US") and n % 5 == 0 else ""
            has_phone = not email and n % 100 != 7
            patients.append((
                patient_id, organization.pk, branch.pk, f"B{n:07d}", "Nguyễn", f"Patient {n}",
                "family_first", f"Nguyễn Patient {n}", "unknown", email, language, [], "active",
                f"nguyen patient {n}", "", "", NOW, NOW,
            ))  # fmt: skip
            if has_phone:
                phones.append((patient_id, PHONES[branch.country].format(n), "mobile", True))
            if branch.country == "VN" and n % 3 == 0:
                chats.append((patient_id, "zalo", PHONES["VN"].format(n)))
            if branch.country == "CN" and n % 3 == 0:
                chats.append((patient_id, "wechat", f"oWx{n:012d}"))
            starts_at = NOW + timedelta(days=1, minutes=30) + spacing * (n // len(chairs))
            rows.append((
                first_appointment + n, branch.pk, patient_id, procedure.pk, doctor.pk, None, chair.pk,
                starts_at, starts_at + length, starts_at + length,
                "booked", False, False, None, None, None, None, None, None, None, "", "", False, 0,
                "", NOW - timedelta(days=7), NOW - timedelta(days=7),
            ))  # fmt: skip
        insert_rows(Patient, ("id", "organization", "home_branch", "number", "family_name", "given_name",
                              "name_order", "display_name", "sex", "email", "preferred_language",
                              "preferred_times", "status", "search_key", "notes", "referrer_external",
                              "created_at", "updated_at"), patients)  # fmt: skip
        insert_rows(PatientPhone, ("patient", "number", "kind", "is_primary"), phones)
        insert_rows(PatientChatId, ("patient", "app", "handle"), chats)
        insert_rows(Appointment, APPOINTMENT_COLUMNS, rows)
        reset_sequences(Patient, Appointment)
    ensure_defaults(organization=organization)
    AutomationRule.objects.filter(organization=organization).delete()
    AutomationRule.objects.create(
        organization=organization, name="Reminder, 1 day before", kind="reminder", offset_value=1,
        offset_unit="days", channels=["zalo", "wechat", "sms", "email"],
    )  # fmt: skip
    return organization


def check(organization, appointments: int, without_address: int) -> None:  # type: ignore[no-untyped-def]
    from chairtime.audit.models import AuditEvent
    from chairtime.messaging.models import Message, MessageEvent

    messages = Message.objects.filter(organization=organization)
    made = messages.count()
    distinct = messages.values("appointment_id").distinct().count()
    events = MessageEvent.objects.filter(
        message__organization=organization, kind="enqueued"
    ).count()
    audits = AuditEvent.objects.filter(
        organization_id=organization.pk, object_type="messaging.automationrun"
    ).count()
    reachable = appointments - without_address
    if not made == distinct == events == reachable or audits != 1:
        raise SystemExit(
            f"{made} messages for {distinct} appointments, {events} events, {audits} audits"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--appointments", type=int, default=50_000)
    parser.add_argument("--branches", type=int, default=100)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="reminders")
    from collections import Counter

    from django.db import connection

    from chairtime.messaging.automation.generation import generate_messages
    from chairtime.messaging.models import Message

    started = time.perf_counter()
    organization = make_book(arguments.appointments, arguments.branches)
    setup = time.perf_counter() - started
    rows = []
    for case in ("first run", "second run (nothing new)"):
        started = time.perf_counter()
        counts = generate_messages(organization=organization, now=NOW, trigger="bench")
        rows.append((case, counts.created, counts.existing, counts.without_address,
                     time.perf_counter() - started))  # fmt: skip
    check(organization, arguments.appointments, rows[0][3])
    channels = Counter(
        Message.objects.filter(organization=organization).values_list("channel", flat=True)
    )

    if connection.vendor == "sqlite":
        vendor = "SQLite " + ".".join(map(str, connection.Database.sqlite_version_info))
    else:
        vendor = f"PostgreSQL {connection.pg_version // 10000}"  # type: ignore[attr-defined]
    print(f"\nThe day's reminders: {arguments.appointments:,} appointments in {arguments.branches} "
          f"branches ({vendor}); book written in {setup:.1f} s")  # fmt: skip
    print(f"{'case':<26} {'made':>7} {'already':>8} {'no address':>10} {'seconds':>8} "
          f"{'appointments/s':>15}")  # fmt: skip
    for case, made, existing, skipped, seconds in rows:
        print(f"{case:<26} {made:>7,} {existing:>8,} {skipped:>10,} {seconds:>8.1f} "
              f"{arguments.appointments / seconds:>15,.0f}")  # fmt: skip
    print("channels: " + ", ".join(f"{name} {count:,}" for name, count in sorted(channels.items())))


if __name__ == "__main__":
    main()
