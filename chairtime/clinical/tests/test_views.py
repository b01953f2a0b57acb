"""The treatment pages: a patient's plans (options side by side), changing, accepting,
declining and booking them, the printable plan, the unscheduled-treatment list, the
ladder report and completing a visit.

The clinic: branch A of acme (Ho Chi Minh City, VND), open Monday to Saturday, one chair,
one doctor (An Trần), a filling at 500,000 and a crown at 3,000,000.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.clinical.forms import PricedSelect
from chairtime.clinical.models import (
    ItemStatus,
    LadderStep,
    PerformedProcedure,
    PlanStatus,
    Procedure,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.clinical.services import ItemInput, accept_option, create_plan
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.services import arrive_appointment, seat_appointment
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    MembershipFactory,
    PatientFactory,
    ProcedureFactory,
    ProcedurePriceFactory,
    UserFactory,
    make_doctor,
    open_branch,
)

HTMX = {"HTTP_HX_REQUEST": "true"}
SIGNATURE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


def drawn_signature() -> str:
    """A whole PNG (40 × 20, black) as the signature pad sends it: a data URL."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + b"\x00\x00\x00" * 40 for _ in range(20))
    header = struct.pack(">IIBBBBB", 40, 20, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + body).decode()


@dataclass
class Clinic:
    branch: Branch
    doctor: User
    chair: Chair
    filling: Procedure
    crown: Procedure
    patient: Patient

    def plan(self, actor: User, *, items: int = 1, title: str = "Upper right") -> TreatmentPlan:
        """A proposed plan: option "Crown" (a crown on 16) and option "Filling" (`items`
        fillings on 16, 17 …)."""
        teeth = [16, 17, 15, 14, 13, 12, 11, 21, 22, 23]
        fillings = [ItemInput(procedure_id=self.filling.pk, teeth=(t,)) for t in teeth[:items]]
        return create_plan(
            actor=actor, branch=self.branch, patient=self.patient, title=title,
            doctor=self.doctor,
            options=[("Crown", [ItemInput(procedure_id=self.crown.pk, teeth=(16,))]),
                     ("Filling", fillings)],
        )  # fmt: skip

    def accepted_plan(self, actor: User, *, items: int = 1) -> TreatmentPlan:
        plan = self.plan(actor, items=items)
        option = plan.options.get(label="Filling")
        accept_option(
            actor=actor, option=option, method="signature", signature=SIGNATURE,
            signed_name="Nguyễn Thị Ánh",
        )  # fmt: skip
        plan.refresh_from_db()
        return plan


@pytest.fixture
def clinic(world: World) -> Clinic:
    branch = world.branch_a
    open_branch(branch)
    filling = ProcedureFactory(
        organization=world.acme, code="FIL", name="Filling", category="restorative",
        ladder_tier="regular", names={"vi": "Trám răng"},
    )  # fmt: skip
    crown = ProcedureFactory(
        organization=world.acme, code="CRN", name="Crown", category="restorative",
        ladder_tier="flagship", default_duration_minutes=60,
    )  # fmt: skip
    ProcedurePriceFactory(branch=branch, procedure=filling, price=500000)
    ProcedurePriceFactory(branch=branch, procedure=crown, price=3000000)
    return Clinic(
        branch=branch,
        doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        chair=ChairFactory(branch=branch, name="Chair 1"),
        filling=filling,
        crown=crown,
        patient=PatientFactory(
            home_branch=branch,
            family_name="Nguyễn",
            given_name="Thị Ánh",
            preferred_language="vi",
        ),
    )


@pytest.fixture
def consultant(persona) -> User:
    return persona(Role.CONSULTANT)


@pytest.fixture
def desk(persona, logged_in) -> Client:
    """The consultant of branch A: may see and change plans, and book."""
    return logged_in(persona(Role.CONSULTANT))


def plans_url(patient: Patient) -> str:
    return reverse("clinical:patient_plans", args=[patient.pk])


def text(response) -> str:
    return response.content.decode()


