"""The patient timeline: every kind of touchpoint, newest first, ties broken the same way
every time, each kind only for the capability that may see it, cursor paging that never
skips or repeats, and the page (htmx "older") and API in scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from chairtime.audit.services import record_event
from chairtime.billing.models import Payment, Refund
from chairtime.clinical.models import TreatmentPlan
from chairtime.core.errors import InvalidInput
from chairtime.crm.models import Complaint, GroupChange, NpsSurvey, PatientMerge
from chairtime.crm.tests.helpers_feedback import invoice, visit
from chairtime.crm.timeline.selectors import patient_timeline
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import PatientFactory, PerformedProcedureFactory, UserFactory


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, 7, hour, minute, tzinfo=UTC)


ALL_KINDS = [
    "merge", "group_change", "nps", "complaint", "refund", "payment", "invoice",
    "procedure", "plan_accepted", "plan_presented", "appointment", "audit",
]  # fmt: skip


@pytest.fixture
def patient(world: Any) -> Patient:
    a = world.branch_a
    patient = PatientFactory(home_branch=a)
    doctor = UserFactory()
    visit(a, patient, doctor, at(2))
    TreatmentPlan.objects.create(
        branch=a, patient=patient, title="Crowns", doctor=doctor, presented_at=at(2, 40),
        expires_on=at(2).date() + timedelta(days=90), status="accepted", accepted_at=at(3),
    )  # fmt: skip
    PerformedProcedureFactory(branch=a, patient=patient, doctor=doctor, performed_at=at(3))
    invoice(a, patient, "500000", issued_at=at(4))
    payment = Payment.objects.create(
        branch=a, patient=patient, kind="payment", method="cash", currency="VND",
        amount=Decimal("500000"), received_at=at(5), received_on=at(5).date(),
    )  # fmt: skip
    Refund.objects.create(
        branch=a, patient=patient, payment=payment, method="cash", amount=Decimal("100000"),
        reason="Overpaid", refunded_at=at(6), refunded_on=at(6).date(),
    )  # fmt: skip
    Complaint.objects.create(
        organization=world.acme, branch=a, patient=patient, category="waiting",
        severity="low", description="Slow", received_at=at(7),
    )  # fmt: skip
    NpsSurvey.objects.create(
        organization=world.acme, branch=a, patient=patient, token="t" * 43, language="vi",
        sent_at=at(7, 30), expires_at=at(7, 30) + timedelta(days=30), answered_at=at(8),
        score=9,
    )  # fmt: skip
    NpsSurvey.objects.create(  # not answered: not a touchpoint
        organization=world.acme, branch=a, patient=patient, token="u" * 43, language="vi",
        sent_at=at(8, 30), expires_at=at(8, 30) + timedelta(days=30),
    )  # fmt: skip
    GroupChange.objects.create(
        organization=world.acme, patient=patient, to_group="loyal", rule="loyal.visits",
        changed_at=at(9),
    )  # fmt: skip
    PatientMerge.objects.create(
        organization=world.acme, survivor=patient,
        merged=PatientFactory(home_branch=a, status="merged"), merged_at=at(10), reason="Twin",
    )  # fmt: skip
    record_event(actor=None, action="update", target=patient, patient_id=patient.pk)
    record_event(actor=None, action="view", target=patient, patient_id=patient.pk)
    PatientFactory(home_branch=a)  # someone else: nothing of theirs shows
    return patient


def kinds(patient: Patient, role: Role, **options: Any) -> list[str]:
    page = patient_timeline(patient, user_caps=ROLE_CAPABILITIES[role], **options)
    return [entry.kind for entry in page.entries]


def test_everything_newest_first_for_the_owner(patient):
    assert kinds(patient, Role.OWNER) == ALL_KINDS


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.NURSE, ["merge", "group_change", "nps", "complaint", "procedure",
                      "plan_accepted", "plan_presented", "appointment"]),
        (Role.RECEPTIONIST, ["merge", "group_change", "nps", "complaint", "refund",
                             "payment", "invoice", "appointment"]),
        (Role.MARKETER, ["merge", "group_change", "appointment"]),
        (Role.ANALYST, ["merge", "group_change", "nps", "complaint", "refund", "payment",
                        "invoice", "procedure", "plan_accepted", "plan_presented",
                        "appointment"]),
    ],
)  # fmt: skip
def test_each_kind_only_with_its_capability(patient, role, expected):
    assert kinds(patient, role) == expected


def test_a_group_change_says_its_rule_in_words(patient):
    page = patient_timeline(patient, user_caps=frozenset(Capability))
    change = next(e for e in page.entries if e.kind == "group_change")

    assert (change.title, change.detail) == ("Group: Loyal / VIP", "Frequent paid visits")


def test_money_entries_carry_their_amounts(patient):
    page = patient_timeline(patient, user_caps=frozenset(Capability))
    amounts = {e.kind: (e.amount, e.currency) for e in page.entries if e.amount is not None}

    assert amounts == {
        "invoice": (Decimal("500000"), "VND"),
        "payment": (Decimal("500000"), "VND"),
        "refund": (Decimal("100000"), "VND"),
    }


@pytest.mark.parametrize("limit", range(1, 14))
def test_paging_never_skips_or_repeats(patient, limit):
    seen: list[str] = []
    before = None
    for _page in range(20):
        page = patient_timeline(
            patient, user_caps=frozenset(Capability), before=before, limit=limit
        )
        seen += [entry.kind for entry in page.entries]
        before = page.next_before
        if before is None:
            break

    assert seen == ALL_KINDS


def test_bad_cursor_names_before(patient):
    with pytest.raises(InvalidInput) as error:
        patient_timeline(patient, user_caps=frozenset(Capability), before="yesterday")

    assert list(error.value.errors) == ["before"]


# --- page and API -------------------------------------------------------------------------
def test_htmx_older_returns_only_the_entries(patient, persona, logged_in, monkeypatch):
    monkeypatch.setattr("chairtime.crm.timeline.views.PAGE_SIZE", 5)
    client = logged_in(persona(Role.OWNER))
    url = reverse("crm:patient_timeline", args=[patient.pk])

    first = client.get(url)
    older = client.get(url, {"before": first.context["page"].next_before},
                       headers={"HX-Request": "true"})  # fmt: skip

    assert [e.kind for e in first.context["page"].entries] == ALL_KINDS[:5]
    body = older.content.decode()
    assert re.findall(r'class="timeline-entry timeline-(\w+)"', body) == ALL_KINDS[5:10]
    assert "<h1>" not in body and 'class="timeline-more"' in body


def test_receptionist_page_hides_treatment(patient, persona, logged_in):
    response = logged_in(persona(Role.RECEPTIONIST)).get(
        reverse("crm:patient_timeline", args=[patient.pk])
    )

    assert "Crowns" not in response.content.decode()
    assert "plan_presented" not in [e.kind for e in response.context["page"].entries]


def test_outsider_gets_not_found(patient, outsider, logged_in):
    page = logged_in(outsider).get(reverse("crm:patient_timeline", args=[patient.pk]))
    api = logged_in(outsider).get(
        f"/api/v1/timeline/patients/{patient.pk}", headers={"X-Branch": str(patient.pk)}
    )

    assert (page.status_code, api.status_code) == (404, 404)


def test_api_pages_with_cursor(world, patient, persona, logged_in):
    client = logged_in(persona(Role.RECEPTIONIST))
    headers = {"X-Branch": str(world.branch_a.pk)}
    url = f"/api/v1/timeline/patients/{patient.pk}"

    first = client.get(url, {"limit": 4}, headers=headers).json()
    second = client.get(url, {"limit": 4, "before": first["next_before"]}, headers=headers).json()
    bad = client.get(url, {"before": "nonsense"}, headers=headers)

    assert [e["kind"] for e in first["entries"]] == ["merge", "group_change", "nps", "complaint"]
    assert [e["kind"] for e in second["entries"]] == ["refund", "payment", "invoice", "appointment"]
    assert second["next_before"] is None
    assert second["entries"][0]["amount"] == "100000"
    assert bad.status_code == 422
