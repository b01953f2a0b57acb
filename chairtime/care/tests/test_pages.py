"""The care pages: who opens what (owner, receptionist, nurse who only looks, marketer who
sees nothing, a receptionist of another branch), my tasks today, recording a call (with
htmx and without), bad input, the task list's counts, the recall list and the rules."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.audit.models import AuditEvent
from chairtime.care.choices import Outcome, TaskKind, TaskStatus
from chairtime.care.models import CareRule, CareTask, TaskAttempt
from chairtime.care.rules import add_months
from chairtime.tenancy.middleware import SESSION_KEY
from chairtime.tenancy.roles import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory, make_doctor

from .helpers import done_on, make_task, procedure, profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(world):
    return PatientFactory(home_branch=world.branch_a, family_name="Phạm", given_name="Thu")


@pytest.fixture
def due_task(world, patient):
    """A recall call for the receptionists of branch A, due an hour ago."""
    return make_task(world.branch_a, patient, due_at=timezone.now() - timedelta(hours=1))


@pytest.fixture
def b_receptionist(world):
    user = UserFactory(username="b-receptionist")
    MembershipFactory(user=user, branch=world.branch_b, role=Role.RECEPTIONIST)
    return user


def client_for(user, branch=None) -> Client:
    client = Client()
    client.force_login(user)
    if branch is not None:
        session = client.session
        session[SESSION_KEY] = branch.pk
        session.save()
    return client


def pages(task):
    return [
        reverse("care:my_tasks"), reverse("care:task_list"),
        reverse("care:task_detail", args=[task.pk]), reverse("care:recall_list"),
    ]  # fmt: skip


RULE_PAGES = [reverse("care:rule_list"), reverse("care:rule_edit", args=["recall_due"])]


@pytest.fixture
def recall_patient(world):
    """A patient of branch A whose six-monthly recall fell due ten days ago."""
    scale = procedure(world.acme, "SCALE", "hygiene", recall=6)
    patient = PatientFactory(home_branch=world.branch_a, given_name="Recall")
    last = add_months(timezone.localdate(timezone.now(), world.branch_a.zone), -6)
    last -= timedelta(days=10)
    done_on(world.branch_a, patient, make_doctor(world.branch_a), last, scale)
    profile(patient, recall_due_on=add_months(last, 6), last_visit_on=last)
    return patient


def rows_of(html: str, attribute: str) -> list[int]:
    return [int(pk) for pk in re.findall(rf'<tr {attribute}="(\d+)"', html)]


@pytest.mark.parametrize(
    ("role", "work_pages", "rule_pages", "has_my_task"),
    [
        (Role.OWNER, 200, 200, False),
        (Role.BRANCH_MANAGER, 200, 200, False),
        (Role.RECEPTIONIST, 200, 404, True),
        (Role.NURSE, 200, 404, False),
        (Role.MARKETER, 404, 404, False),
        (Role.INVENTORY_CLERK, 404, 404, False),
    ],
)
def test_each_role_opens_the_care_pages_its_capabilities_allow(
    world, persona, due_task, recall_patient, role, work_pages, rule_pages, has_my_task
):
    client = client_for(persona(role), world.branch_a)

    got = {url: client.get(url) for url in [*pages(due_task), *RULE_PAGES]}

    assert {url: response.status_code for url, response in got.items()} == {
        **dict.fromkeys(pages(due_task), work_pages),
        **dict.fromkeys(RULE_PAGES, rule_pages),
    }
    if work_pages != 200:
        return
    html = {url: response.content.decode() for url, response in got.items()}
    # The receptionists' task is on the receptionist's own list only; every role that
    # opens the pages sees it in the branch's list, and the recall patient on the list.
    assert rows_of(html[reverse("care:my_tasks")], "data-task") == (
        [due_task.pk] if has_my_task else []
    )
    assert rows_of(html[reverse("care:task_list")], "data-task") == [due_task.pk]
    assert "Phạm Thu" in html[reverse("care:task_detail", args=[due_task.pk])]
    assert rows_of(html[reverse("care:recall_list")], "data-patient") == [recall_patient.pk]
    assert 'id="recall-count">1<' in html[reverse("care:recall_list")]


def test_another_branchs_task_is_not_found(world, due_task, b_receptionist, outsider):
    for user in (b_receptionist, outsider):
        client = client_for(user)
        url = reverse("care:task_detail", args=[due_task.pk])
        post = reverse("care:task_attempt", args=[due_task.pk])

        assert client.get(url).status_code == 404
        assert client.post(post, {"outcome": "reached"}).status_code == 404
    assert CareTask.objects.get(pk=due_task.pk).attempts == 0


def test_a_nurse_sees_the_task_without_the_form_and_cannot_record(world, persona, due_task):
    client = client_for(persona(Role.NURSE))

    page = client.get(reverse("care:task_detail", args=[due_task.pk])).content.decode()
    response = client.post(reverse("care:task_attempt", args=[due_task.pk]), {"outcome": "reached"})

    assert "Phạm Thu" in page and 'id="attempt-form"' not in page
    assert response.status_code == 404
    assert CareTask.objects.get(pk=due_task.pk).attempts == 0


# --- my tasks today -------------------------------------------------------------------------
def test_my_tasks_are_due_now_or_overdue_and_mine_by_name_or_role(world, persona):
    receptionist = persona(Role.RECEPTIONIST)
    now = timezone.now()

    def task(name, **fields):
        patient = PatientFactory(home_branch=world.branch_a, given_name=name)
        return make_task(world.branch_a, patient, **fields)

    task("Role now", due_at=now - timedelta(minutes=5))
    task("Mine overdue", due_at=now - timedelta(days=3), assigned_to=receptionist)
    task("Tomorrow", due_at=now + timedelta(days=1))
    colleague = UserFactory()
    MembershipFactory(user=colleague, organization=world.acme, branch=world.branch_a,
                      role=Role.RECEPTIONIST)  # fmt: skip
    task("Someone else", due_at=now - timedelta(hours=1), assigned_to=colleague)
    # A person who left (no membership here any more): their calls come back to the role.
    task("Left", due_at=now - timedelta(hours=2), assigned_to=UserFactory())
    task("Doctors", due_at=now - timedelta(hours=1), assigned_role=Role.DOCTOR)
    task("Done", due_at=now - timedelta(hours=1), status=TaskStatus.DONE)
    make_task(world.branch_b, PatientFactory(home_branch=world.branch_b, given_name="In B"),
              due_at=now - timedelta(hours=1))  # fmt: skip

    html = client_for(receptionist).get(reverse("care:my_tasks")).content.decode()

    assert html.index("Mine overdue") < html.index("Left") < html.index("Role now")
    for hidden in ("Tomorrow", "Someone else", "Doctors", "Done", "In B"):
        assert hidden not in html
    assert "3 calls to make." in html


def test_recording_a_call_without_htmx_goes_back_with_a_message(world, persona, due_task):
    client = client_for(persona(Role.RECEPTIONIST))

    response = client.post(
        reverse("care:task_attempt", args=[due_task.pk]),
        {"outcome": "booked", "note": "Booked for Friday.", "expected_attempts": "0",
         "next": reverse("care:my_tasks")},
    )  # fmt: skip

    assert (response.status_code, response["Location"]) == (302, reverse("care:my_tasks"))
    task = CareTask.objects.get(pk=due_task.pk)
    assert (task.status, task.outcome, task.attempts, task.note) == (
        TaskStatus.DONE, Outcome.BOOKED, 1, "Booked for Friday.",
    )  # fmt: skip
    page = client.get(reverse("care:my_tasks")).content.decode()
    assert "Call recorded: Booked." in page and "Phạm Thu" not in page


def test_recording_a_call_with_htmx_answers_the_panel_and_tells_the_lists_to_reload(
    world, persona, due_task
):
    client = client_for(persona(Role.RECEPTIONIST))

    response = client.post(
        reverse("care:task_attempt", args=[due_task.pk]), {"outcome": "no_answer"},
        headers={"HX-Request": "true"},
    )  # fmt: skip

    html = response.content.decode()
    assert (response.status_code, response["HX-Trigger"]) == (200, "care-changed")
    assert "<html" not in html and "Call recorded: No answer." in html
    assert 'id="attempt-form"' in html  # still open: the next call can be recorded
    assert CareTask.objects.get(pk=due_task.pk).attempts == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"outcome": "maybe"}, "Choose one of the listed outcomes."),
        ({"outcome": "reached", "note": "x" * 501},
         "Keep the note under 500 characters (it has 501)."),
    ],
)  # fmt: skip
def test_bad_input_on_the_page_names_the_field_and_changes_nothing(
    world, persona, due_task, data, message
):
    client = client_for(persona(Role.RECEPTIONIST))

    response = client.post(reverse("care:task_attempt", args=[due_task.pk]), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert CareTask.objects.get(pk=due_task.pk).attempts == 0
    assert not TaskAttempt.objects.exists()


def test_a_call_on_a_closed_task_is_refused_on_the_page(world, persona, due_task):
    client = client_for(persona(Role.RECEPTIONIST))
    url = reverse("care:task_attempt", args=[due_task.pk])
    client.post(url, {"outcome": "reached"})

    response = client.post(url, {"outcome": "booked"})

    assert "This task is already closed (Done): no call can be added." in response.content.decode()
    assert CareTask.objects.get(pk=due_task.pk).outcome == Outcome.REACHED


def test_a_stale_form_is_refused(world, persona, due_task):
    client = client_for(persona(Role.RECEPTIONIST))
    url = reverse("care:task_attempt", args=[due_task.pk])
    client.post(url, {"outcome": "no_answer", "expected_attempts": "0"})

    response = client.post(url, {"outcome": "no_answer", "expected_attempts": "0"})

    assert "Someone recorded a call on this task meanwhile" in response.content.decode()
    assert CareTask.objects.get(pk=due_task.pk).attempts == 1


# --- the task list ----------------------------------------------------------------------------
def test_task_list_filters_and_counts_overdue_per_person_and_branch(world, persona):
    owner = persona(Role.OWNER)
    doctor = make_doctor(world.branch_a, first_name="Minh", last_name="Lê")
    long_ago = timezone.now() - timedelta(days=4)
    for name, fields in (
        ("Overdue role", {}),
        ("Overdue doctor", {"assigned_to": doctor, "kind": TaskKind.POST_TREATMENT_DAY1}),
        ("Overdue doctor 2", {"assigned_to": doctor, "kind": TaskKind.POST_TREATMENT_DAY7}),
    ):
        make_task(world.branch_a, PatientFactory(home_branch=world.branch_a, given_name=name),
                  due_at=long_ago, **fields)  # fmt: skip
    make_task(world.branch_a, PatientFactory(home_branch=world.branch_a, given_name="Later"),
              due_at=timezone.now() + timedelta(days=2))  # fmt: skip
    make_task(world.branch_b, PatientFactory(home_branch=world.branch_b, given_name="B late"),
              due_at=long_ago)  # fmt: skip
    client = client_for(owner, world.branch_a)

    html = client.get(reverse("care:task_list")).content.decode()
    filtered = client.get(
        reverse("care:task_list"), {"assignee": str(doctor.pk), "overdue": "on"}
    ).content.decode()
    by_kind = client.get(reverse("care:task_list"), {"kind": "recall_due"}).content.decode()

    person = html[html.index('id="overdue-by-person"') : html.index('id="overdue-by-branch"')]
    branch = html[html.index('id="overdue-by-branch"') : html.index('id="task-table"')]
    assert 'Minh Lê</td><td class="num">2' in person
    assert 'Receptionist</td><td class="num">1' in person
    assert 'Acme Quận 1</td><td class="num">3' in branch
    assert 'Acme Hà Nội</td><td class="num">1' in branch
    assert "Overdue doctor" in filtered and "Overdue role" not in filtered
    assert "Later" in by_kind and "Overdue doctor" not in by_kind


# --- the recall list --------------------------------------------------------------------------
def test_recall_list_offers_book_recall_with_the_patient_procedure_and_doctor(world, persona):
    doctor = make_doctor(world.branch_a)
    scale = procedure(world.acme, "SCALE", "hygiene", recall=6)
    patient = PatientFactory(home_branch=world.branch_a, given_name="Recall")
    last = timezone.localdate(timezone.now(), world.branch_a.zone) - timedelta(days=170)
    done_on(world.branch_a, patient, doctor, last, scale)
    profile(patient, recall_due_on=add_months(last, 6), last_visit_on=last)

    html = client_for(persona(Role.RECEPTIONIST)).get(reverse("care:recall_list")).content.decode()

    book = (
        f"{reverse('scheduling:appointment_create')}?patient={patient.pk}"
        f"&amp;procedure={scale.pk}&amp;doctor={doctor.pk}"
    )
    assert 'id="recall-count">1<' in html
    assert book in html


def test_recall_list_refuses_a_branch_the_user_does_not_work_in(world, persona):
    client = client_for(persona(Role.RECEPTIONIST))

    response = client.get(reverse("care:recall_list"), {"branch": str(world.branch_b.pk)})

    assert "Select a valid choice." in response.content.decode()


def test_recall_list_names_a_backwards_range(world, persona):
    client = client_for(persona(Role.RECEPTIONIST))

    response = client.get(
        reverse("care:recall_list"), {"due_from": "2030-05-01", "due_to": "2030-04-01"}
    )

    assert "Give an end on or after the start." in response.content.decode()


# --- rules ------------------------------------------------------------------------------------
def test_owner_changes_a_rule_and_it_is_audited(world, persona):
    owner = persona(Role.OWNER)
    client = client_for(owner)
    data = {
        "is_enabled": "on", "offset": "10", "assign_to": "role", "assign_role": "consultant",
        "max_attempts": "4", "cool_off_days": "5", "hand_over_after_days": "90",
    }  # fmt: skip

    response = client.post(reverse("care:rule_edit", args=["recall_due"]), data)

    assert (response.status_code, response["Location"]) == (302, reverse("care:rule_list"))
    rule = CareRule.objects.get(organization=world.acme, kind="recall_due")
    assert (rule.offset, rule.assign_role, rule.max_attempts, rule.cool_off_days,
            rule.hand_over_after_days) == (10, "consultant", 4, 5, 90)  # fmt: skip
    event = AuditEvent.objects.get(object_type="care.carerule")
    assert (event.actor_id, event.changes["max_attempts"]) == (owner.pk, [3, 4])


def test_a_rule_out_of_range_is_refused_naming_the_field(world, persona):
    client = client_for(persona(Role.OWNER))
    data = {
        "is_enabled": "on", "offset": "100", "assign_to": "role", "assign_role": "receptionist",
        "max_attempts": "0", "cool_off_days": "2",
    }  # fmt: skip

    response = client.post(reverse("care:rule_edit", args=["confirmation_call"]), data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter a number from 1 to 72." in html and "Enter a number from 1 to 10." in html
    assert not CareRule.objects.filter(max_attempts=0).exists()
    assert not AuditEvent.objects.filter(object_type="care.carerule").exists()


def test_an_unknown_rule_kind_is_not_found(world, persona):
    client = client_for(persona(Role.OWNER))

    assert client.get(reverse("care:rule_edit", args=["horoscope"])).status_code == 404


def test_rule_pages_show_the_defaults_made_on_first_use(world, persona):
    html = client_for(persona(Role.OWNER)).get(reverse("care:rule_list")).content.decode()

    assert CareRule.objects.filter(organization=world.acme).count() == 10
    assert "Confirmation call" in html and "Orthodontic" in html