# --- the patient's plans ---------------------------------------------------------------------
def test_plan_page_shows_options_side_by_side_with_phases_and_totals(clinic, consultant, desk):
    plan = clinic.plan(consultant, items=2)

    response = desk.get(plans_url(clinic.patient))

    page = text(response)
    assert response.status_code == 200
    assert f'id="plan-{plan.pk}"' in page
    assert page.count('class="plan-option option-open"') == 2
    assert page.index(">Crown <") < page.index(">Filling <")
    assert "16, 17" not in page  # one tooth per filling
    assert "Phase 1" in page
    assert "3,000,000" in page and "1,000,000" in page  # the crown; two fillings
    assert reverse("clinical:plan_accept", args=[plan.pk]) in page
    assert reverse("clinical:item_add", args=[plan.pk, plan.options.first().pk]) in page


def test_plans_are_newest_first_and_only_the_active_branchs(world, clinic, consultant, desk):
    old = clinic.plan(consultant, title="First plan")
    new = clinic.plan(consultant, title="Second plan")
    TreatmentPlan.objects.filter(pk=old.pk).update(presented_at=new.presented_at.replace(year=2020))
    elsewhere = make_doctor(world.branch_b)
    other = create_plan(
        actor=consultant, branch=world.branch_b, patient=clinic.patient, title="In Hà Nội",
        doctor=elsewhere, options=[("Only", [])],
    )  # fmt: skip

    page = text(desk.get(plans_url(clinic.patient)))

    assert page.index("Second plan") < page.index("First plan")
    assert other.title not in page


def test_patient_detail_links_to_plans_for_those_who_may_see_them(clinic, persona, logged_in):
    detail = reverse("patients:patient_detail", args=[clinic.patient.pk])

    doctor_page = text(logged_in(persona(Role.DOCTOR)).get(detail))
    desk_page = text(logged_in(persona(Role.RECEPTIONIST)).get(detail))

    assert plans_url(clinic.patient) in doctor_page
    assert plans_url(clinic.patient) not in desk_page


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.MARKETER, Role.INVENTORY_CLERK])
def test_plan_pages_are_not_found_without_treatment_view(
    role, clinic, consultant, persona, logged_in
):
    plan = clinic.plan(consultant)
    client = logged_in(persona(role))

    for url in (
        plans_url(clinic.patient),
        reverse("clinical:plan_detail", args=[plan.pk]),
        reverse("clinical:plan_print", args=[plan.pk]),
        reverse("clinical:plan_pdf", args=[plan.pk]),
    ):
        assert client.get(url).status_code == 404


def test_outsider_and_other_branch_get_not_found(world, clinic, consultant, outsider, logged_in):
    plan = clinic.plan(consultant)
    plan_urls = [
        reverse("clinical:plan_detail", args=[plan.pk]),
        reverse("clinical:plan_print", args=[plan.pk]),
        reverse("clinical:plan_pdf", args=[plan.pk]),
        reverse("clinical:plan_accept", args=[plan.pk]),
    ]
    branch_b_doctor = UserFactory()
    MembershipFactory(user=branch_b_doctor, branch=world.branch_b, role=Role.DOCTOR)

    for url in [plans_url(clinic.patient), *plan_urls]:
        response = logged_in(outsider).get(url)
        assert response.status_code == 404
        assert plan.title not in text(response)
    for url in plan_urls:
        assert logged_in(branch_b_doctor).get(url).status_code == 404
    # The patient is the organisation's; branch B's page lists branch B's plans only.
    assert plan.title not in text(logged_in(branch_b_doctor).get(plans_url(clinic.patient)))


def test_nurse_reads_plans_but_sees_no_forms(clinic, consultant, persona, logged_in):
    plan = clinic.plan(consultant)

    page = text(logged_in(persona(Role.NURSE)).get(plans_url(clinic.patient)))

    assert plan.title in page
    assert reverse("clinical:plan_accept", args=[plan.pk]) not in page
    assert "New treatment plan" not in page


def test_nurse_cannot_create_a_plan(clinic, persona, logged_in):
    data = {"title": "Sneaky", "doctor": clinic.doctor.pk, "option_label": "A"}

    response = logged_in(persona(Role.NURSE)).post(plans_url(clinic.patient), data)

    assert response.status_code == 404
    assert not TreatmentPlan.objects.exists()


