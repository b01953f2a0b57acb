"""Charging the no-show fee: only where the branch's rule applies, once per appointment
(even two at once), invoiced today (so a missed day in a closed period can be billed;
refused only while today is closed), only by someone who takes money."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Invoice, LineKind
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.frontdesk.models import NoShowFee, NoShowFeeRule
from chairtime.frontdesk.services import charge_no_show_fee, set_no_show_fee_rule
from chairtime.frontdesk.tests.helpers import local
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from tests.factories import ChairFactory, PatientFactory, ProcedureFactory, make_doctor


@pytest.fixture
def missed(world) -> Appointment:
    """A no-show of branch A two days ago, by a patient who missed once before this year."""
    branch = world.branch_a
    today = timezone.localdate(timezone=branch.zone)
    doctor = make_doctor(branch)
    chair = ChairFactory(branch=branch)
    procedure = ProcedureFactory(organization=world.acme, code="FIL", name="Filling")
    patient = PatientFactory(home_branch=branch)
    Appointment.objects.create(
        branch=branch, patient=patient, procedure=procedure, doctor=doctor, chair=chair,
        starts_at=local(today - timedelta(days=90), 9), ends_at=local(today - timedelta(days=90), 10),
        blocked_until=local(today - timedelta(days=90), 10), status=AppointmentStatus.NO_SHOW,
    )  # fmt: skip
    day = today - timedelta(days=2)
    return Appointment.objects.create(
        branch=branch, patient=patient, procedure=procedure, doctor=doctor, chair=chair,
        starts_at=local(day, 9), ends_at=local(day, 10), blocked_until=local(day, 10),
        status=AppointmentStatus.NO_SHOW,
    )  # fmt: skip


def rule(branch: Branch, *, from_count: int = 2, is_enabled: bool = True) -> None:
    NoShowFeeRule.objects.create(
        branch=branch, is_enabled=is_enabled, amount=Decimal("200000"), from_count=from_count
    )


def test_charges_the_fee_on_an_invoice_issued_today_naming_the_missed_day(missed, persona):
    rule(missed.branch)
    receptionist = persona(Role.RECEPTIONIST)
    missed_day = timezone.localdate(missed.starts_at, missed.branch.zone)

    fee = charge_no_show_fee(actor=receptionist, appointment=missed)

    invoice = Invoice.objects.get()
    [line] = invoice.lines.all()
    assert (fee.invoice, fee.amount, fee.charged_by) == (invoice, Decimal("200000"), receptionist)
    assert (invoice.issued_on, invoice.total, invoice.balance, invoice.patient) == (
        timezone.localdate(timezone=missed.branch.zone), Decimal("200000"),
        Decimal("200000"), missed.patient,
    )  # fmt: skip
    assert invoice.issued_on == missed_day + timedelta(days=2)
    assert (line.kind, line.description) == (
        LineKind.FEE, f"No-show fee: Filling on {missed_day.isoformat()}",
    )  # fmt: skip
    assert AuditEvent.objects.filter(object_type="frontdesk.noshowfee").count() == 1


def test_a_second_charge_is_refused_and_bills_nothing(missed, persona):
    rule(missed.branch)
    charge_no_show_fee(actor=persona(Role.RECEPTIONIST), appointment=missed)

    with pytest.raises(Conflict):
        charge_no_show_fee(actor=persona(Role.RECEPTIONIST), appointment=missed)

    assert (Invoice.objects.count(), NoShowFee.objects.count()) == (1, 1)


@pytest.mark.parametrize(
    "from_count, is_enabled", [(3, True), (1, False)], ids=["below the count", "rule off"]
)
def test_refused_where_the_rule_does_not_apply(missed, persona, from_count, is_enabled):
    rule(missed.branch, from_count=from_count, is_enabled=is_enabled)

    with pytest.raises(InvalidInput) as refused:
        charge_no_show_fee(actor=persona(Role.RECEPTIONIST), appointment=missed)

    assert list(refused.value.errors) == ["appointment"]
    assert Invoice.objects.count() == 0


def test_a_no_show_in_a_locked_period_is_charged_today(missed, persona):
    rule(missed.branch)
    missed_day = timezone.localdate(missed.starts_at, missed.branch.zone)
    Branch.objects.filter(pk=missed.branch_id).update(financial_lock_date=missed_day)
    missed.branch.refresh_from_db()

    fee = charge_no_show_fee(actor=persona(Role.RECEPTIONIST), appointment=missed)

    assert fee.invoice.issued_on == timezone.localdate(timezone=missed.branch.zone)
    assert fee.invoice.issued_on > missed_day  # nothing written into the closed period
    assert (Invoice.objects.count(), NoShowFee.objects.count()) == (1, 1)


def test_refused_while_today_is_in_the_locked_period(missed, persona):
    rule(missed.branch)
    today = timezone.localdate(timezone=missed.branch.zone)
    Branch.objects.filter(pk=missed.branch_id).update(financial_lock_date=today)
    missed.branch.refresh_from_db()

    with pytest.raises(InvalidInput) as refused:
        charge_no_show_fee(actor=persona(Role.RECEPTIONIST), appointment=missed)

    assert list(refused.value.errors) == ["issued_on"]
    assert (Invoice.objects.count(), NoShowFee.objects.count()) == (0, 0)


def test_only_someone_who_takes_money_may_charge(missed, persona):
    rule(missed.branch)

    with pytest.raises(NotFound):
        charge_no_show_fee(actor=persona(Role.NURSE), appointment=missed)

    assert Invoice.objects.count() == 0


def test_the_rule_is_audited_and_checked(world, persona):
    manager = persona(Role.BRANCH_MANAGER)

    with pytest.raises(InvalidInput) as refused:
        set_no_show_fee_rule(actor=manager, branch=world.branch_a, is_enabled=True,
                             amount="0", from_count=1)  # fmt: skip
    saved = set_no_show_fee_rule(
        actor=manager, branch=world.branch_a, is_enabled=True, amount="150000", from_count=2
    )

    assert list(refused.value.errors) == ["amount"]
    assert (saved.amount, saved.from_count) == (Decimal("150000"), 2)
    with pytest.raises(NotFound):
        set_no_show_fee_rule(actor=persona(Role.RECEPTIONIST), branch=world.branch_a,
                             is_enabled=False, amount="0", from_count=1)  # fmt: skip


@pytest.mark.concurrency
def test_two_charges_at_once_bill_once(transactional_db, missed, persona):
    rule(missed.branch)
    receptionist = persona(Role.RECEPTIONIST)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def charge() -> None:
        barrier.wait()
        try:
            charge_no_show_fee(actor=receptionist, appointment=missed)
            outcomes.append("charged")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()  # the thread's own connection

    threads = [threading.Thread(target=charge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["charged", "conflict"]
    assert (Invoice.objects.count(), NoShowFee.objects.count()) == (1, 1)
