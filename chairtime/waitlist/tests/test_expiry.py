"""The daily run marks active entries past their last day (in the branch's time zone)
`expired`, with an audit event each, and leaves the others alone."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from chairtime.audit.models import AuditEvent
from chairtime.tenancy.roles import Role
from chairtime.waitlist.choices import EntryStatus
from chairtime.waitlist.models import WaitlistEntry
from chairtime.waitlist.services import expire_entries
from chairtime.waitlist.tasks import expire_entries_task
from chairtime.waitlist.tests.helpers import NOW, ZONE, make_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world):
    return make_clinic(world.branch_a)


@pytest.fixture
def clerk(persona):
    return persona(Role.RECEPTIONIST)


def test_entries_past_their_last_day_expire_once_with_an_audit_event(clinic, clerk):
    past = clinic.wait(clinic.patient(), actor=clerk, latest_on=date(2030, 1, 10))
    today = clinic.wait(clinic.patient(), actor=clerk, latest_on=date(2030, 1, 11))
    open_ended = clinic.wait(clinic.patient(), actor=clerk)
    removed = clinic.wait(clinic.patient(), actor=clerk, latest_on=date(2030, 1, 9))
    WaitlistEntry.objects.filter(pk=removed.pk).update(status=EntryStatus.REMOVED)
    # 00:30 on 11 January in Ho Chi Minh is still 10 January in UTC.
    sweep = datetime(2030, 1, 11, 0, 30, tzinfo=ZONE)

    assert expire_entries(now=sweep) == 1
    assert expire_entries(now=sweep) == 0

    states = dict(WaitlistEntry.objects.values_list("pk", "status"))
    assert states == {past.pk: EntryStatus.EXPIRED, today.pk: EntryStatus.ACTIVE,
                      open_ended.pk: EntryStatus.ACTIVE, removed.pk: EntryStatus.REMOVED}  # fmt: skip
    past.refresh_from_db()
    assert past.closed_at == sweep
    event = AuditEvent.objects.get(object_type="waitlist.waitlistentry", object_id=str(past.pk),
                                   summary__startswith="waitlist: expired")  # fmt: skip
    assert (event.actor_id, event.changes) == (None, {"status": ["active", "expired"]})


def test_before_midnight_in_the_branch_nothing_expires(clinic, clerk):
    entry = clinic.wait(clinic.patient(), actor=clerk, latest_on=date(2030, 1, 10))

    assert expire_entries(now=datetime(2030, 1, 10, 23, 59, tzinfo=ZONE)) == 0
    assert expire_entries(now=datetime(2030, 1, 11, 0, 0, tzinfo=ZONE)) == 1
    entry.refresh_from_db()
    assert entry.status == EntryStatus.EXPIRED


def test_the_task_runs_daily_from_the_installed_schedule(clinic, clerk):
    entry = clinic.wait(clinic.patient(), actor=clerk, latest_on=NOW.date())
    # The task runs at the real now: a last day two days before it has passed everywhere.
    WaitlistEntry.objects.filter(pk=entry.pk).update(
        latest_on=timezone.now().date() - timedelta(days=2)
    )
    schedule = Schedule.objects.get(name="expire waitlist entries")

    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "chairtime.waitlist.tasks.expire_entries_task", Schedule.DAILY, -1,
    )  # fmt: skip
    assert expire_entries_task() == 1
    assert expire_entries_task() == 0