# --- creating and changing a plan ------------------------------------------------------------
def test_create_plan_through_the_page(clinic, desk):
    data = {"title": "Lower left", "doctor": clinic.doctor.pk, "option_label": "Implant"}

    response = desk.post(plans_url(clinic.patient), data)

    plan = TreatmentPlan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{plans_url(clinic.patient)}#plan-{plan.pk}"
    assert (plan.title, plan.doctor, plan.status) == ("Lower left", clinic.doctor, "proposed")
    assert [o.label for o in plan.options.all()] == ["Implant"]


def test_create_plan_refuses_a_missing_title(clinic, desk):
    data = {"title": "", "doctor": clinic.doctor.pk, "option_label": "Implant"}

    response = desk.post(plans_url(clinic.patient), data)

    assert response.status_code == 422
    assert "This field is required." in text(response)
    assert not TreatmentPlan.objects.exists()


def item_url(plan: TreatmentPlan, label: str = "Crown") -> str:
    return reverse("clinical:item_add", args=[plan.pk, plan.options.get(label=label).pk])


def test_add_item_takes_the_branch_price_when_none_is_typed(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    data = {"procedure": clinic.filling.pk, "teeth": "11 12, 21", "surfaces": "mo",
            "quantity": 3, "phase": 2, "unit_price": "", "discount": "100000",
            "discount_reason": "Loyal patient"}  # fmt: skip

    response = desk.post(item_url(plan), data)

    assert response.status_code == 302
    item = TreatmentItem.objects.get(option__label="Crown", procedure=clinic.filling)
    assert (item.teeth, item.surfaces, item.quantity, item.phase) == ([11, 12, 21], "MO", 3, 2)
    assert (item.unit_price, item.discount, item.amount) == (
        Decimal("500000"),
        Decimal("100000"),
        Decimal("1400000"),
    )


def test_add_item_form_offers_the_branch_prices(clinic, consultant, desk):
    plan = clinic.plan(consultant)

    page = text(desk.get(item_url(plan), **HTMX))

    assert f'value="{clinic.filling.pk}" data-price="500000"' in page  # VND: no minor unit
    assert "<html" not in page  # the dialog's content only


def test_the_price_hint_has_the_currencys_decimals():
    select = PricedSelect(prices={7: Decimal("12.5"), 8: Decimal("500000.00")}, currency="USD")
    vnd = PricedSelect(prices={8: Decimal("500000.00")}, currency="VND")

    def hint(widget: PricedSelect, key: int) -> str:
        return widget.create_option("procedure", key, "x", False, 0)["attrs"]["data-price"]

    assert (hint(select, 7), hint(select, 8), hint(vnd, 8)) == ("12.50", "500000.00", "500000")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"teeth": "11 19"}, "teeth", "19 is not a tooth in FDI notation."),
        ({"surfaces": "MX"}, "surfaces", "X is not a tooth surface"),
        ({"discount": "600000", "discount_reason": "Friend"}, "discount",
         "The discount is larger than the price."),
        ({"discount": "100000", "discount_reason": " "}, "discount_reason",
         "Say why the discount is given."),  # the service's rule, as for the API
        ({"unit_price": "12.5"}, "unit_price", "VND has no minor unit: give a whole amount."),
        ({"quantity": "0"}, "quantity", "Ensure this value is greater than or equal to 1."),
    ],
)  # fmt: skip
def test_add_item_refuses_bad_input_and_adds_nothing(
    changes, field, message, clinic, consultant, desk
):
    plan = clinic.plan(consultant)
    data = {"procedure": clinic.filling.pk, "teeth": "16", "surfaces": "", "quantity": 1,
            "phase": 1, "unit_price": "", "discount": "0", **changes}  # fmt: skip

    response = desk.post(item_url(plan), data, **HTMX)

    assert response.status_code == 200
    assert message in text(response)
    assert f'href="#id_{field}"' in text(response)
    assert TreatmentItem.objects.filter(option__label="Crown").count() == 1


