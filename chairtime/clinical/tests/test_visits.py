"""Completing a visit: production recorded, plan items completed, plans moved along, and
the product ladder climbed. Refusals name their field and change nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Invoice, InvoiceLine
from chairtime.billing.selectors import list_uninvoiced_performed
from chairtime.clinical.models import (
    ItemStatus,
    PerformedProcedure,
    PlanStatus,
)
from chairtime.clinical.selectors import (
    get_ladder_report,
    get_patient_ladder,
)
from chairtime.clinical.services import (
    ItemInput,
    PerformedInput,
    book_plan_item,
    complete_visit,
    complete_visit_as_booked,
)
from chairtime.clinical.tests.clinic_world import (
    NOW,
    Clinic,
    counts,
    items_of,
    local,
    make_clinic,
)
from chairtime.core.errors import InvalidInput
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.services import seat_appointment
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import PatientFactory, ProcedureFactory


@pytest.fixture
def clinic(world, persona) -> Clinic:
    return make_clinic(world, persona)


def performed_rows(appointment) -> list[tuple]:
    return [
        (p.procedure.code, p.plan_item_id, p.teeth, p.surfaces, p.quantity, p.unit_price,
         p.discount, p.amount, p.chair_minutes)
        for p in PerformedProcedure.objects.filter(appointment=appointment).order_by("pk")
    ]  # fmt: skip


def refused(call, **kwargs) -> dict[str, list[str]]:
    before = counts()
    with pytest.raises(InvalidInput) as refusal:
        call(**kwargs)
    assert counts() == before
    return refusal.value.errors


def booked_and_seated(clinic, item, starts_at):
    appointment = book_plan_item(
        actor=clinic.receptionist, item=item, doctor=clinic.doctor, chair=clinic.chair,
        starts_at=starts_at, now=NOW,
    )  # fmt: skip
    appointment.status, appointment.seated_at = AppointmentStatus.SEATED, starts_at
    appointment.save()
    return appointment


# --- production ---------------------------------------------------------------------------
def test_a_visit_as_booked_records_its_procedure_at_the_branch_price(clinic):
    visit = clinic.seated(local(7, 9))
    done_at = local(7, 9, 42)

    completed = complete_visit_as_booked(actor=clinic.receptionist, appointment=visit, now=done_at)

    assert (completed.pk, completed.status, completed.completed_at) == (
        visit.pk, AppointmentStatus.COMPLETED, done_at,
    )  # fmt: skip
    assert performed_rows(visit) == [
        ("FILL", None, [], "", 1, Decimal("500000"), Decimal("0"), Decimal("500000"), 42)
    ]
    row = PerformedProcedure.objects.get()
    assert (row.branch, row.patient, row.doctor, row.chair, row.performed_at, row.recorded_by) == (
        clinic.branch, clinic.patient, clinic.doctor, clinic.chair, done_at, clinic.receptionist,
    )  # fmt: skip
    assert AuditEvent.objects.filter(object_type="clinical.performedprocedure").count() == 1


def test_a_procedure_without_a_price_still_counts_as_production_at_zero(clinic, world):
    unpriced = ProcedureFactory(organization=world.acme, category="restorative")
    visit = clinic.seated(local(7, 9), procedure=unpriced)
    complete_visit(actor=clinic.doctor, appointment=visit, now=local(7, 9, 20))
    assert [r[5:8] for r in performed_rows(visit)] == [(Decimal("0"), Decimal("0"), Decimal("0"))]


def test_chair_time_is_the_booked_duration_without_a_seating_time(clinic):
    visit = clinic.seated(local(7, 9), seated_at=None)
    complete_visit(actor=clinic.doctor, appointment=visit, now=local(7, 11))
    assert performed_rows(visit)[0][-1] == 30


def test_the_plan_items_booked_on_a_visit_are_performed_at_their_agreed_price(clinic):
    plan = clinic.accepted(
        clinic.plan([("Fillings", [
            ItemInput(clinic.filling.pk, teeth=(16,), surfaces="MO", discount=Decimal("50000"),
                      discount_reason="Loyal patient"),
            ItemInput(clinic.filling.pk, teeth=(17,), unit_price=Decimal("450000")),
            ItemInput(clinic.crown.pk, teeth=(26,)),
        ])])
    )  # fmt: skip
    first, second, crown = items_of(plan)
    visit = booked_and_seated(clinic, first, local(8, 9))
    second.appointment, second.status = visit, ItemStatus.SCHEDULED
    second.save()

    complete_visit(actor=clinic.doctor, appointment=visit, now=local(8, 9, 45))

    assert performed_rows(visit) == [
        ("FILL", first.pk, [16], "MO", 1, Decimal("500000"), Decimal("50000"), Decimal("450000"), 23),
        ("FILL", second.pk, [17], "", 1, Decimal("450000"), Decimal("0"), Decimal("450000"), 22),
    ]  # fmt: skip
    assert [(i.status, i.completed_at) for i in items_of(plan)] == [
        (ItemStatus.COMPLETED, local(8, 9, 45)), (ItemStatus.COMPLETED, local(8, 9, 45)),
        (ItemStatus.PLANNED, None),
    ]  # fmt: skip
    plan.refresh_from_db()
    assert plan.status == PlanStatus.IN_PROGRESS

    crown_visit = booked_and_seated(clinic, crown, local(9, 9))
    complete_visit(actor=clinic.doctor, appointment=crown_visit, now=local(9, 10))
    plan.refresh_from_db()
    assert (plan.status, plan.completed_at) == (PlanStatus.COMPLETED, local(9, 10))
    statuses = AuditEvent.objects.filter(
        object_type="clinical.treatmentplan", object_id=str(plan.pk)
    ).order_by("pk")
    assert [e.changes.get("status") for e in statuses][-2:] == [
        ["accepted", "in_progress"], ["in_progress", "completed"],
    ]  # fmt: skip


def test_records_what_was_actually_done_when_told(clinic):
    plan = clinic.accepted()
    second = items_of(plan)[1]
    visit = clinic.seated(local(7, 9))

    rows = complete_visit(
        actor=clinic.doctor, appointment=visit, now=local(7, 10),
        performed=[
            PerformedInput(clinic.filling.pk, plan_item_id=second.pk, surfaces="O"),
            PerformedInput(clinic.checkup.pk, unit_price=Decimal("0"), chair_minutes=10,
                           notes="Free check-up"),
            PerformedInput(clinic.crown.pk, teeth=(11,), quantity=2, discount=Decimal("1000000")),
        ],
    )  # fmt: skip

    assert performed_rows(visit) == [
        ("FILL", second.pk, [17], "O", 1, Decimal("500000"), Decimal("0"), Decimal("500000"), 30),
        ("CHECK", None, [], "", 1, Decimal("0"), Decimal("0"), Decimal("0"), 10),
        ("CROWN", None, [11], "", 2, Decimal("5000000"), Decimal("1000000"), Decimal("9000000"), 30),
    ]  # fmt: skip
    assert rows[1].notes == "Free check-up"
    assert [i.status for i in items_of(plan)] == [ItemStatus.PLANNED, ItemStatus.COMPLETED]
    second.refresh_from_db()
    assert second.appointment == visit


# --- who may change the price ------------------------------------------------------------------
def discounted_visit(clinic) -> tuple:
    """A seated visit doing a filling agreed at 450,000 (500,000 less 50,000)."""
    plan = clinic.accepted(
        clinic.plan([("Filling", [
            ItemInput(clinic.filling.pk, teeth=(16,), discount=Decimal("50000"),
                      discount_reason="Loyal patient"),
        ])])
    )  # fmt: skip
    item = items_of(plan)[0]
    return booked_and_seated(clinic, item, local(8, 9)), item


def test_the_front_desk_records_the_agreed_price_and_discount(clinic):
    visit, item = discounted_visit(clinic)

    complete_visit(
        actor=clinic.receptionist, appointment=visit, now=local(8, 9, 30),
        performed=[PerformedInput(clinic.filling.pk, plan_item_id=item.pk,
                                  unit_price=Decimal("500000"), discount=None)],
    )  # fmt: skip

    assert [r[5:8] for r in performed_rows(visit)] == [
        (Decimal("500000"), Decimal("50000"), Decimal("450000"))
    ]


@pytest.mark.parametrize(
    ("entry", "errors"),
    [
        ({"unit_price": Decimal("400000")}, {"performed.0.unit_price": [
            "You may not change the price of a procedure: leave it empty."]}),
        ({"discount": Decimal("0")}, {"performed.0.discount": [
            "You may not give or change a discount: leave it empty."]}),
        ({"discount": Decimal("450000")}, {"performed.0.discount": [
            "You may not give or change a discount: leave it empty."]}),
    ],
)  # fmt: skip
def test_the_front_desk_may_not_change_a_visits_price_or_discount(clinic, entry, errors):
    visit, item = discounted_visit(clinic)
    performed = [PerformedInput(clinic.filling.pk, plan_item_id=item.pk, **entry)]

    assert (
        refused(complete_visit, actor=clinic.receptionist, appointment=visit, performed=performed)
        == errors
    )
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.SEATED


def test_the_front_desk_may_not_price_a_procedure_added_on_the_spot(clinic):
    visit = clinic.seated(local(7, 9))
    performed = [PerformedInput(clinic.crown.pk, unit_price=Decimal("1"), discount=Decimal("1"))]

    assert refused(
        complete_visit, actor=clinic.receptionist, appointment=visit, performed=performed
    ) == {
        "performed.0.unit_price": ["You may not change the price of a procedure: leave it empty."],
        "performed.0.discount": ["You may not give or change a discount: leave it empty."],
    }


def test_treatment_edit_or_money_adjust_may_change_a_visits_price(clinic, monkeypatch):
    visit, item = discounted_visit(clinic)
    complete_visit(
        actor=clinic.doctor, appointment=visit, now=local(8, 9, 30),
        performed=[PerformedInput(clinic.filling.pk, plan_item_id=item.pk,
                                  unit_price=Decimal("400000"), discount=Decimal("0"))],
    )  # fmt: skip
    front_desk = ROLE_CAPABILITIES[Role.RECEPTIONIST] | {Capability.MONEY_ADJUST}
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.RECEPTIONIST, front_desk)
    other = clinic.seated(local(9, 9))
    complete_visit(
        actor=clinic.receptionist, appointment=other, now=local(9, 9, 30),
        performed=[PerformedInput(clinic.filling.pk, discount=Decimal("100000"))],
    )  # fmt: skip

    assert [r[5:8] for r in performed_rows(visit) + performed_rows(other)] == [
        (Decimal("400000"), Decimal("0"), Decimal("400000")),
        (Decimal("500000"), Decimal("100000"), Decimal("400000")),
    ]


# --- refusals -------------------------------------------------------------------------------
def test_only_a_seated_visit_completes(clinic):
    visit = clinic.seated(local(7, 9), status=AppointmentStatus.ARRIVED)
    assert refused(complete_visit, actor=clinic.doctor, appointment=visit) == {
        "status": ["The appointment is “Arrived”, so it cannot be completed."]
    }
    visit.refresh_from_db()
    assert (visit.status, visit.completed_at) == (AppointmentStatus.ARRIVED, None)


def test_refuses_plan_items_not_open_on_an_accepted_plan_of_this_patient(clinic, world):
    theirs = clinic.accepted(clinic.plan(patient=clinic.other_patient))
    proposed = clinic.plan()
    mine = clinic.accepted()
    done = items_of(mine)[0]
    done.status = ItemStatus.COMPLETED
    done.save()
    visit = clinic.seated(local(7, 9))
    performed = [
        PerformedInput(clinic.filling.pk, plan_item_id=items_of(theirs)[0].pk),
        PerformedInput(clinic.filling.pk, plan_item_id=items_of(proposed)[0].pk),
        PerformedInput(clinic.filling.pk, plan_item_id=done.pk),
        PerformedInput(clinic.crown.pk, plan_item_id=items_of(mine)[1].pk),
        PerformedInput(clinic.filling.pk, plan_item_id=999999),
    ]
    assert refused(complete_visit, actor=clinic.doctor, appointment=visit, performed=performed) == {
        "performed.0.plan_item_id": ["No such plan item for this patient."],
        "performed.1.plan_item_id": ["This plan item is not on an accepted plan."],
        "performed.2.plan_item_id": ["This plan item is already “Completed”."],
        "performed.3.procedure_id": ["This plan item is for another procedure."],
        "performed.4.plan_item_id": ["No such plan item for this patient."],
    }
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.SEATED


def test_refuses_the_same_plan_item_twice(clinic):
    item = items_of(clinic.accepted())[0]
    visit = clinic.seated(local(7, 9))
    twice = [PerformedInput(clinic.filling.pk, plan_item_id=item.pk)] * 2
    assert refused(complete_visit, actor=clinic.doctor, appointment=visit, performed=twice) == {
        "performed.1.plan_item_id": ["This plan item is recorded twice."]
    }


@pytest.mark.parametrize(
    ("entry", "errors"),
    [
        ({"teeth": (19,)}, {"performed.0.teeth": ["19 is not a tooth in FDI notation."]}),
        ({"quantity": 0}, {"performed.0.quantity": ["Give a quantity from 1 to 999."]}),
        ({"discount": Decimal("500001")}, {"performed.0.discount": [
            "The discount (500001) is more than the price (500000)."]}),
        ({"chair_minutes": 0}, {"performed.0.chair_minutes": [
            "Give the chair time in minutes, from 1 to 1440."]}),
        ({"procedure_id": 999999}, {"performed.0.procedure_id": ["No such procedure."]}),
    ],
)  # fmt: skip
def test_refuses_bad_performed_values_naming_them(clinic, entry, errors):
    visit = clinic.seated(local(7, 9))
    fields = {"procedure_id": clinic.filling.pk, **entry}
    performed = [PerformedInput(**fields)]
    assert (
        refused(complete_visit, actor=clinic.doctor, appointment=visit, performed=performed)
        == errors
    )


def test_refuses_an_empty_visit(clinic):
    visit = clinic.seated(local(7, 9))
    assert refused(complete_visit, actor=clinic.doctor, appointment=visit, performed=[]) == {
        "performed": ["Record at least one procedure performed."]
    }


def test_the_appointment_book_completes_through_the_clinic_services(clinic):
    """The step-by-step visit ends in production, as the status button does."""
    visit = clinic.seated(local(7, 9), status=AppointmentStatus.ARRIVED, seated_at=None)
    seat_appointment(actor=clinic.receptionist, appointment=visit, now=local(7, 9, 5))
    complete_visit_as_booked(actor=clinic.receptionist, appointment=visit, now=local(7, 9, 35))
    assert performed_rows(visit)[0][-1] == 30


# --- the ladder --------------------------------------------------------------------------------
def visit_doing(clinic, procedures, at: datetime, patient=None):
    visit = clinic.seated(at, patient=patient or clinic.patient)
    complete_visit(
        actor=clinic.doctor, appointment=visit, now=at + timedelta(minutes=30),
        performed=[PerformedInput(p.pk) for p in procedures],
    )  # fmt: skip
    return visit


def test_a_ladder_step_only_when_a_higher_tier_is_reached(clinic):
    visit_doing(clinic, [clinic.filling], local(7, 9))  # regular
    visit_doing(clinic, [clinic.checkup], local(8, 9))  # experience: lower, no step
    visit_doing(clinic, [clinic.filling], local(9, 9))  # regular again: no step
    last = visit_doing(clinic, [clinic.filling, clinic.implant, clinic.crown], local(10, 9))

    highest, steps = get_patient_ladder(patient=clinic.patient)
    assert [(s.previous_tier, s.tier, s.rank, s.reached_at) for s in steps] == [
        ("", "regular", 3, local(7, 9, 30)), ("regular", "brand", 6, local(10, 9, 30)),
    ]  # fmt: skip
    assert highest == steps[-1]
    assert highest.performed == PerformedProcedure.objects.get(
        appointment=last, procedure=clinic.implant
    )
    assert get_patient_ladder(patient=clinic.other_patient) == (None, [])


def test_the_ladder_report_counts_moves_per_month_and_patients_per_tier(clinic, world):
    third = PatientFactory(home_branch=clinic.branch)
    visit_doing(clinic, [clinic.checkup], local(7, 9))
    visit_doing(clinic, [clinic.filling], local(8, 9), patient=clinic.other_patient)
    visit_doing(clinic, [clinic.crown], local(5, 9, month=2))
    visit_doing(clinic, [clinic.crown], local(6, 9, month=2), patient=clinic.other_patient)
    visit_doing(clinic, [clinic.checkup], local(1, 9, month=3), patient=third)
    PatientFactory(home_branch=world.branch_b)  # another branch's: not counted

    report = get_ladder_report(branch=clinic.branch, start=date(2030, 1, 1), end=date(2030, 2, 28))

    assert [(m.month, m.from_tier, m.to_tier, m.patients) for m in report.moves] == [
        (date(2030, 1, 1), "", "experience", 1), (date(2030, 1, 1), "", "regular", 1),
        (date(2030, 2, 1), "experience", "flagship", 1), (date(2030, 2, 1), "regular", "flagship", 1),
    ]  # fmt: skip
    assert report.total_moves == 4
    assert report.tiers == [
        ("", 1), ("experience", 0), ("conversion", 0), ("regular", 0), ("flagship", 2),
        ("word_of_mouth", 0), ("brand", 0),
    ]  # fmt: skip
    january = get_ladder_report(branch=clinic.branch, start=date(2030, 1, 1), end=date(2030, 1, 31))
    assert dict(january.tiers)["experience"] == 1 and dict(january.tiers)["regular"] == 1


def test_the_ladder_report_reads_the_branchs_calendar_months(clinic):
    # 31 January 23:30 in Ho Chi Minh City is still January there (16:30 UTC).
    visit_doing(clinic, [clinic.checkup], local(31, 23, 0) - timedelta(minutes=30))
    report = get_ladder_report(branch=clinic.branch, start=date(2030, 1, 1), end=date(2030, 1, 31))
    assert [(m.month, m.to_tier) for m in report.moves] == [(date(2030, 1, 1), "experience")]


def test_ladder_queries_do_not_grow_with_patients(clinic, django_assert_num_queries):
    for day in range(7, 10):
        patient = PatientFactory(home_branch=clinic.branch)
        visit_doing(clinic, [clinic.filling], local(day, 9), patient=patient)
    with django_assert_num_queries(2):
        get_ladder_report(branch=clinic.branch, start=date(2030, 1, 1), end=date(2030, 1, 31))


# --- what is left to invoice -------------------------------------------------------------------
def test_lists_performed_procedures_not_on_a_live_invoice(clinic):
    first = visit_doing(clinic, [clinic.filling, clinic.checkup], local(7, 9))
    filling, checkup = PerformedProcedure.objects.filter(appointment=first).order_by("pk")

    invoice = Invoice.objects.create(
        branch=clinic.branch, patient=clinic.patient, number="INV-1", currency="VND",
        issued_at=NOW, issued_on=date(2030, 1, 7), due_on=date(2030, 1, 7),
    )  # fmt: skip
    line = InvoiceLine.objects.create(
        invoice=invoice, kind="procedure", performed=filling, description="Filling",
        unit_price=filling.unit_price, amount=filling.amount,
    )  # fmt: skip

    assert list(list_uninvoiced_performed(patient=clinic.patient, branch=clinic.branch)) == [
        checkup
    ]
    line.is_void = True
    line.save()
    assert list(list_uninvoiced_performed(patient=clinic.patient, branch=clinic.branch)) == [
        filling, checkup,
    ]  # fmt: skip
    assert list(list_uninvoiced_performed(patient=clinic.other_patient, branch=clinic.branch)) == []
