"""Treatment plans through their services: proposing, changing, accepting, declining,
expiring, cancelling and booking items; every refusal names its field and changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django_q.models import Schedule

from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import (
    AcceptanceMethod,
    ItemStatus,
    OptionStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.clinical.services import (
    ItemInput,
    accept_option,
    add_item,
    add_option,
    book_plan_item,
    cancel_item,
    create_plan,
    decline_plan,
    expire_plans,
    remove_item,
)
from chairtime.clinical.tasks import expire_plans_task
from chairtime.clinical.tests.clinic_world import (
    NOW,
    PNG,
    Clinic,
    counts,
    items_of,
    local,
    make_clinic,
)
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.tenancy.roles import Role
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    ProcedureFactory,
    make_doctor,
)


@pytest.fixture
def clinic(world, persona) -> Clinic:
    return make_clinic(world, persona)


def refused(call, **kwargs) -> dict[str, list[str]]:
    before = counts()
    with pytest.raises(InvalidInput) as refusal:
        call(**kwargs)
    assert counts() == before
    return refusal.value.errors


def events(target) -> list[tuple[str, dict]]:
    return [
        (e.action, e.changes)
        for e in AuditEvent.objects.filter(
            object_type=target._meta.label_lower, object_id=str(target.pk)
        ).order_by("pk")
    ]


# --- proposing ------------------------------------------------------------------------------
def test_proposes_a_plan_with_options_and_priced_items(clinic):
    plan = clinic.plan(
        [
            ("Implant", [ItemInput(clinic.implant.pk, teeth=(36,), discount=Decimal("1000000"),
                                   discount_reason="Loyal patient")]),
            ("Bridge", [ItemInput(clinic.crown.pk, teeth=(35, 36, 37), quantity=3, phase=2),
                        ItemInput(clinic.filling.pk, teeth=(35,), surfaces="mod",
                                  unit_price=Decimal("450000"))]),
        ],
        title="Missing 36",
    )  # fmt: skip

    assert (plan.status, plan.title, plan.doctor, plan.consultant) == (
        PlanStatus.PROPOSED, "Missing 36", clinic.doctor, clinic.consultant,
    )  # fmt: skip
    assert (plan.presented_at, plan.expires_on) == (NOW, date(2030, 4, 7))
    options = list(plan.options.order_by("position").values_list("label", "position", "status"))
    assert options == [("Implant", 1, "open"), ("Bridge", 2, "open")]
    assert [
        (i.option.label, i.phase, i.position, i.procedure.code, i.teeth, i.surfaces, i.quantity,
         i.unit_price, i.discount, i.discount_reason, i.amount, i.status)
        for i in items_of(plan)
    ] == [
        ("Implant", 1, 1, "IMPL", [36], "", 1, Decimal("20000000"), Decimal("1000000"),
         "Loyal patient", Decimal("19000000"), "planned"),
        ("Bridge", 2, 1, "CROWN", [35, 36, 37], "", 3, Decimal("5000000"), Decimal("0"), "",
         Decimal("15000000"), "planned"),
        ("Bridge", 1, 2, "FILL", [35], "MOD", 1, Decimal("450000"), Decimal("0"), "",
         Decimal("450000"), "planned"),
    ]  # fmt: skip
    assert events(plan) == [
        ("create", {"status": [None, "proposed"], "expires_on": [None, "2030-04-07"]})
    ]
    assert (
        AuditEvent.objects.filter(patient_id=clinic.patient.pk, actor=clinic.consultant).count()
        == 6
    )


def test_a_plan_expires_after_the_branchs_validity_from_its_local_date(clinic):
    clinic.branch.plan_validity_days = 30
    clinic.branch.save()
    # 23:30 UTC on the 7th is already the 8th in Ho Chi Minh City.
    plan = clinic.plan(now=datetime.fromisoformat("2030-01-07T23:30:00+00:00"))
    assert plan.expires_on == date(2030, 2, 7)


def _item(clinic, **changes) -> list[tuple[str, list[ItemInput]]]:
    fields = {"procedure_id": clinic.filling.pk, "teeth": (16,), **changes}
    return [("Fillings", [ItemInput(**fields)])]


FIELD = "options.0.items.0."


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"teeth": (16, 19)}, {f"{FIELD}teeth": ["19 is not a tooth in FDI notation."]}),
        ({"surfaces": "MX"}, {f"{FIELD}surfaces": [
            "X is not a tooth surface; use the letters M O D B L I F."]}),
        ({"teeth": (), "surfaces": "O"}, {f"{FIELD}surfaces": [
            "Give the teeth these surfaces are on."]}),
        ({"quantity": 0}, {f"{FIELD}quantity": ["Give a quantity from 1 to 999."]}),
        ({"phase": 0}, {f"{FIELD}phase": ["Give a phase from 1 to 99."]}),
        ({"discount": Decimal("500001"), "discount_reason": "Friend"}, {f"{FIELD}discount": [
            "The discount (500001) is more than the price (500000)."]}),
        ({"quantity": 2, "discount": Decimal("1000001"), "discount_reason": "Friend"},
         {f"{FIELD}discount": ["The discount (1000001) is more than the price (1000000)."]}),
        ({"discount": Decimal("1"), "discount_reason": "  "}, {f"{FIELD}discount_reason": [
            "Say why the discount is given."]}),
        ({"discount": Decimal("-1")}, {f"{FIELD}discount": ["The amount cannot be negative."]}),
        ({"unit_price": Decimal("100.5")}, {f"{FIELD}unit_price": [
            "VND has no minor unit: give a whole amount."]}),
        ({"procedure_id": 999999}, {f"{FIELD}procedure_id": ["No such procedure."]}),
        ({"discount_reason": "x" * 201}, {f"{FIELD}discount_reason": [
            "At most 200 characters."]}),
    ],
)  # fmt: skip
def test_refuses_a_bad_item_naming_its_field(clinic, changes, errors):
    assert refused(clinic.plan, options=_item(clinic, **changes)) == errors


def test_refuses_a_procedure_of_another_organisation_or_retired(clinic, world):
    theirs = ProcedureFactory(organization=world.rival)
    retired = ProcedureFactory(organization=world.acme, is_active=False)
    for procedure in (theirs, retired):
        assert refused(clinic.plan, options=_item(clinic, procedure_id=procedure.pk)) == {
            f"{FIELD}procedure_id": ["No such procedure."]
        }


def test_refuses_a_procedure_without_a_price_unless_one_is_given(clinic, world):
    unpriced = ProcedureFactory(organization=world.acme, code="NEW")
    assert refused(clinic.plan, options=_item(clinic, procedure_id=unpriced.pk)) == {
        f"{FIELD}unit_price": ["NEW has no price in this branch: give one."]
    }
    plan = clinic.plan(_item(clinic, procedure_id=unpriced.pk, unit_price=Decimal("0")))
    assert [i.amount for i in items_of(plan)] == [Decimal("0")]


def test_refuses_a_plan_without_title_options_or_clinicians_of_the_branch(clinic, world):
    elsewhere = make_doctor(world.branch_b)
    errors = refused(
        create_plan, actor=clinic.consultant, branch=clinic.branch, patient=clinic.patient,
        title=" ", doctor=elsewhere, consultant=clinic.receptionist, options=[], now=NOW,
    )  # fmt: skip
    assert errors == {
        "title": ["Give the plan a title."],
        "doctor": ["This doctor does not work in this branch."],
        "consultant": ["This consultant does not work in this branch."],
        "options": ["Give at least one option."],
    }


def test_refuses_a_nurse_as_the_doctor_and_an_option_without_a_label(clinic):
    errors = refused(
        create_plan, actor=clinic.consultant, branch=clinic.branch, patient=clinic.patient,
        title="Plan", doctor=clinic.nurse, options=[("", clinic.fillings())], now=NOW,
    )  # fmt: skip
    assert errors == {
        "doctor": ["This doctor does not work in this branch."],
        "options.0.label": ["Name the option."],
    }


def test_refuses_a_patient_of_another_organisation(clinic, world):
    from tests.factories import PatientFactory

    stranger = PatientFactory(home_branch=world.rival_branch)
    assert refused(clinic.plan, patient=stranger) == {"patient": ["No such patient."]}


# --- changing a proposed plan ----------------------------------------------------------------
def test_adds_options_and_items_and_removes_items_while_proposed(clinic):
    plan = clinic.plan()
    option = add_option(
        actor=clinic.consultant, plan=plan, label="Crowns",
        items=[ItemInput(clinic.crown.pk, teeth=(16,))],
    )  # fmt: skip
    item = add_item(
        actor=clinic.doctor, option=option, item=ItemInput(clinic.crown.pk, teeth=(17,))
    )
    first = items_of(plan)[0]
    remove_item(actor=clinic.doctor, item=first)

    assert (option.position, option.label) == (2, "Crowns")
    assert (item.position, item.amount) == (2, Decimal("5000000"))
    assert [(i.option.label, i.teeth) for i in items_of(plan)] == [
        ("Fillings", [17]), ("Crowns", [16]), ("Crowns", [17]),
    ]  # fmt: skip
    assert events(first) == [
        ("create", {"amount": [None, "500000"], "teeth": [None, [16]]}),
        ("delete", {"amount": ["500000.00", None]}),
    ]


def test_refuses_bad_items_when_adding(clinic):
    plan = clinic.plan()
    option = plan.options.get()
    assert refused(
        add_item, actor=clinic.doctor, option=option, item=ItemInput(clinic.filling.pk, teeth=(99,))
    ) == {"teeth": ["99 is not a tooth in FDI notation."]}
    assert refused(
        add_option, actor=clinic.doctor, plan=plan, label="More",
        items=[ItemInput(clinic.filling.pk, quantity=0)],
    ) == {"items.0.quantity": ["Give a quantity from 1 to 999."]}  # fmt: skip


def test_an_accepted_plan_no_longer_changes(clinic):
    plan = clinic.accepted()
    option = plan.options.get()
    message = {"status": ["The plan is “Accepted”, so it cannot be changed."]}
    assert refused(add_option, actor=clinic.doctor, plan=plan, label="B", items=[]) == message
    assert (
        refused(add_item, actor=clinic.doctor, option=option, item=ItemInput(clinic.filling.pk))
        == message
    )
    assert refused(remove_item, actor=clinic.doctor, item=items_of(plan)[0]) == message


# --- accepting and declining ----------------------------------------------------------------
def test_accepting_one_option_signed_declines_the_others(clinic):
    plan = clinic.plan([("Implant", [ItemInput(clinic.implant.pk, teeth=(36,))]),
                        ("Bridge", [ItemInput(clinic.crown.pk, teeth=(35, 37), quantity=2)])])  # fmt: skip
    bridge = plan.options.get(label="Bridge")
    later = NOW + timedelta(days=3)

    accepted = accept_option(
        actor=clinic.receptionist, option=bridge, method=AcceptanceMethod.SIGNATURE,
        signature=PNG, signed_name=" Nguyễn Văn An ", note="Prefers no surgery", now=later,
    )  # fmt: skip

    accepted.refresh_from_db()
    assert (accepted.status, accepted.accepted_at, accepted.accepted_by) == (
        PlanStatus.ACCEPTED, later, clinic.receptionist,
    )  # fmt: skip
    assert (accepted.acceptance_method, accepted.signature, accepted.signed_name) == (
        "signature", PNG, "Nguyễn Văn An",
    )  # fmt: skip
    assert (accepted.verbal_witness, accepted.acceptance_note) == (None, "Prefers no surgery")
    assert dict(plan.options.values_list("label", "status")) == {
        "Implant": "declined", "Bridge": "accepted",
    }  # fmt: skip
    assert events(plan)[-1] == (
        "update",
        {"status": ["proposed", "accepted"], "option": [None, bridge.pk],
         "acceptance_method": [None, "signature"]},
    )  # fmt: skip


def test_accepting_verbally_records_the_witness(clinic):
    plan = clinic.accepted()
    assert (plan.acceptance_method, plan.verbal_witness, plan.signature) == (
        "verbal", clinic.nurse, "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"method": "nod"}, {"method": [
            "Choose how the patient accepted: signed or verbal consent."]}),
        ({"method": "signature", "signed_name": "An"}, {"signature": [
            "Give the signature as a PNG image (a data URL)."]}),
        ({"method": "signature", "signature": "data:image/jpeg;base64,/9j/", "signed_name": "An"},
         {"signature": ["Give the signature as a PNG image (a data URL)."]}),
        ({"method": "signature", "signature": "data:image/png;base64,AAAA", "signed_name": "An"},
         {"signature": ["Give the signature as a PNG image (a data URL)."]}),
        ({"method": "signature", "signature": PNG + "A" * 205_000, "signed_name": "An"},
         {"signature": ["The signature image is larger than 200 kB."]}),
        ({"method": "signature", "signature": PNG, "signed_name": " "}, {"signed_name": [
            "Give the name of who signed."]}),
        ({"method": "verbal"}, {"witness": [
            "Name the staff member who witnessed the consent."]}),
    ],
)  # fmt: skip
def test_refuses_an_acceptance_without_its_evidence(clinic, fields, errors):
    plan = clinic.plan()
    option = plan.options.get()
    assert (
        refused(accept_option, actor=clinic.consultant, option=option, now=NOW, **fields) == errors
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED


def test_refuses_a_witness_from_another_branch(clinic, world):
    plan = clinic.plan()
    elsewhere = make_doctor(world.branch_b)
    assert refused(
        accept_option, actor=clinic.consultant, option=plan.options.get(), method="verbal",
        witness=elsewhere, now=NOW,
    ) == {"witness": ["The witness does not work in this branch."]}  # fmt: skip


def test_refuses_accepting_an_expired_plan_even_before_the_sweep(clinic):
    plan = clinic.plan()
    assert plan.expires_on == date(2030, 4, 7)
    last_day = local(7, 23, 59, month=4)
    too_late = local(8, 0, 1, month=4)
    with pytest.raises(InvalidInput) as refusal:
        clinic.accepted(plan, now=too_late)
    assert refusal.value.errors == {"status": ["This plan expired on 2030-04-07."]}
    assert clinic.accepted(plan, now=last_day).status == PlanStatus.ACCEPTED


def test_refuses_accepting_twice_or_an_empty_option(clinic):
    plan = clinic.accepted()
    assert refused(
        accept_option, actor=clinic.consultant, option=plan.options.get(), method="verbal",
        witness=clinic.nurse, now=NOW,
    ) == {"status": ["The plan is “Accepted”, so it cannot be accepted."]}  # fmt: skip
    empty = clinic.plan([("Nothing yet", [])])
    assert refused(
        accept_option, actor=clinic.consultant, option=empty.options.get(), method="verbal",
        witness=clinic.nurse, now=NOW,
    ) == {"option": ["This option has no procedures to accept."]}  # fmt: skip


def test_declines_a_proposed_plan_with_a_reason(clinic):
    plan = clinic.plan()
    declined = decline_plan(actor=clinic.consultant, plan=plan, reason=" Too expensive ", now=NOW)
    declined.refresh_from_db()
    assert (declined.status, declined.declined_at, declined.decline_reason) == (
        PlanStatus.DECLINED, NOW, "Too expensive",
    )  # fmt: skip
    assert list(plan.options.values_list("status", flat=True)) == [OptionStatus.DECLINED]
    assert events(plan)[-1] == (
        "update", {"status": ["proposed", "declined"], "decline_reason": ["", "Too expensive"]},
    )  # fmt: skip


def test_refuses_declining_without_a_reason_or_once_accepted(clinic):
    plan = clinic.plan()
    assert refused(decline_plan, actor=clinic.consultant, plan=plan, reason=" ") == {
        "reason": ["Give the reason."]
    }
    clinic.accepted(plan)
    assert refused(decline_plan, actor=clinic.consultant, plan=plan, reason="No") == {
        "status": ["The plan is “Accepted”, so it cannot be declined."]
    }
    decline_free = clinic.plan()
    decline_plan(actor=clinic.consultant, plan=decline_free, reason="No")
    assert refused(
        accept_option, actor=clinic.consultant, option=decline_free.options.get(),
        method="verbal", witness=clinic.nurse,
    ) == {"status": ["The plan is “Declined”, so it cannot be accepted."]}  # fmt: skip


# --- expiring -------------------------------------------------------------------------------
def test_expires_proposed_plans_past_their_date_in_each_branchs_time_zone(clinic, world):
    los_angeles = BranchFactory(
        organization=world.acme, code="la", time_zone="America/Los_Angeles", currency="USD"
    )
    doctor_la = make_doctor(los_angeles)
    vietnam = clinic.plan(title="VN")  # expires on 2030-04-07
    accepted = clinic.accepted(clinic.plan(title="Accepted"))

    def la_plan(expires_on: date) -> TreatmentPlan:
        plan = create_plan(
            actor=clinic.consultant, branch=los_angeles, patient=clinic.patient, title="LA",
            doctor=doctor_la, options=[("One", [ItemInput(clinic.filling.pk, unit_price=Decimal("80"))])],
            now=NOW,
        )  # fmt: skip
        TreatmentPlan.objects.filter(pk=plan.pk).update(expires_on=expires_on)
        return plan

    la_yesterday, la_today = la_plan(date(2030, 4, 7)), la_plan(date(2030, 4, 8))
    # 18:00 UTC on 8 April: already the 9th in Vietnam, still the 8th in Los Angeles.
    sweep = datetime.fromisoformat("2030-04-08T18:00:00+00:00")

    assert expire_plans(now=sweep) == 2
    assert expire_plans(now=sweep) == 0
    statuses = dict(TreatmentPlan.objects.values_list("pk", "status"))
    assert statuses == {
        vietnam.pk: "expired", accepted.pk: "accepted", la_yesterday.pk: "expired",
        la_today.pk: "proposed",
    }  # fmt: skip
    vietnam.refresh_from_db()
    assert vietnam.expired_at == sweep
    assert list(vietnam.options.values_list("status", flat=True)) == ["declined"]
    last = AuditEvent.objects.filter(
        object_id=str(vietnam.pk), object_type="clinical.treatmentplan"
    )
    event = last.order_by("pk").last()
    assert (event.actor_id, event.changes) == (None, {"status": ["proposed", "expired"]})


def test_the_daily_task_expires_plans_and_is_scheduled(clinic, monkeypatch):
    from django.utils import timezone

    clinic.plan()
    monkeypatch.setattr(timezone, "now", lambda: local(9, 0, month=4))
    assert expire_plans_task() == 1
    schedule = Schedule.objects.get(name="expire treatment plans")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "chairtime.clinical.tasks.expire_plans_task", "D", -1,
    )  # fmt: skip


# --- cancelling and booking items of an accepted plan ------------------------------------------
def test_cancels_an_item_with_a_reason_and_completes_the_plan_when_nothing_is_left(clinic):
    plan = clinic.accepted()
    first, second = items_of(plan)
    cancel_item(actor=clinic.doctor, item=first, reason="Tooth extracted", now=NOW)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACCEPTED
    cancel_item(actor=clinic.doctor, item=second, reason="Patient moved", now=NOW)
    plan.refresh_from_db()
    assert (plan.status, plan.completed_at) == (PlanStatus.COMPLETED, NOW)
    assert [i.status for i in items_of(plan)] == [ItemStatus.CANCELLED, ItemStatus.CANCELLED]
    assert events(first)[-1] == (
        "update", {"status": ["planned", "cancelled"], "reason": [None, "Tooth extracted"]},
    )  # fmt: skip


def test_refuses_cancelling_without_reason_twice_or_on_a_proposed_plan(clinic):
    plan = clinic.accepted()
    first = items_of(plan)[0]
    assert refused(cancel_item, actor=clinic.doctor, item=first, reason="") == {
        "reason": ["Give the reason."]
    }
    cancel_item(actor=clinic.doctor, item=first, reason="No")
    assert refused(cancel_item, actor=clinic.doctor, item=first, reason="No") == {
        "item": ["This procedure is already “Cancelled”."]
    }
    proposed = clinic.plan()
    assert refused(cancel_item, actor=clinic.doctor, item=items_of(proposed)[0], reason="No") == {
        "status": ["The plan is “Proposed”, so it cannot be changed."]
    }


def test_books_an_item_and_links_it_to_the_appointment(clinic):
    plan = clinic.accepted()
    item = items_of(plan)[0]
    appointment = book_plan_item(
        actor=clinic.receptionist, item=item, doctor=clinic.doctor, chair=clinic.chair,
        starts_at=local(8, 9), now=NOW,
    )  # fmt: skip
    item.refresh_from_db()
    assert (item.status, item.appointment) == (ItemStatus.SCHEDULED, appointment)
    assert (appointment.patient, appointment.procedure, appointment.starts_at) == (
        clinic.patient, clinic.filling, local(8, 9),
    )  # fmt: skip
    assert events(item)[-1] == (
        "update", {"status": ["planned", "scheduled"], "appointment": [None, appointment.pk]},
    )  # fmt: skip
    assert refused(
        book_plan_item, actor=clinic.receptionist, item=item, doctor=clinic.doctor,
        chair=clinic.chair, starts_at=local(9, 9), now=NOW,
    ) == {"item": ["This procedure is already “Scheduled”."]}  # fmt: skip


def test_an_item_whose_appointment_was_cancelled_can_be_booked_again(clinic):
    plan = clinic.accepted()
    item = items_of(plan)[0]
    first = book_plan_item(
        actor=clinic.receptionist, item=item, doctor=clinic.doctor, chair=clinic.chair,
        starts_at=local(8, 9), now=NOW,
    )  # fmt: skip
    first.status = AppointmentStatus.CANCELLED
    first.save()
    again = book_plan_item(
        actor=clinic.receptionist, item=item, doctor=clinic.doctor, chair=clinic.chair,
        starts_at=local(9, 9), now=NOW,
    )  # fmt: skip
    item.refresh_from_db()
    assert (item.status, item.appointment) == (ItemStatus.SCHEDULED, again)


def test_a_taken_time_books_nothing_and_leaves_the_item_planned(clinic):
    plan = clinic.accepted()
    item = items_of(plan)[0]
    AppointmentFactory(
        branch=clinic.branch, patient=clinic.other_patient, procedure=clinic.filling,
        doctor=clinic.doctor, chair=clinic.chair, starts_at=local(8, 9),
    )  # fmt: skip
    before = counts()
    with pytest.raises(Conflict):
        book_plan_item(
            actor=clinic.receptionist, item=item, doctor=clinic.doctor, chair=clinic.chair,
            starts_at=local(8, 9), now=NOW,
        )  # fmt: skip
    assert counts() == before
    item.refresh_from_db()
    assert (item.status, item.appointment) == (ItemStatus.PLANNED, None)


def test_refuses_booking_an_item_of_a_proposed_plan_or_a_declined_option(clinic):
    proposed = clinic.plan()
    assert refused(
        book_plan_item, actor=clinic.receptionist, item=items_of(proposed)[0],
        doctor=clinic.doctor, chair=clinic.chair, starts_at=local(8, 9), now=NOW,
    ) == {"status": ["The plan is “Proposed”, so it cannot be booked."]}  # fmt: skip
    plan = clinic.plan([("A", clinic.fillings(16)), ("B", clinic.fillings(26))])
    clinic.accepted(plan)
    declined_item = TreatmentItem.objects.get(option__plan=plan, option__label="B")
    assert refused(
        book_plan_item, actor=clinic.receptionist, item=declined_item, doctor=clinic.doctor,
        chair=clinic.chair, starts_at=local(8, 9), now=NOW,
    ) == {"item": ["This procedure is not on the accepted option."]}  # fmt: skip


def test_a_consultant_persona_may_present(clinic, persona):
    manager = persona(Role.BRANCH_MANAGER)
    plan = create_plan(
        actor=manager, branch=clinic.branch, patient=clinic.patient, title="By the manager",
        doctor=clinic.doctor, consultant=manager, options=[("One", clinic.fillings())], now=NOW,
    )  # fmt: skip
    assert plan.consultant == manager
