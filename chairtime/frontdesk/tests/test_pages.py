"""The front desk's pages and API through the client: who sees what, the printable view,
the fee button, the settings, the version the pages poll."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from chairtime.billing.models import Invoice
from chairtime.frontdesk.models import DailyGoal, DaySnapshot, NoShowFee, NoShowFeeRule
from chairtime.frontdesk.selectors import get_book_version
from chairtime.frontdesk.tests.helpers import appointment, local
from chairtime.labs.models import Lab, LabCase
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from tests.factories import (
    ChairFactory,
    PatientFactory,
    ProcedureFactory,
    ProcedurePriceFactory,
    make_doctor,
)


@pytest.fixture
def today_booked(world) -> Appointment:
    """An unconfirmed filling at 15:00 today in branch A (price 500,000)."""
    branch = world.branch_a
    today = timezone.localdate(timezone=branch.zone)
    procedure = ProcedureFactory(organization=world.acme, code="FIL", name="Filling")
    ProcedurePriceFactory(branch=branch, procedure=procedure, price=Decimal("500000"))
    patient = PatientFactory(home_branch=branch, family_name="Phạm", given_name="Thu")
    return appointment(
        branch, patient, procedure, make_doctor(branch), ChairFactory(branch=branch),
        local(today, 15),
    )  # fmt: skip


def test_morning_meeting_freezes_today_and_shows_it(today_booked, persona, logged_in):
    DailyGoal.objects.create(branch=today_booked.branch, amount=Decimal("1000000"))
    client = logged_in(persona(Role.RECEPTIONIST))

    response = client.get(reverse("frontdesk:morning_meeting"))

    assert response.status_code == 200
    snapshot = DaySnapshot.objects.get()
    assert (snapshot.scheduled_production, snapshot.appointment_count) == (Decimal("500000"), 1)
    body = response.content.decode()
    assert 'id="unconfirmed"' in body and "Phạm Thu" in body
    assert 'id="balances"' in body and 'id="daily-goal"' in body
    assert (
        f'data-version="{get_book_version(branch=today_booked.branch, day=snapshot.day)}"' in body
    )


def test_money_rows_are_hidden_from_a_nurse(today_booked, persona, logged_in):
    response = logged_in(persona(Role.NURSE)).get(reverse("frontdesk:morning_meeting"))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="balances"' not in body and 'id="daily-goal"' not in body
    assert "500.000" not in body and "500,000" not in body


def test_printable_view_has_no_navigation_and_the_print_stylesheet(
    today_booked, persona, logged_in
):
    response = logged_in(persona(Role.RECEPTIONIST)).get(
        reverse("frontdesk:morning_meeting") + "?print=1"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "css/print.css" in body and 'class="sidebar"' not in body and "Phạm Thu" in body


@pytest.mark.parametrize("query", ["", "?print=1"], ids=["page", "printable"])
def test_morning_meeting_lists_lab_cases_not_back_in_the_next_days(
    today_booked, persona, logged_in, query
):
    branch = today_booked.branch
    ahead = timezone.localdate(timezone=branch.zone) + timedelta(days=3)
    later = appointment(
        branch, PatientFactory(home_branch=branch, family_name="Đỗ", given_name="Lan"),
        ProcedureFactory(organization=branch.organization, code="CRN", name="Crown"),
        make_doctor(branch), ChairFactory(branch=branch), local(ahead, 9, 30),
    )  # fmt: skip
    lab = Lab.objects.create(organization=branch.organization, name="Smile Lab")
    LabCase.objects.create(
        branch=branch, patient=later.patient, lab=lab, kind="crown", status="sent",
        due_on=ahead - timedelta(days=1), appointment=later, ordered_at=timezone.now(),
        sent_at=timezone.now(),
    )  # fmt: skip

    response = logged_in(persona(Role.RECEPTIONIST)).get(
        reverse("frontdesk:morning_meeting") + query
    )

    body = response.content.decode()
    assert response.status_code == 200
    section = body[body.index('id="lab-ahead"') : body.index('id="unconfirmed"')]
    assert f'data-appointment="{later.pk}"' in section
    assert "Đỗ Lan" in section and "Crown" in section and "Smile Lab" in section
    assert "09:30" in section or "9:30" in section
    assert section.count("data-appointment=") == 1  # today's filling needs no lab


def test_a_past_day_is_not_frozen_from_the_page(today_booked, persona, logged_in):
    yesterday = timezone.localdate(timezone=today_booked.branch.zone) - timedelta(days=1)

    response = logged_in(persona(Role.RECEPTIONIST)).get(
        reverse("frontdesk:morning_meeting") + f"?day={yesterday.isoformat()}"
    )

    assert response.status_code == 200
    assert DaySnapshot.objects.count() == 0


def test_evening_meeting_renders(today_booked, persona, logged_in):
    response = logged_in(persona(Role.RECEPTIONIST)).get(reverse("frontdesk:evening_meeting"))

    assert response.status_code == 200
    assert 'id="gaps"' in response.content.decode()


def test_version_answers_204_while_nothing_changed(today_booked, persona, logged_in):
    client = logged_in(persona(Role.DOCTOR))
    day = timezone.localdate(timezone=today_booked.branch.zone).isoformat()
    url = reverse("frontdesk:book_version") + f"?day={day}"

    first = client.get(url).json()["version"]
    unchanged = client.get(f"{url}&since={first}")
    Appointment.objects.filter(pk=today_booked.pk).update(
        status=AppointmentStatus.CONFIRMED, updated_at=timezone.now() + timedelta(seconds=1)
    )
    changed = client.get(f"{url}&since={first}")

    assert unchanged.status_code == 204
    assert changed.status_code == 200 and changed.json()["version"] != first
    assert client.get(reverse("frontdesk:book_version") + "?day=nope").status_code == 400


@pytest.mark.parametrize(
    "role, status", [(Role.NURSE, 200), (Role.ANALYST, 200), (Role.MARKETER, 404),
                     (Role.INVENTORY_CLERK, 404)],
)  # fmt: skip
def test_version_needs_schedule_view(world, persona, logged_in, role, status):
    response = logged_in(persona(role)).get(reverse("frontdesk:book_version"))

    assert response.status_code == status


def test_fee_button_charges_once(today_booked, persona, logged_in):
    Appointment.objects.filter(pk=today_booked.pk).update(status=AppointmentStatus.NO_SHOW)
    NoShowFeeRule.objects.create(
        branch=today_booked.branch, is_enabled=True, amount=Decimal("100000"), from_count=1
    )
    client = logged_in(persona(Role.RECEPTIONIST))
    report = reverse("frontdesk:no_show_report")
    url = reverse("frontdesk:fee_charge", args=[today_booked.pk])

    before = client.get(report).content.decode()
    client.post(url)
    again = client.post(url, follow=True)

    assert f'action="{url}"' in before
    assert (Invoice.objects.count(), NoShowFee.objects.count()) == (1, 1)
    body = again.content.decode()
    assert "already charged" in body and f'action="{url}"' not in body


def test_fee_needs_money_collect_and_a_no_show(today_booked, persona, logged_in):
    NoShowFeeRule.objects.create(
        branch=today_booked.branch, is_enabled=True, amount=Decimal("100000"), from_count=1
    )
    url = reverse("frontdesk:fee_charge", args=[today_booked.pk])

    not_missed = logged_in(persona(Role.RECEPTIONIST)).post(url)
    Appointment.objects.filter(pk=today_booked.pk).update(status=AppointmentStatus.NO_SHOW)
    by_doctor = logged_in(persona(Role.DOCTOR)).post(url)

    assert (not_missed.status_code, by_doctor.status_code) == (404, 404)
    assert Invoice.objects.count() == 0


def _missed_days_ago(booked: Appointment, days: int, branch: Branch | None = None) -> Appointment:
    """A no-show `days` ago by the patient of `booked` (in `branch`, else the same one)."""
    branch = branch or booked.branch
    day = timezone.localdate(timezone=branch.zone) - timedelta(days=days)
    return appointment(
        branch, booked.patient if branch == booked.branch else PatientFactory(home_branch=branch),
        ProcedureFactory(organization=branch.organization, code=f"X{days}{branch.pk}"),
        make_doctor(branch), ChairFactory(branch=branch), local(day, 9),
        status=AppointmentStatus.NO_SHOW,
    )  # fmt: skip


def test_report_offers_the_fee_of_a_locked_day_and_charges_it_today(
    today_booked, persona, logged_in
):
    branch = today_booked.branch
    missed = _missed_days_ago(today_booked, 3)
    missed_day = timezone.localdate(missed.starts_at, branch.zone)
    Branch.objects.filter(pk=branch.pk).update(financial_lock_date=missed_day)
    NoShowFeeRule.objects.create(
        branch=branch, is_enabled=True, amount=Decimal("100000"), from_count=1
    )
    client = logged_in(persona(Role.RECEPTIONIST))
    url = reverse("frontdesk:fee_charge", args=[missed.pk])

    report = client.get(reverse("frontdesk:no_show_report") + f"?day={missed_day.isoformat()}")
    charged = client.post(url)

    assert f'action="{url}"' in report.content.decode()
    assert charged.status_code == 302
    fee = NoShowFee.objects.get()
    assert (fee.appointment, fee.invoice.issued_on) == (
        missed, timezone.localdate(timezone=branch.zone),
    )  # fmt: skip


def test_report_offers_no_button_while_today_is_closed(today_booked, persona, logged_in):
    branch = today_booked.branch
    missed = _missed_days_ago(today_booked, 3)
    missed_day = timezone.localdate(missed.starts_at, branch.zone)
    Branch.objects.filter(pk=branch.pk).update(
        financial_lock_date=timezone.localdate(timezone=branch.zone)
    )
    NoShowFeeRule.objects.create(
        branch=branch, is_enabled=True, amount=Decimal("100000"), from_count=1
    )
    url = reverse("frontdesk:fee_charge", args=[missed.pk])

    report = logged_in(persona(Role.RECEPTIONIST)).get(
        reverse("frontdesk:no_show_report") + f"?day={missed_day.isoformat()}"
    )

    body = report.content.decode()
    assert report.status_code == 200
    assert f'action="{url}"' not in body
    assert "100.000" in body or "100,000" in body  # the fee due is still shown


@pytest.mark.parametrize("where", ["branch B", "another organisation"])
def test_fee_of_another_branchs_no_show_is_not_found(
    today_booked, world, persona, logged_in, where
):
    branch = world.branch_b if where == "branch B" else world.rival_branch
    missed = _missed_days_ago(today_booked, 1, branch=branch)
    NoShowFeeRule.objects.create(
        branch=branch, is_enabled=True, amount=Decimal("100000"), from_count=1
    )
    client = logged_in(persona(Role.RECEPTIONIST))

    page = client.post(reverse("frontdesk:fee_charge", args=[missed.pk]))
    api = client.post(f"/api/v1/desk/no-shows/{missed.pk}/fee")

    assert (page.status_code, api.status_code) == (404, 404)
    assert (Invoice.objects.count(), NoShowFee.objects.count()) == (0, 0)


def test_settings_save_the_goal_and_the_rule(world, persona, logged_in):
    client = logged_in(persona(Role.BRANCH_MANAGER))
    url = reverse("frontdesk:desk_settings")

    bad = client.post(url, {"form": "goal", "goal-amount": "12.5", "goal-freeze_at": "06:00"})
    client.post(url, {"form": "goal", "goal-amount": "30000000", "goal-freeze_at": "06:30"})
    client.post(url, {"form": "fee", "fee-is_enabled": "on", "fee-amount": "200000",
                      "fee-from_count": "2"})  # fmt: skip

    assert bad.status_code == 200 and "no minor unit" in bad.content.decode()
    goal = DailyGoal.objects.get(branch=world.branch_a)
    rule = NoShowFeeRule.objects.get(branch=world.branch_a)
    assert (goal.amount, goal.freeze_at.isoformat()) == (Decimal("30000000"), "06:30:00")
    assert (rule.is_enabled, rule.amount, rule.from_count) == (True, Decimal("200000"), 2)


# --- the API ------------------------------------------------------------------------------------
def test_api_charges_a_fee_once_and_reads_the_report(today_booked, persona, logged_in):
    Appointment.objects.filter(pk=today_booked.pk).update(status=AppointmentStatus.NO_SHOW)
    NoShowFeeRule.objects.create(
        branch=today_booked.branch, is_enabled=True, amount=Decimal("100000"), from_count=1
    )
    client = logged_in(persona(Role.RECEPTIONIST))
    url = f"/api/v1/desk/no-shows/{today_booked.pk}/fee"

    first, second = client.post(url), client.post(url)
    report = client.get("/api/v1/desk/no-shows").json()

    assert first.status_code == 201 and first.json()["amount"] == "100000"
    assert second.status_code == 409
    assert [(r["appointment_id"], r["no_shows_in_year"], r["fee_due"]) for r in report] == [
        (today_booked.pk, 1, None)
    ]
    assert report[0]["fee_invoice"] == first.json()["invoice_number"]


def test_api_settings_need_desk_configure(world, persona, logged_in):
    manager = logged_in(persona(Role.BRANCH_MANAGER))
    saved = manager.put(
        "/api/v1/desk/settings/goal", {"amount": "25000000", "freeze_at": "07:00"},
        content_type="application/json",
    )  # fmt: skip
    refused = logged_in(persona(Role.RECEPTIONIST)).get("/api/v1/desk/settings/goal")

    assert saved.status_code == 200 and saved.json()["amount"] == "25000000"
    assert refused.status_code == 404


def test_api_production_freezes_today(today_booked, persona, logged_in):
    response = logged_in(persona(Role.RECEPTIONIST)).get("/api/v1/desk/production")

    assert response.status_code == 200
    assert (response.json()["scheduled_production"], response.json()["appointment_count"]) == (
        "500000", 1,
    )  # fmt: skip
