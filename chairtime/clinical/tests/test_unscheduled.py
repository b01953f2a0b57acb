"""The unscheduled treatment list: accepted procedures nobody has booked yet, the money a
clinic is leaving on the table. Each filter gives exact rows and totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chairtime.clinical.models import ItemStatus
from chairtime.clinical.selectors import get_plan_summary, list_unscheduled_treatment
from chairtime.clinical.services import ItemInput, book_plan_item, decline_plan
from chairtime.clinical.tests.clinic_world import NOW, Clinic, items_of, local, make_clinic
from chairtime.scheduling.choices import AppointmentStatus
from tests.factories import PatientFactory, make_doctor

TODAY = date(2030, 3, 1)


@pytest.fixture
def clinic(world, persona) -> Clinic:
    return make_clinic(world, persona)


@pytest.fixture
def book(clinic, world):
    """Plans accepted at different times, worth different amounts, with two doctors.

    - crowns: 2 crowns (10,000,000), accepted 1 Feb (28 days old), doctor An
    - implant: 20,000,000 accepted 1 Jan (59 days), doctor Bình
    - fillings: 2 fillings, one booked → 500,000 left, accepted 27 Feb (2 days), doctor An
    - rebook: a filling whose appointment was cancelled → 500,000, accepted 7 Jan (53 days)
    Not listed: a proposed plan, a declined one, one with everything booked, one of branch B.
    """
    other_doctor = make_doctor(clinic.branch, first_name="Bình", last_name="Lê")

    def accepted(items, accepted_at, doctor=None, patient=None):
        plan = clinic.plan(
            [("Option", items)], patient=patient or PatientFactory(home_branch=clinic.branch),
            doctor=doctor or clinic.doctor, now=accepted_at,
        )  # fmt: skip
        return clinic.accepted(plan, now=accepted_at)

    plans = {
        "crowns": accepted([ItemInput(clinic.crown.pk, teeth=(t,)) for t in (11, 21)],
                           local(1, 10, month=2)),
        "implant": accepted([ItemInput(clinic.implant.pk, teeth=(36,))], local(1, 8),
                            doctor=other_doctor),
        "fillings": accepted(clinic.fillings(16, 17), local(27, 18, month=2)),
        "rebook": accepted(clinic.fillings(26), local(7, 11)),
        "all_booked": accepted(clinic.fillings(46), local(2, 9, month=2)),
    }  # fmt: skip
    schedule = {
        "fillings": (items_of(plans["fillings"])[0], local(4, 9, month=3)),
        "rebook": (items_of(plans["rebook"])[0], local(4, 10, month=3)),
        "all_booked": (items_of(plans["all_booked"])[0], local(4, 11, month=3)),
    }
    for key, (item, starts_at) in schedule.items():
        appointment = book_plan_item(
            actor=clinic.receptionist, item=item, doctor=clinic.doctor, chair=clinic.chair,
            starts_at=starts_at, now=local(1, 8, month=3),
        )  # fmt: skip
        if key == "rebook":
            appointment.status = AppointmentStatus.CANCELLED
            appointment.save()
    clinic.plan(now=local(1, 8, month=2))  # proposed
    decline_plan(actor=clinic.consultant, plan=clinic.plan(now=local(1, 8, month=2)), reason="No")
    b_doctor = make_doctor(world.branch_b)
    from chairtime.clinical.services import accept_option, create_plan

    theirs = create_plan(
        actor=clinic.consultant, branch=world.branch_b, patient=clinic.patient, title="B",
        doctor=b_doctor, options=[("One", [ItemInput(clinic.implant.pk, unit_price=Decimal("1"))])],
        now=NOW,
    )  # fmt: skip
    accept_option(
        actor=clinic.consultant, option=theirs.options.get(), method="verbal", witness=b_doctor,
        now=NOW,
    )  # fmt: skip
    plans["other_doctor"] = other_doctor  # type: ignore[assignment]
    return plans


def listed(branch, **filters):
    found = list_unscheduled_treatment(branch=branch, today=TODAY, **filters)
    return (
        [(row.plan.pk, row.value, row.age_days) for row in found.rows],
        found.count,
        found.total_value,
    )


def test_lists_accepted_items_still_to_book_by_value(clinic, book):
    rows, count, total = listed(clinic.branch)
    assert rows == [
        (book["implant"].pk, Decimal("20000000"), 59),
        (book["crowns"].pk, Decimal("10000000"), 28),
        (book["rebook"].pk, Decimal("500000"), 53),
        (book["fillings"].pk, Decimal("500000"), 2),
    ]
    assert (count, total) == (4, Decimal("31000000"))
    found = list_unscheduled_treatment(branch=clinic.branch, today=TODAY)
    fillings = found.rows[3]
    assert (fillings.patient, fillings.option.label, fillings.accepted_at) == (
        book["fillings"].patient, "Option", local(27, 18, month=2),
    )  # fmt: skip
    assert [(i.teeth, i.status) for i in fillings.items] == [([17], ItemStatus.PLANNED)]
    assert [(i.teeth, i.status) for i in found.rows[2].items] == [([26], ItemStatus.SCHEDULED)]


@pytest.mark.parametrize(
    ("filters", "keys", "total"),
    [
        ({"min_value": Decimal("10000000")}, ["implant", "crowns"], "30000000"),
        ({"min_value": Decimal("10000001")}, ["implant"], "20000000"),
        ({"min_age_days": 28}, ["implant", "crowns", "rebook"], "30500000"),
        ({"min_age_days": 29}, ["implant", "rebook"], "20500000"),
        ({"max_age_days": 28}, ["crowns", "fillings"], "10500000"),
        ({"max_age_days": 27}, ["fillings"], "500000"),
        ({"min_age_days": 28, "max_age_days": 53}, ["crowns", "rebook"], "10500000"),
        ({"max_age_days": 0}, [], "0"),
    ],
)
def test_filters_by_value_and_age(clinic, book, filters, keys, total):
    rows, count, found_total = listed(clinic.branch, **filters)
    assert [pk for pk, _value, _age in rows] == [book[key].pk for key in keys]
    assert (count, found_total) == (len(keys), Decimal(total))


def test_filters_by_doctor(clinic, book):
    rows, count, total = listed(clinic.branch, doctor_id=book["other_doctor"].pk)
    assert ([pk for pk, *_ in rows], count, total) == (
        [book["implant"].pk], 1, Decimal("20000000"),
    )  # fmt: skip
    rows, count, total = listed(clinic.branch, doctor_id=clinic.doctor.pk)
    assert (count, total) == (3, Decimal("11000000"))


def test_a_page_keeps_the_full_count_and_total(clinic, book):
    found = list_unscheduled_treatment(branch=clinic.branch, today=TODAY, limit=2, offset=1)
    assert [row.plan.pk for row in found.rows] == [book["crowns"].pk, book["rebook"].pk]
    assert (found.count, found.total_value) == (4, Decimal("31000000"))


def test_another_branch_sees_only_its_own(clinic, book, world):
    rows, count, total = listed(world.branch_b)
    assert (len(rows), count, total) == (1, 1, Decimal("1"))


def test_a_fixed_number_of_queries_whatever_the_rows(clinic, book, django_assert_num_queries):
    with django_assert_num_queries(3):
        found = list_unscheduled_treatment(branch=clinic.branch, today=TODAY)
        for row in found.rows:
            _ = (row.patient.display_name, row.plan.doctor.username, row.plan.title)
            _ = [item.procedure.code for item in row.items]
    with django_assert_num_queries(2):  # empty: the totals, then the page
        list_unscheduled_treatment(branch=clinic.branch, today=TODAY, min_value=Decimal("1e11"))


def test_the_plan_summary_puts_options_side_by_side(clinic, book, django_assert_num_queries):
    plan = book["fillings"]
    with django_assert_num_queries(3):  # the plan, its options, their items
        summary = get_plan_summary(plan=plan)
    option = summary.accepted
    assert option is not None and summary.currency == "VND"
    assert [(p.phase, [i.teeth for i in p.items], p.total) for p in option.phases] == [
        (1, [[16], [17]], Decimal("1000000"))
    ]
    assert (option.subtotal, option.discount, option.total) == (
        Decimal("1000000"), Decimal("0"), Decimal("1000000"),
    )  # fmt: skip
    assert (option.scheduled_value, option.completed_value, option.unscheduled_value) == (
        Decimal("500000"), Decimal("0"), Decimal("500000"),
    )  # fmt: skip
    rebook = get_plan_summary(plan=book["rebook"]).options[0]
    assert (rebook.scheduled_value, rebook.unscheduled_value) == (Decimal("0"), Decimal("500000"))


def test_summary_phases_discounts_and_cancelled_items(clinic):
    from chairtime.clinical.services import cancel_item

    plan = clinic.accepted(
        clinic.plan([("Full", [
            ItemInput(clinic.crown.pk, teeth=(11,), phase=2, discount=Decimal("500000"),
                      discount_reason="Loyal patient"),
            ItemInput(clinic.filling.pk, teeth=(16,), quantity=2),
            ItemInput(clinic.checkup.pk),
        ])])
    )  # fmt: skip
    cancel_item(actor=clinic.doctor, item=items_of(plan)[2], reason="Done elsewhere", now=NOW)
    option = get_plan_summary(plan=plan).options[0]
    assert [(p.phase, [i.procedure.code for i in p.items], p.total) for p in option.phases] == [
        (1, ["FILL", "CHECK"], Decimal("1000000")), (2, ["CROWN"], Decimal("4500000")),
    ]  # fmt: skip
    assert (option.subtotal, option.discount, option.total) == (
        Decimal("6000000"), Decimal("500000"), Decimal("5500000"),
    )  # fmt: skip
