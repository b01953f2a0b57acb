"""Which template a patient gets: their language, else the branch's, else any; in each
language the branch's own version before the organisation's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chairtime.messaging.automation.selectors import TemplateBook
from chairtime.messaging.models import Message, MessageTemplate
from chairtime.messaging.tests.automation_helpers import (
    NOW,
    appointment,
    only_rules,
    patient,
    reminder,
    run,
)
from tests.factories import BranchFactory

CODE = "appointment_reminder"


def template(organization, language, body, branch=None, channel="sms"):
    return MessageTemplate.objects.create(organization=organization, branch=branch, code=CODE,
                                          channel=channel, language=language, body=body)  # fmt: skip


@pytest.fixture
def book(world):
    template(world.acme, "en", "org en")
    template(world.acme, "vi", "org vi")
    template(world.acme, "es", "branch es", branch=world.branch_a)
    template(world.acme, "vi", "branch vi", branch=world.branch_a)
    return TemplateBook.of(world.acme.pk)


@pytest.mark.parametrize(
    ("branch", "languages", "expected"),
    [
        ("a", ("vi", "vi"), "branch vi"),  # the branch's own version wins
        ("b", ("vi", "vi"), "org vi"),  # another branch gets the organisation's
        ("a", ("es", "vi"), "branch es"),
        ("b", ("es", "vi"), "org vi"),  # no Spanish for branch B: the branch's language
        ("b", ("zh-hans", "de", "en"), "org en"),  # neither: any, in the site's order
        ("a", ("", "en"), "org en"),  # no preference: the branch's language
    ],
)
def test_choice_by_language_then_branch(world, book, branch, languages, expected):
    chosen = book.choose(
        branch_id=(world.branch_a if branch == "a" else world.branch_b).pk, code=CODE,
        channel="sms", languages=languages,
    )  # fmt: skip

    assert chosen is not None
    assert chosen.body == expected


def test_nothing_for_a_channel_without_templates(world, book):
    assert (
        book.choose(branch_id=world.branch_a.pk, code=CODE, channel="email", languages=("en",))
        is None
    )


def test_generation_uses_the_patients_language_then_the_branchs(world):
    madrid = BranchFactory(organization=world.acme, country="ES", time_zone="Europe/Madrid",
                           currency="EUR", locale="es_ES", code="mad")  # fmt: skip
    only_rules(world.branch_a, reminder(3))
    MessageTemplate.objects.filter(code=CODE, channel="sms", language="vi").update(
        body="VI {patient_name}"
    )
    MessageTemplate.objects.filter(code=CODE, channel="sms", language="es").update(
        body="ES {patient_name}"
    )
    MessageTemplate.objects.filter(code=CODE, channel="sms", language="en").update(
        body="EN {patient_name}"
    )
    english = patient(world.branch_a, display_name="Ann", preferred_language="en")
    unknown = patient(world.branch_a, display_name="Bao")
    spanish = patient(madrid, phone="+34612345678", display_name="Carmen")
    for n, who in enumerate((english, unknown, spanish)):
        appointment(who.home_branch, who, starts_at=NOW + timedelta(hours=5 + n))

    run(world.branch_a)

    assert sorted(Message.objects.values_list("body", flat=True)) == [
        "EN Ann",
        "ES Carmen",
        "VI Bao",
    ]
