"""A marketer's filter in a real browser: build it, watch the live count, save it as a
segment, export it to CSV, and open a patient from it (htmx under the strict CSP)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import ConsoleMessage, Page, expect

from chairtime.accounts.models import User
from chairtime.crm.models import Segment
from chairtime.tenancy.roles import Role
from tests.browser.conftest import SCREENSHOTS
from tests.factories import PASSWORD, PatientFactory, PatientProfileFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def owner(persona) -> User:
    return persona(Role.OWNER)


def log_in(page: Page, base_url: str, user: User) -> None:
    page.goto(base_url + reverse("accounts:login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_username) button[type=submit]").click()


def test_build_a_filter_save_it_export_it_and_open_a_patient(live_server, page, world, owner):
    regulars = []
    for number, visits, day in [("P1", 5, 3), ("P2", 8, 9), ("P3", 1, 5), ("P4", 3, 1)]:
        patient = PatientFactory(
            home_branch=world.branch_a, number=number, family_name="Lê", given_name=f"Thị {number}"
        )
        PatientProfileFactory(
            patient=patient, visit_count=visits, last_visit_on=date(2030, 1, day), group="loyal"
        )
        regulars.append(patient)
    console: list[ConsoleMessage] = []

    def collect(message: ConsoleMessage) -> None:
        console.append(message)

    page.on("console", collect)

    log_in(page, live_server.url, owner)
    page.goto(live_server.url + reverse("crm:filter_builder"))
    count = page.locator("#filter-count")
    # A fresh builder opens on the VIPs, counted: the four regulars.
    expect(
        page.locator("select[name='g-0-c-0-value'] option[value='loyal'][selected]")
    ).to_have_count(1)
    expect(count).to_have_text("4")
    page.select_option("#g-0-c-0-field", "visit_count")  # the builder re-renders the row
    expect(page.locator("#g-0-c-0-op option[value='gte']")).to_have_count(1)
    page.select_option("#g-0-c-0-op", "gte")
    # Re-rendered by the server: the choice is now in the HTML, not only in the select.
    expect(page.locator("#g-0-c-0-op option[value='gte'][selected]")).to_have_count(1)
    expect(page.locator("#filter-preview")).to_contain_text("Visits: Expected a whole number.")
    page.locator("input[name='g-0-c-0-value']").fill("0")
    expect(count).to_have_text("4")
    page.locator("input[name='g-0-c-0-value']").fill("4")
    expect(count).to_have_text("2")
    expect(page.locator("#filter-preview tbody tr").first).to_contain_text("Lê Thị P2")

    page.fill("#segment-name", "Regulars")
    page.click("#segment-save")
    expect(page).to_have_url(re.compile(r"/patients/segments/\d+/$"))
    segment = Segment.objects.get(name="Regulars")
    assert page.url == live_server.url + reverse("crm:segment_detail", args=[segment.pk])
    expect(page.locator("#segment-count")).to_have_text("2")

    with page.expect_download() as caught:
        page.click("#segment-export-csv")
    download = caught.value
    assert download.suggested_filename.startswith(f"segment-{segment.pk}-")
    lines = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines] == ["Number", "P2", "P1"]

    page.get_by_role("link", name="Lê Thị P1").click()
    expect(page.locator("main h1")).to_have_text("Lê Thị P1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "segment_patient.png"), full_page=True)
    refused = [m.text for m in console if "Content Security Policy" in m.text]
    assert refused == []
