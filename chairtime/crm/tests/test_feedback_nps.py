"""The NPS report: exact arithmetic by doctor, branch and month, the window, and who may
read it (analytics.view; another organisation's surveys never count)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.crm.feedback.selectors import NpsRow, nps_report
from chairtime.crm.models import NpsSurvey
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, UserFactory

TODAY = date(2030, 3, 15)


def _survey(branch: Branch, doctor: User | None, sent_at: datetime, score: int | None) -> None:
    patient = PatientFactory(home_branch=branch)
    NpsSurvey.objects.create(
        organization_id=branch.organization_id, branch=branch, patient=patient, doctor=doctor,
        token=secrets.token_urlsafe(32), language="en", sent_at=sent_at,
        expires_at=sent_at + timedelta(days=30),
        answered_at=None if score is None else sent_at + timedelta(hours=2), score=score,
    )  # fmt: skip


@pytest.fixture
def doctors(world: Any) -> tuple[User, User]:
    xuan = UserFactory(first_name="Xuân", last_name="Bác sĩ")
    yen = UserFactory(first_name="Yến", last_name="Bác sĩ")
    march = datetime(2030, 3, 10, 3, 0, tzinfo=UTC)
    february = datetime(2030, 2, 10, 3, 0, tzinfo=UTC)
    for score in (10, 9, 8, 6, 0, None):
        _survey(world.branch_a, xuan, march, score)
    for score in (9, 9, 7):
        _survey(world.branch_a, yen, february, score)
    _survey(world.branch_b, yen, march, 3)
    # 23:30 on 31 January in Ho Chi Minh City: January there, outside a 2-month window.
    _survey(world.branch_a, xuan, datetime(2030, 1, 31, 16, 30, tzinfo=UTC), 10)
    _survey(world.rival_branch, xuan, march, 0)  # another organisation
    return xuan, yen


def _figures(row: NpsRow) -> tuple[Any, ...]:
    return (row.sent, row.answered, row.promoters, row.passives, row.detractors, row.nps,
            row.response_rate)  # fmt: skip


def test_branch_report_by_doctor_and_month(world, doctors):
    xuan, yen = doctors

    report = nps_report(branch=world.branch_a, months=2, today=TODAY)

    assert _figures(report.total) == (9, 8, 4, 2, 2, Decimal("25.0"), Decimal("88.9"))
    by_doctor = {row.key: _figures(row) for row in report.by_doctor}
    assert by_doctor == {
        xuan.pk: (6, 5, 2, 1, 2, Decimal("0.0"), Decimal("83.3")),
        yen.pk: (3, 3, 2, 1, 0, Decimal("66.7"), Decimal("100.0")),
    }
    assert [(row.label, row.sent, row.nps) for row in report.by_month] == [
        ("2030-02", 3, Decimal("66.7")), ("2030-03", 6, Decimal("0.0")),
    ]  # fmt: skip
    assert [row.label for row in report.by_branch] == [world.branch_a.name]


def test_window_takes_the_local_month(world, doctors):
    report = nps_report(branch=world.branch_a, months=3, today=TODAY)

    assert [(row.label, row.sent, row.nps) for row in report.by_month] == [
        ("2030-01", 1, Decimal("100.0")), ("2030-02", 3, Decimal("66.7")),
        ("2030-03", 6, Decimal("0.0")),
    ]  # fmt: skip


def test_organisation_report_by_branch(world, doctors):
    report = nps_report(organization=world.acme, months=2, today=TODAY)

    by_branch = {row.key: _figures(row) for row in report.by_branch}
    assert by_branch == {
        world.branch_a.pk: (9, 8, 4, 2, 2, Decimal("25.0"), Decimal("88.9")),
        world.branch_b.pk: (1, 1, 0, 0, 1, Decimal("-100.0"), Decimal("100.0")),
    }
    assert _figures(report.total) == (10, 9, 4, 2, 3, Decimal("11.1"), Decimal("90.0"))


def test_empty_report_has_no_score(world):
    report = nps_report(branch=world.branch_a, months=1, today=TODAY)

    assert (report.total.nps, report.total.response_rate) == (None, None)
    assert [(row.label, row.sent) for row in report.by_month] == [("2030-03", 0)]


@pytest.mark.parametrize(
    ("promoters", "detractors", "answered", "expected"),
    [(1, 0, 3, "33.3"), (2, 0, 3, "66.7"), (0, 1, 8, "-12.5"), (1, 2, 3, "-33.3")],
)
def test_nps_rounds_half_up_to_one_decimal(promoters, detractors, answered, expected):
    row = NpsRow(key=None, label="", sent=answered, answered=answered, promoters=promoters,
                 detractors=detractors, passives=answered - promoters - detractors)  # fmt: skip

    assert row.nps == Decimal(expected)


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OWNER, 200), (Role.DOCTOR, 200), (Role.MARKETER, 200), (Role.RECEPTIONIST, 404)],
)
def test_report_page_needs_analytics(world, doctors, persona, logged_in, role, status):
    response = logged_in(persona(role)).get(reverse("crm:nps_report"))

    assert response.status_code == status


def test_branch_doctor_cannot_widen_to_the_organisation(world, doctors, persona, logged_in):
    doctor_page = logged_in(persona(Role.DOCTOR)).get(reverse("crm:nps_report") + "?scope=all")

    assert doctor_page.context["whole"] is False
    assert [row.key for row in doctor_page.context["report"].by_branch] == [world.branch_a.pk]


def test_owner_widens_to_the_organisation(world, doctors, persona, logged_in, client):
    page = logged_in(persona(Role.OWNER)).get(reverse("crm:nps_report") + "?scope=all&months=36")

    assert page.context["whole"] is True
    assert page.context["report"].total.sent == 11  # acme's only


def test_api_report(world, doctors, persona, logged_in):
    client = logged_in(persona(Role.OWNER))

    response = client.get(
        "/api/v1/feedback/nps?months=36", headers={"X-Branch": str(world.branch_b.pk)}
    )
    refused = logged_in(persona(Role.RECEPTIONIST)).get(
        "/api/v1/feedback/nps", headers={"X-Branch": str(world.branch_a.pk)}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["total"]["sent"], body["total"]["nps"], body["total"]["response_rate"]) == (
        1, "-100.0", "100.0",
    )  # fmt: skip
    assert refused.status_code == 404
