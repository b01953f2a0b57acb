"""The lab pages: list and filters, a case and its step buttons, ordering from an
appointment or a plan item, labs, overdue per lab, and the flag on the day view."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chairtime.labs.models import Lab, LabCase
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory

from .helpers import appointment, local, make_case, make_lab, plan_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def today(world):
    return timezone.localdate(timezone=world.branch_a.zone)


@pytest.fixture
def desk(persona, logged_in):
    return logged_in(persona(Role.RECEPTIONIST))


@pytest.fixture
def lab(world):
    return make_lab(world.acme, "Smile Lab", phone="+84 28 3333 4444")


def test_case_list_filters_overdue_and_pages_by_branch(world, desk, lab, today):
    patient = PatientFactory(home_branch=world.branch_a, given_name="Late")
    late = make_case(world.branch_a, patient, lab, status="sent", due_on=today - timedelta(days=2))
    make_case(world.branch_a, patient, lab, status="received", due_on=today - timedelta(days=2))
    make_case(world.branch_b, patient, lab, status="sent", due_on=today - timedelta(days=2))

    everything = desk.get(reverse("labs:case_list"))
    overdue = desk.get(reverse("labs:case_list"), {"overdue": "on", "lab": lab.pk})

    assert everything.status_code == overdue.status_code == 200
    assert everything.content.decode().count("data-case=") == 2
    body = overdue.content.decode()
    assert body.count("data-case=") == 1 and f'data-case="{late.pk}"' in body
    assert "Overdue" in body


def test_case_page_steps_a_case_and_explains_a_refusal(world, desk, lab):
    patient = PatientFactory(home_branch=world.branch_a)
    case = make_case(world.branch_a, patient, lab, status="ordered")

    page = desk.get(reverse("labs:case_detail", args=[case.pk]))
    refused = desk.post(reverse("labs:case_step", args=[case.pk, "receive"]), {"note": ""})
    sent = desk.post(reverse("labs:case_step", args=[case.pk, "send"]), {"note": "Courier"})

    assert page.status_code == 200
    body = page.content.decode()
    assert reverse("labs:case_step", args=[case.pk, "send"]) in body
    assert reverse("labs:case_step", args=[case.pk, "receive"]) not in body
    assert refused.status_code == 400
    assert "This case was never sent" in refused.content.decode()
    assert sent.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.step_note) == ("sent", "Courier")


def test_analyst_sees_cases_but_has_no_step_buttons(world, persona, logged_in, lab):
    analyst = persona(Role.ANALYST)  # organisation-wide: works in the first branch by name
    branch = default_branch_access(analyst).branch
    case = make_case(branch, PatientFactory(home_branch=branch), lab, status="sent")
    client = logged_in(analyst)

    page = client.get(reverse("labs:case_detail", args=[case.pk]))
    step = client.post(reverse("labs:case_step", args=[case.pk, "receive"]))

    assert page.status_code == 200
    assert "case_step" not in page.content.decode() and "/receive/" not in page.content.decode()
    assert step.status_code == 404
    case.refresh_from_db()
    assert case.status == "sent"


def test_another_branchs_case_is_not_found(world, desk, lab):
    case = make_case(world.branch_b, PatientFactory(home_branch=world.branch_b), lab)

    assert desk.get(reverse("labs:case_detail", args=[case.pk])).status_code == 404
    assert desk.post(reverse("labs:case_step", args=[case.pk, "receive"])).status_code == 404


def test_another_organisations_case_is_not_found(world, desk):
    rival_lab = make_lab(world.rival, "Rival Lab")
    case = make_case(
        world.rival_branch, PatientFactory(home_branch=world.rival_branch), rival_lab,
        status="ordered",
    )  # fmt: skip

    assert desk.get(reverse("labs:case_detail", args=[case.pk])).status_code == 404
    assert desk.post(reverse("labs:case_step", args=[case.pk, "send"])).status_code == 404
    case.refresh_from_db()
    assert case.status == "ordered"


def test_order_from_an_appointment_is_prefilled(world, desk, lab, today):
    patient = PatientFactory(home_branch=world.branch_a)
    visit = appointment(
        world.branch_a, patient, local(today + timedelta(days=10), 9), code="BRIDGE"
    )
    url = f"{reverse('labs:case_create')}?appointment={visit.pk}"

    page = desk.get(url)
    ordered = desk.post(url, {"lab": lab.pk, "kind": "bridge", "teeth": "14, 15 16",
                              "appointment": visit.pk, "patient_number": patient.number})  # fmt: skip

    body = page.content.decode()
    assert page.status_code == 200
    assert '<option value="bridge" selected>' in body
    assert patient.display_name in body
    assert ordered.status_code == 302
    case = LabCase.objects.get()
    assert (case.patient_id, case.appointment_id, case.teeth, case.kind) == (
        patient.pk,
        visit.pk,
        [14, 15, 16],
        "bridge",
    )


def test_order_from_a_plan_item_takes_its_teeth(world, desk, lab):
    patient = PatientFactory(home_branch=world.branch_a)
    item = plan_item(world.branch_a, patient, teeth=(21, 22))
    url = f"{reverse('labs:case_create')}?plan_item={item.pk}"

    page = desk.get(url)
    ordered = desk.post(
        url, {"lab": lab.pk, "kind": "crown", "teeth": "21, 22", "plan_item": item.pk}
    )

    assert 'value="21, 22"' in page.content.decode()
    assert ordered.status_code == 302
    assert LabCase.objects.get().plan_item_id == item.pk


def test_order_form_shows_the_service_errors_beside_the_fields(world, desk, lab):
    patient = PatientFactory(home_branch=world.branch_a)
    url = f"{reverse('labs:case_create')}?patient={patient.pk}"

    response = desk.post(
        url, {"lab": lab.pk, "kind": "crown", "teeth": "19", "due_on": "2000-01-01"}
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "19 is not a tooth in FDI notation." in body
    assert "The due date cannot be before" in body
    assert LabCase.objects.count() == 0


def test_order_by_patient_number_and_unknown_number(world, desk, lab):
    patient = PatientFactory(home_branch=world.branch_a, number="P-777")
    url = reverse("labs:case_create")

    unknown = desk.post(url, {"lab": lab.pk, "kind": "crown", "patient_number": "nope"})
    ordered = desk.post(url, {"lab": lab.pk, "kind": "crown", "patient_number": "p-777"})

    assert "No patient has this number." in unknown.content.decode()
    assert ordered.status_code == 302
    assert LabCase.objects.get().patient_id == patient.pk


def test_labs_are_added_and_edited(world, desk):
    created = desk.post(reverse("labs:lab_create"), {
        "name": "Lotus Ceramics", "default_turnaround_days": "6", "turnaround_aligner": "12",
        "is_active": "on",
    })  # fmt: skip
    lab = Lab.objects.get()
    edited = desk.post(reverse("labs:lab_edit", args=[lab.pk]), {
        "name": "Lotus Ceramics", "default_turnaround_days": "8", "phone": "+84 28 1111 2222",
    })  # fmt: skip
    duplicate = desk.post(
        reverse("labs:lab_create"), {"name": "lotus ceramics", "default_turnaround_days": "6"}
    )

    assert (created.status_code, edited.status_code) == (302, 302)
    lab.refresh_from_db()
    assert (lab.default_turnaround_days, lab.turnaround_days, lab.is_active) == (8, {}, False)
    assert "Another lab has this name." in duplicate.content.decode()


def test_overdue_page_groups_late_cases_by_lab(world, desk, lab, today):
    patient = PatientFactory(home_branch=world.branch_a)
    case = make_case(world.branch_a, patient, lab, status="sent", due_on=today - timedelta(days=3))

    response = desk.get(reverse("labs:overdue_list"))

    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="overdue-lab-{lab.pk}"' in body and f'data-case="{case.pk}"' in body
    assert "1 case past its due date and not back." in body


# --- the day view ---------------------------------------------------------------------------
def test_day_view_flags_appointments_whose_case_is_not_back(world, desk, lab):
    day = date(2030, 3, 5)
    patient = PatientFactory(home_branch=world.branch_a)
    waiting = appointment(world.branch_a, patient, local(day, 9))
    ready = appointment(world.branch_a, patient, local(day, 11))
    make_case(
        world.branch_a, patient, lab, status="sent", due_on=date(2030, 11, 24), appointment=waiting
    )
    make_case(world.branch_a, patient, lab, status="quality_checked", appointment=ready)

    with translation_en():
        response = desk.get(reverse("scheduling:day_view"), {"date": day.isoformat()})

    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="lab-flag') == 1
    assert "Lab: crown not back, due November 24" in body


def test_day_view_reads_the_flags_in_one_query_whatever_the_number_of_appointments(
    world, desk, lab
):
    day = date(2030, 3, 5)

    def queries_with(count: int) -> int:
        for hour in range(count):
            patient = PatientFactory(home_branch=world.branch_a)
            visit = appointment(world.branch_a, patient, local(day, 8 + hour))
            make_case(world.branch_a, patient, lab, status="sent", appointment=visit)
        with CaptureQueriesContext(connection) as queries:
            desk.get(reverse("scheduling:day_view"), {"date": day.isoformat()})
        return len([q for q in queries if "labs_labcase" in q["sql"]])

    assert queries_with(1) == queries_with(4) == 1


def translation_en():  # type: ignore[no-untyped-def]
    from django.utils import translation

    return translation.override("en")
