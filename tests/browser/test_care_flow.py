"""A receptionist works "My tasks today" in a real browser (Debian's chromium via
Playwright, set up as in test_patient_flow.py).

Two calls are due for the receptionists of branch A. The first is recorded as unanswered:
it leaves today's list until the cool-off is over. The second is reached: the dialog shows
the outcome, the list reloads without it, and the task is done with its call on record.
The dialog, htmx's reload on the "care-changed" event and the Content Security Policy
working together, which the test client cannot show.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from chairtime.care.choices import Outcome, TaskKind, TaskStatus
from chairtime.care.models import CareTask, TaskAttempt
from chairtime.care.tests.helpers import make_task
from chairtime.tenancy.roles import Role
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_appointment_book import watch_console
from tests.browser.test_patient_flow import log_in
from tests.factories import PatientFactory

pytestmark = pytest.mark.browser


def test_receptionist_completes_a_care_task_from_my_tasks_today(live_server, page, world, persona):
    receptionist = persona(Role.RECEPTIONIST)
    now = timezone.now()
    lan = PatientFactory(home_branch=world.branch_a, family_name="Võ", given_name="Thị Lan")
    hai = PatientFactory(home_branch=world.branch_a, family_name="Đỗ", given_name="Văn Hải")
    recall = make_task(
        world.branch_a, lan, kind=TaskKind.RECALL_DUE, due_at=now - timedelta(days=1)
    )
    birthday = make_task(
        world.branch_a, hai, kind=TaskKind.BIRTHDAY, due_at=now - timedelta(hours=2)
    )
    violations = watch_console(page)

    log_in(page, live_server.url, receptionist)
    page.click(f"nav.sidebar a[href='{reverse('care:my_tasks')}']")
    expect(page.locator("main h1")).to_have_text("My tasks today")
    rows = page.locator("#my-task-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#my-task-count")).to_have_text("2 calls to make.")

    # Nobody answers at Lan's: the call waits for the cool-off, off today's list.
    rows.filter(has_text="Võ Thị Lan").get_by_role("link", name="Record a call").click()
    dialog = page.locator("#care-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#dialog-title")).to_have_text("Recall due: Võ Thị Lan")
    dialog.get_by_label("No answer").check()
    dialog.locator("#attempt-form button[type=submit]").click()
    expect(dialog.locator(".notice")).to_have_text("Call recorded: No answer.")
    expect(rows).to_have_count(1)
    page.locator("#care-dialog [data-close-dialog]").click()
    expect(dialog).to_be_hidden()

    # Hải picks up: reached, with a note; the task is done and leaves the list.
    rows.filter(has_text="Đỗ Văn Hải").get_by_role("link", name="Record a call").click()
    expect(dialog.locator("#dialog-title")).to_have_text("Birthday call: Đỗ Văn Hải")
    dialog.get_by_label("Reached").check()
    dialog.locator("#id_note").fill("Wished him a happy birthday; will come in May.")
    dialog.locator("#attempt-form button[type=submit]").click()
    expect(dialog.locator(".notice")).to_have_text("Call recorded: Reached.")
    expect(dialog.locator("#task-status")).to_have_text("Done · Reached")
    expect(dialog.locator("#attempt-form")).to_have_count(0)
    expect(page.locator("#my-task-table tbody tr td.empty")).to_have_text(
        "Nothing due: every call of today is made."
    )
    expect(page.locator("#my-task-count")).to_have_text("0 calls to make.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "care_my_tasks.png"), full_page=True)

    # The branch's list still has Lan's call, waiting; it opens in the same dialog.
    page.locator("#care-dialog [data-close-dialog]").click()
    page.click(f"a[href='{reverse('care:task_list')}']")
    expect(page.locator("main h1")).to_have_text("Care tasks")
    table = page.locator("#task-table tbody tr")
    expect(table).to_have_count(2)
    table.filter(has_text="Võ Thị Lan").get_by_role("link", name="Võ Thị Lan").click()
    expect(dialog.locator("#dialog-title")).to_have_text("Recall due: Võ Thị Lan")
    expect(dialog.locator("#task-attempts tbody tr")).to_have_count(1)
    expect(dialog.locator("#task-attempts tbody tr")).to_contain_text("No answer")

    recall.refresh_from_db()
    birthday.refresh_from_db()
    assert (recall.status, recall.attempts, recall.outcome) == (
        TaskStatus.OPEN, 1, Outcome.NO_ANSWER,
    )  # fmt: skip
    assert recall.next_attempt_at > timezone.now()
    assert (birthday.status, birthday.outcome, birthday.closed_by_id) == (
        TaskStatus.DONE, Outcome.REACHED, receptionist.pk,
    )  # fmt: skip
    assert list(TaskAttempt.objects.filter(task=birthday).values_list("outcome", "note")) == [
        (Outcome.REACHED, "Wished him a happy birthday; will come in May.")
    ]
    assert CareTask.objects.filter(status=TaskStatus.OPEN).count() == 1
    assert violations == []