def test_add_option_and_remove_item(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    crown_item = TreatmentItem.objects.get(option__label="Crown")

    added = desk.post(reverse("clinical:option_add", args=[plan.pk]), {"label": "Bridge"})
    removed = desk.post(reverse("clinical:item_remove", args=[plan.pk, crown_item.pk]))

    assert (added.status_code, removed.status_code) == (302, 302)
    assert [o.label for o in plan.options.all()] == ["Crown", "Filling", "Bridge"]
    assert not TreatmentItem.objects.filter(pk=crown_item.pk).exists()


def test_item_of_another_plan_is_not_found(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    other = clinic.plan(consultant, title="Other")
    foreign = TreatmentItem.objects.filter(option__plan=other).first()

    response = desk.post(reverse("clinical:item_remove", args=[plan.pk, foreign.pk]))

    assert response.status_code == 404
    assert TreatmentItem.objects.filter(pk=foreign.pk).exists()


# --- accepting and declining -----------------------------------------------------------------
def accept_url(plan: TreatmentPlan) -> str:
    return reverse("clinical:plan_accept", args=[plan.pk])


def test_accept_dialog_has_the_signature_pad(clinic, consultant, desk):
    plan = clinic.plan(consultant)

    page = text(desk.get(accept_url(plan), **HTMX))

    assert '<canvas id="signature-pad"' in page
    assert 'data-signature-for="id_signature"' in page
    assert 'type="hidden" name="signature"' in page


def test_accept_with_a_signature(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    filling = plan.options.get(label="Filling")
    data = {"option": filling.pk, "method": "signature", "signature": SIGNATURE,
            "signed_name": "Nguyễn Thị Ánh"}  # fmt: skip

    response = desk.post(accept_url(plan), data)

    plan.refresh_from_db()
    assert response.status_code == 302
    assert (plan.status, plan.signed_name, plan.signature) == (
        PlanStatus.ACCEPTED,
        "Nguyễn Thị Ánh",
        SIGNATURE,
    )
    assert dict(plan.options.values_list("label", "status")) == {
        "Crown": "declined",
        "Filling": "accepted",
    }


def test_accept_verbally_needs_a_witness_and_a_note(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    option = plan.options.get(label="Crown")

    refused = desk.post(accept_url(plan), {"option": option.pk, "method": "verbal"}, **HTMX)
    accepted = desk.post(
        accept_url(plan),
        {"option": option.pk, "method": "verbal", "witness": clinic.doctor.pk,
         "note": "Agreed on the phone"},
    )  # fmt: skip

    assert "Choose the staff member who witnessed the consent." in text(refused)
    assert "Note what the patient agreed to, in their words." in text(refused)
    plan.refresh_from_db()
    assert accepted.status_code == 302
    assert (plan.status, plan.verbal_witness, plan.acceptance_note) == (
        PlanStatus.ACCEPTED,
        clinic.doctor,
        "Agreed on the phone",
    )


def test_accept_without_a_signature_changes_nothing(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    data = {"option": plan.options.first().pk, "method": "signature", "signed_name": "Ánh"}

    response = desk.post(accept_url(plan), data, **HTMX)

    assert "Ask the patient to sign in the box." in text(response)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED


def test_decline_with_a_reason(clinic, consultant, desk):
    plan = clinic.plan(consultant)
    url = reverse("clinical:plan_decline", args=[plan.pk])

    refused = desk.post(url, {"reason": ""})
    plan.refresh_from_db()
    assert (refused.status_code, plan.status) == (422, PlanStatus.PROPOSED)

    declined = desk.post(url, {"reason": "Will think about it"})
    plan.refresh_from_db()
    assert declined.status_code == 302
    assert (plan.status, plan.decline_reason) == (PlanStatus.DECLINED, "Will think about it")


# --- booking and cancelling items ------------------------------------------------------------
def test_accepted_plan_offers_book_and_cancel_for_planned_items(clinic, consultant, desk):
    plan = clinic.accepted_plan(consultant)
    item = TreatmentItem.objects.get(option__label="Filling")

    page = text(desk.get(plans_url(clinic.patient)))

    assert reverse("clinical:item_book", args=[plan.pk, item.pk]) in page
    assert reverse("clinical:item_cancel", args=[plan.pk, item.pk]) in page
    assert reverse("clinical:plan_accept", args=[plan.pk]) not in page


def test_book_a_planned_item_from_the_openings(clinic, consultant, desk):
    plan = clinic.accepted_plan(consultant)
    item = TreatmentItem.objects.get(option__label="Filling")
    url = reverse("clinical:item_book", args=[plan.pk, item.pk])

    dialog = text(desk.get(url, **HTMX))
    openings = re.findall(r'name="slot" value="([^"]+)"', dialog)
    response = desk.post(url, {"slot": openings[0]}, **HTMX)

    assert len(openings) == 8
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{plans_url(clinic.patient)}#plan-{plan.pk}"
    item.refresh_from_db()
    assert item.status == ItemStatus.SCHEDULED
    assert (item.appointment.patient, item.appointment.procedure) == (
        clinic.patient,
        clinic.filling,
    )


def test_book_refuses_a_made_up_opening(clinic, consultant, desk):
    plan = clinic.accepted_plan(consultant)
    item = TreatmentItem.objects.get(option__label="Filling")

    response = desk.post(
        reverse("clinical:item_book", args=[plan.pk, item.pk]), {"slot": "tomorrow"}, **HTMX
    )

    assert "Choose one of the openings." in text(response)
    assert not Appointment.objects.exists()


def test_cancel_an_item_with_a_reason(clinic, consultant, desk):
    plan = clinic.accepted_plan(consultant)
    item = TreatmentItem.objects.get(option__label="Filling")

    response = desk.post(
        reverse("clinical:item_cancel", args=[plan.pk, item.pk]), {"reason": "Tooth extracted"}
    )

    item.refresh_from_db()
    plan.refresh_from_db()
    assert response.status_code == 302
    assert (item.status, plan.status) == (ItemStatus.CANCELLED, PlanStatus.COMPLETED)


# --- completing a visit ---------------------------------------------------------------------
def seated_visit(
    clinic: Clinic, consultant: User, desk: Client
) -> tuple[TreatmentPlan, Appointment]:
    plan = clinic.accepted_plan(consultant)
    item = TreatmentItem.objects.get(option__label="Filling")
    url = reverse("clinical:item_book", args=[plan.pk, item.pk])
    slot = re.findall(r'name="slot" value="([^"]+)"', text(desk.get(url)))[0]
    desk.post(url, {"slot": slot})
    appointment = Appointment.objects.get()
    arrive_appointment(actor=consultant, appointment=appointment)
    seat_appointment(actor=consultant, appointment=appointment)
    return plan, appointment


def complete_url(appointment: Appointment) -> str:
    return reverse("clinical:visit_complete", args=[appointment.pk])


def test_day_views_complete_button_opens_the_visit_dialog(clinic, consultant, desk):
    _plan, appointment = seated_visit(clinic, consultant, desk)

    panel = text(desk.get(reverse("scheduling:appointment_detail", args=[appointment.pk]), **HTMX))

    assert f'hx-get="{complete_url(appointment)}"' in panel
    status_url = reverse("scheduling:appointment_status", args=[appointment.pk, "complete"])
    assert f'action="{status_url}"' in panel  # without htmx: complete as booked


def test_visit_dialog_is_prefilled_with_the_booked_plan_items(clinic, consultant, desk):
    _plan, appointment = seated_visit(clinic, consultant, desk)
    item = TreatmentItem.objects.get(option__label="Filling")

    page = text(desk.get(complete_url(appointment), **HTMX))

    assert f'name="done-0-plan_item" value="{item.pk}"' in page
    assert 'name="done-0-teeth" value="16"' in page
    assert 'name="done-TOTAL_FORMS" value="3"' in page  # the item and two rows to add


def test_complete_a_visit_with_an_added_procedure(clinic, consultant, desk):
    plan, appointment = seated_visit(clinic, consultant, desk)
    item = TreatmentItem.objects.get(option__label="Filling")
    data = {
        "done-TOTAL_FORMS": "2", "done-INITIAL_FORMS": "0",
        "done-0-plan_item": item.pk, "done-0-is_done": "on", "done-0-procedure": clinic.filling.pk,
        "done-0-teeth": "16", "done-0-quantity": "1", "done-0-unit_price": "500000",
        "done-0-discount": "0",
        "done-1-is_done": "on", "done-1-procedure": clinic.crown.pk, "done-1-teeth": "26",
        "done-1-quantity": "1", "done-1-unit_price": "", "done-1-discount": "",
        "chair_minutes": "45",
    }  # fmt: skip

    response = desk.post(complete_url(appointment), data, **HTMX)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "appointments-changed"
    done = PerformedProcedure.objects.order_by("pk")
    assert [(p.procedure.code, p.teeth, p.amount, p.chair_minutes) for p in done] == [
        ("FIL", [16], Decimal("500000"), 23), ("CRN", [26], Decimal("3000000"), 22),
    ]  # fmt: skip
    item.refresh_from_db()
    plan.refresh_from_db()
    appointment.refresh_from_db()
    assert (item.status, plan.status, appointment.status) == (
        ItemStatus.COMPLETED,
        PlanStatus.COMPLETED,
        AppointmentStatus.COMPLETED,
    )
    assert LadderStep.objects.get().tier == "flagship"


def test_the_front_desk_completes_a_visit_at_the_agreed_price(
    clinic, consultant, desk, persona, logged_in
):
    _plan, appointment = seated_visit(clinic, consultant, desk)
    item = TreatmentItem.objects.get(option__label="Filling")
    reception = logged_in(persona(Role.RECEPTIONIST))  # schedule.book, not treatment.edit

    dialog = text(reception.get(complete_url(appointment), **HTMX))
    response = reception.post(complete_url(appointment), {
        "done-TOTAL_FORMS": "1", "done-INITIAL_FORMS": "0", "done-0-plan_item": item.pk,
        "done-0-is_done": "on", "done-0-procedure": clinic.filling.pk, "done-0-teeth": "16",
        "done-0-quantity": "1", "done-0-unit_price": "1", "done-0-discount": "500000",
        "chair_minutes": "30",
    }, **HTMX)  # fmt: skip

    assert 'name="done-0-unit_price"' not in dialog and 'name="done-0-discount"' not in dialog
    assert "recorded at the plan's agreed price" in dialog
    assert response.status_code == 200
    done = PerformedProcedure.objects.get()
    assert (done.unit_price, done.discount, done.amount) == (
        Decimal("500000"), Decimal("0"), Decimal("500000"),
    )  # fmt: skip


def test_those_who_edit_treatment_see_and_change_the_price(clinic, consultant, desk):
    _plan, appointment = seated_visit(clinic, consultant, desk)

    dialog = text(desk.get(complete_url(appointment), **HTMX))

    assert 'name="done-0-unit_price"' in dialog and 'name="done-0-discount"' in dialog
    assert "recorded at the plan's agreed price" not in dialog


def test_complete_refuses_a_bad_tooth_and_records_nothing(clinic, consultant, desk):
    _plan, appointment = seated_visit(clinic, consultant, desk)
    data = {
        "done-TOTAL_FORMS": "1", "done-INITIAL_FORMS": "0", "done-0-is_done": "on",
        "done-0-procedure": clinic.filling.pk, "done-0-teeth": "19", "done-0-quantity": "1",
    }  # fmt: skip

    response = desk.post(complete_url(appointment), data, **HTMX)

    assert "19 is not a tooth in FDI notation." in text(response)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.SEATED
    assert not PerformedProcedure.objects.exists()


def test_complete_refuses_an_appointment_not_seated(clinic, world, desk):
    appointment = AppointmentFactory(branch=world.branch_a, procedure=clinic.filling)
    data = {"done-TOTAL_FORMS": "1", "done-INITIAL_FORMS": "0", "done-0-is_done": "on",
            "done-0-procedure": clinic.filling.pk, "done-0-quantity": "1"}  # fmt: skip

    page = text(desk.get(complete_url(appointment)))
    response = desk.post(complete_url(appointment), data, **HTMX)

    assert "Only a seated patient's visit can be completed." in page
    assert "so it cannot be" in text(response)
    assert not PerformedProcedure.objects.exists()


def test_visit_completion_is_not_found_without_schedule_book(clinic, world, persona, logged_in):
    appointment = AppointmentFactory(branch=world.branch_a, procedure=clinic.filling)

    response = logged_in(persona(Role.NURSE)).get(complete_url(appointment))

    assert response.status_code == 404


# --- the printable plan -----------------------------------------------------------------------
def test_printable_plan_is_in_the_patients_language_without_navigation(clinic, consultant, desk):
    plan = clinic.plan(consultant, items=2)

    response = desk.get(reverse("clinical:plan_print", args=[plan.pk]))

    page = text(response)
    assert response["Content-Language"] == "vi"
    assert '<html lang="vi">' in page
    assert "Trám răng" in page  # the procedure's Vietnamese name
    assert "1.000.000\xa0₫" in page  # two fillings, in Vietnamese money
    assert 'class="sidebar"' not in page
    assert page.count('class="plan-option"') == 2
    assert '<link rel="stylesheet" href="/static/css/app.css">' in page  # the PDF fetcher's


def test_plan_pdf_is_the_printable_plan_in_the_patients_language(clinic, consultant, desk):
    plan = clinic.plan(consultant, items=2)

    response = desk.get(reverse("clinical:plan_pdf", args=[plan.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Language"] == "vi"
    number = clinic.patient.number.lower()
    assert response["Content-Disposition"] == f'inline; filename="plan-{plan.pk}-{number}.pdf"'
    assert response.content.startswith(b"%PDF-")


def test_plan_pdf_carries_the_patients_drawn_signature(clinic, consultant, desk, caplog):
    plan = clinic.plan(consultant)
    accept_option(
        actor=consultant, option=plan.options.get(label="Filling"), method="signature",
        signature=drawn_signature(), signed_name="Nguyễn Thị Ánh",
    )  # fmt: skip

    printable = text(desk.get(reverse("clinical:plan_print", args=[plan.pk])))
    pdf = desk.get(reverse("clinical:plan_pdf", args=[plan.pk])).content

    assert f'class="signature" src="{drawn_signature()}"' in printable
    assert pdf.startswith(b"%PDF-")
    assert b"/Image" in pdf  # the signature, the page's only image
    assert [r.getMessage() for r in caplog.records if "Failed to load" in r.getMessage()] == []


def test_plan_card_links_print_and_pdf(clinic, consultant, desk):
    plan = clinic.plan(consultant)

    page = text(desk.get(reverse("clinical:plan_detail", args=[plan.pk])))

    assert reverse("clinical:plan_print", args=[plan.pk]) in page
    assert f'href="{reverse("clinical:plan_pdf", args=[plan.pk])}"' in page


# --- unscheduled treatment and the ladder ----------------------------------------------------
def test_unscheduled_list_filters_counts_and_totals(clinic, consultant, desk):
    clinic.accepted_plan(consultant, items=3)  # 1,500,000 waiting
    small = PatientFactory(home_branch=clinic.branch, family_name="Lê", given_name="Nhỏ")
    clinic.patient = small
    clinic.accepted_plan(consultant, items=1)  # 500,000 waiting
    url = reverse("clinical:unscheduled_list")

    everything = text(desk.get(url))
    large = text(desk.get(url, {"min_value": "1000000"}))

    assert re.search(r'id="unscheduled-count">2<', everything)
    assert "2,000,000" in everything
    assert everything.index("Thị Ánh") < everything.index("Nhỏ")
    assert re.search(r'id="unscheduled-count">1<', large)
    assert "Nhỏ" not in large


def test_unscheduled_list_refuses_a_reversed_age_range(clinic, desk):
    response = desk.get(
        reverse("clinical:unscheduled_list"), {"min_age_days": "30", "max_age_days": "7"}
    )

    assert "Give a maximum age not below the minimum." in text(response)


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.MARKETER, 200), (Role.NURSE, 200), (Role.ANALYST, 200), (Role.RECEPTIONIST, 404),
     (Role.INVENTORY_CLERK, 404)],
)  # fmt: skip
def test_ladder_report_needs_analytics_or_treatment_view(role, status, clinic, persona, logged_in):
    response = logged_in(persona(role)).get(reverse("clinical:ladder_report"))

    assert response.status_code == status


@pytest.mark.parametrize(
    ("query", "field"), [("end=9999-12-31", "end"), ("start=0001-01-01&end=2030-01-01", "start")]
)
def test_ladder_report_refuses_dates_out_of_reach(query, field, clinic, persona, logged_in):
    response = logged_in(persona(Role.BRANCH_MANAGER)).get(
        f"{reverse('clinical:ladder_report')}?{query}"
    )

    page = text(response)
    assert response.status_code == 200
    assert page.count('<p class="error">Give a date between 1900 and 2999.</p>') == 1
    assert re.search(rf'<input[^>]* name="{field}"[^>]* aria-invalid="true"', page)


def test_navigation_leads_to_the_unscheduled_list(clinic, desk):
    page = text(desk.get(reverse("clinical:unscheduled_list")))

    link = reverse("clinical:unscheduled_list")
    assert f'<a href="{link}" aria-current="page">Treatment</a>' in page
    assert f'<a href="{reverse("billing:cash_up")}">Money</a>' in page


def test_treatment_is_highlighted_on_a_plan_page_and_procedures_on_the_catalogue(
    clinic, consultant, desk
):
    plan = clinic.plan(consultant)
    treatment = reverse("clinical:unscheduled_list")
    procedures = reverse("clinical:procedure_list")

    plan_page = text(desk.get(reverse("clinical:plan_detail", args=[plan.pk])))
    catalogue = text(desk.get(procedures))

    assert f'<a href="{treatment}" aria-current="page">Treatment</a>' in plan_page
    assert f'<a href="{procedures}">Procedures</a>' in plan_page
    assert f'<a href="{treatment}">Treatment</a>' in catalogue
    assert f'<a href="{procedures}" aria-current="page">Procedures</a>' in catalogue


# --- query counts ----------------------------------------------------------------------------
def plan_page_queries(client: Client, patient: Patient) -> int:
    """The queries of one look at the patient's plans (the session already warm)."""
    client.get(plans_url(patient))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(plans_url(patient))
    assert response.status_code == 200
    return len(queries)


def test_plan_page_costs_as_many_queries_for_five_plans_as_for_one(clinic, consultant, desk, world):
    clinic.plan(consultant, items=1)
    one_plan = plan_page_queries(desk, clinic.patient)
    clinic.plan(consultant, items=8)
    clinic.accepted_plan(consultant, items=6)
    booked = clinic.accepted_plan(consultant, items=3)
    TreatmentItem.objects.filter(option__plan=booked, status=ItemStatus.PLANNED).update(
        status=ItemStatus.SCHEDULED,
        appointment=AppointmentFactory(
            branch=clinic.branch, patient=clinic.patient, chair=clinic.chair, doctor=clinic.doctor
        ),
    )
    verbal = clinic.plan(consultant, items=2)
    accept_option(
        actor=consultant, option=verbal.options.get(label="Crown"), method="verbal",
        witness=clinic.doctor,
    )  # fmt: skip

    five_plans = plan_page_queries(desk, clinic.patient)

    assert TreatmentPlan.objects.filter(patient=clinic.patient).count() == 5
    assert five_plans == one_plan


def test_unscheduled_list_queries_do_not_grow_with_rows(
    clinic, consultant, desk, django_assert_max_num_queries
):
    for number in range(12):
        clinic.patient = PatientFactory(home_branch=clinic.branch, given_name=f"Row {number}")
        clinic.accepted_plan(consultant, items=3)
    desk.get(reverse("clinical:unscheduled_list"))

    with django_assert_max_num_queries(14):
        response = desk.get(reverse("clinical:unscheduled_list"))

    assert re.search(r'id="unscheduled-count">12<', text(response))
