"""A receptionist's day in a real browser: Debian's chromium driven through Playwright.

Log in, switch branches and language, find a patient by typing their name without
accents, and change their email: the pages, htmx and the Content Security Policy
working together, which the test client cannot show.
"""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from django.urls import reverse
from playwright.sync_api import ConsoleMessage, Page, expect

from chairtime.accounts.models import User
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Role
from tests.browser.conftest import SCREENSHOTS
from tests.factories import PASSWORD, BranchFactory, PatientFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def owner(persona) -> User:
    """Organisation-wide, so the branch switcher offers both of acme's branches."""
    return persona(Role.OWNER)


@pytest.fixture
def anh(world) -> Patient:
    return PatientFactory(
        home_branch=world.branch_a, family_name="Nguyễn", given_name="Thị Ánh",
        phone="+84912345678", email="anh@example.com", birth_date=date(1990, 5, 17),
    )  # fmt: skip


def log_in(page: Page, base_url: str, user: User) -> None:
    page.goto(base_url + reverse("accounts:login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_username) button[type=submit]").click()


def test_owner_logs_in_switches_branch_and_language_finds_a_patient_and_changes_the_email(
    live_server, page, world, owner, anh
):
    PatientFactory(home_branch=world.branch_a, family_name="Trần", given_name="Văn Bình")
    namesake_in_b = PatientFactory(
        home_branch=world.branch_b, family_name="Nguyễn", given_name="Thị Ánh"
    )
    heading = page.locator("main h1")

    log_in(page, live_server.url, owner)
    expect(heading).to_have_text("Acme Hà Nội")  # the first of the owner's branches by name

    page.select_option("#branch-switcher", str(world.branch_a.pk))
    expect(heading).to_have_text("Acme Quận 1")
    page.select_option("#branch-switcher", str(world.branch_b.pk))
    expect(heading).to_have_text("Acme Hà Nội")
    page.select_option("#branch-switcher", str(world.branch_a.pk))
    expect(heading).to_have_text("Acme Quận 1")

    page.select_option("#language-switcher", "vi")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    # Django spells the name decomposed (ê + U+0301), so compare it normalised.
    chosen = page.locator("#language-switcher option:checked").inner_text()
    assert unicodedata.normalize("NFC", chosen) == "Tiếng Việt"
    expect(heading).to_have_text("Acme Quận 1")
    owner.refresh_from_db()
    assert owner.language == "vi"

    page.click(f"nav.sidebar a[href='{reverse('patients:patient_list')}']")
    expect(page.locator("#patient-results tbody tr")).to_have_count(2)
    page.evaluate("window.loadedOnce = true")  # gone if the search reloaded the whole page
    page.locator("#patient-search").press_sequentially("nguyen thi anh", delay=40)
    results = page.locator("#patient-results tbody tr")
    expect(results).to_have_count(1)
    expect(results).to_contain_text(anh.number)
    expect(results).not_to_contain_text(namesake_in_b.number)  # this branch only
    assert page.evaluate("window.loadedOnce") is True
    expect(page).to_have_url(  # htmx pushed the search into the address bar
        live_server.url + reverse("patients:patient_list") + "?q=nguyen%20thi%20anh&scope=branch"
    )

    results.get_by_role("link", name="Nguyễn Thị Ánh").click()
    expect(heading).to_have_text("Nguyễn Thị Ánh")
    page.click(f"a[href='{reverse('patients:patient_edit', args=[anh.pk])}']")
    expect(page.locator("#id_email")).to_have_value("anh@example.com")
    page.fill("#id_email", "thi.anh@example.vn")
    page.locator("form.grid-form button[type=submit]").click()

    expect(page).to_have_url(live_server.url + reverse("patients:patient_detail", args=[anh.pk]))
    expect(page.locator("dd", has_text="thi.anh@example.vn")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "patient_detail.png"), full_page=True)
    anh.refresh_from_db()
    assert anh.email == "thi.anh@example.vn"
    assert anh.birth_date == date(1990, 5, 17)  # the rest of the form came back unchanged
    assert list(anh.phones.values_list("number", flat=True)) == ["+84912345678"]


@pytest.mark.parametrize("language", ["es", "zh-hans"])
def test_saving_the_edit_form_in_a_language_without_iso_dates_keeps_the_birth_date(
    live_server, page, owner, anh, language
):
    log_in(page, live_server.url, owner)
    page.select_option("#language-switcher", language)
    expect(page.locator("html")).to_have_attribute("lang", language)

    page.goto(live_server.url + reverse("patients:patient_edit", args=[anh.pk]))
    expect(page.locator("#id_birth_date")).to_have_value("1990-05-17")
    page.fill("#id_notes", "Prefers mornings")
    page.locator("form.grid-form button[type=submit]").click()

    expect(page).to_have_url(live_server.url + reverse("patients:patient_detail", args=[anh.pk]))
    anh.refresh_from_db()
    assert anh.notes == "Prefers mornings"
    assert anh.birth_date == date(1990, 5, 17)


def test_branch_switcher_reaches_a_branch_whose_id_needs_a_thousands_separator(
    live_server, page, world, owner
):
    far = BranchFactory(pk=1_234_567, organization=world.acme, name="Acme Đà Nẵng", code="c")

    log_in(page, live_server.url, owner)
    page.select_option("#branch-switcher", "1234567")  # not "1,234,567"

    expect(page.locator("main h1")).to_have_text(far.name)


def test_patient_list_and_search_break_no_content_security_policy_rule(
    live_server, page, owner, anh
):
    console: list[ConsoleMessage] = []

    def collect(message: ConsoleMessage) -> None:
        console.append(message)

    page.on("console", collect)

    log_in(page, live_server.url, owner)
    page.goto(live_server.url + reverse("patients:patient_list") + "?scope=all")
    page.locator("#patient-search").press_sequentially("anh", delay=40)
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)

    assert page.evaluate("typeof window.htmx") == "object"  # the vendored script ran
    violations = [m.text for m in console if "Content Security Policy" in m.text]
    assert violations == []
