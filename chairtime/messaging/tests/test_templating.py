"""Templates as text: saving refuses unknown variables, malformed placeholders, SMS texts
that could run too long and chat texts using what the app's template does not carry,
naming the field and the variable in the user's language; rendering per language."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from chairtime.audit.models import AuditEvent
from chairtime.core.errors import InvalidInput
from chairtime.messaging.automation.defaults import default_templates
from chairtime.messaging.automation.formatting import appointment_time, money
from chairtime.messaging.automation.services import TemplateData, save_template
from chairtime.messaging.automation.templating import (
    render,
    sms_segments,
    validate_template,
)
from chairtime.messaging.models import MessageTemplate
from chairtime.tenancy.roles import Role

REMINDER = "appointment_reminder"


def refusal(**fields) -> dict[str, list[str]]:
    values = {"code": REMINDER, "channel": "sms", "subject": "", "body": "Hi {patient_name}"}
    values.update(fields)
    with pytest.raises(InvalidInput) as error:
        validate_template(**values)
    return error.value.errors


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hi {patient_nam}", "Unknown variable “{patient_nam}”. This purpose offers: "
         "{patient_name}, {appointment_time}, {branch_name}, {branch_phone}, {doctor_name}, "
         "{procedure_name}, {confirm_link}."),
        ("Total {plan_total}", "Unknown variable “{plan_total}”."),
        ("Hi {patient_name", "A “{” or “}” has no partner."),
        ("Hi patient_name}", "A “{” or “}” has no partner."),
        ("Hi {}", "“{}” is not a variable"),
        ("Hi {0}", "“{0}” is not a variable"),
        ("Hi { patient_name }", "“{ patient_name }” is not a variable"),
        ("Hi {patient_name!r}", "“{patient_name!r}” is not a variable"),
        ("Hi {patient_name:>40}", "“{patient_name:>40}” is not a variable"),
        ("Hi {patient_name.upper}", "“{patient_name.upper}” is not a variable"),
        ("Hi {patient_name[0]}", "“{patient_name[0]}” is not a variable"),
    ],
)  # fmt: skip
def test_bad_placeholders_are_refused_naming_the_body_and_the_placeholder(body, message):
    errors = refusal(body=body)

    assert list(errors) == ["body"]
    assert errors["body"][0].startswith(message)


def test_braces_doubled_are_braces_and_render_fills_values_cut_to_their_length():
    validate_template(code=REMINDER, channel="sms", subject="", body="{{C}} {patient_name}")

    assert render("{{C}} {patient_name}", {"patient_name": "N" * 35}) == "{C} " + "N" * 29 + "…"


def test_the_refusal_is_in_the_users_language():
    with translation.override("vi"):
        errors = refusal(body="Chào {ten}")

    assert errors["body"][0].startswith("Unknown variable") is False
    assert "{ten}" in errors["body"][0]


def test_sms_that_could_run_past_six_parts_is_refused():
    # Every variable at its longest, in any alphabet: 6 × 67 = 402 characters at most.
    body = (
        "{patient_name} {appointment_time} {branch_name} {doctor_name} {procedure_name} "
        + "x" * 250
    )
    errors = refusal(body=body)
    assert errors["body"] == [
        "Too long for an SMS: with its variables at their longest it takes 7 messages (439 "
        "characters); at most 6 are allowed."
    ]
    validate_template(code=REMINDER, channel="sms", subject="", body=body[:-40])
    validate_template(code=REMINDER, channel="sms", subject="", body="x" * 900)  # plain GSM
    assert refusal(body="x" * 919)["body"][0].startswith("Too long for an SMS")
    assert sms_segments("x" * 160) == 1 and sms_segments("x" * 161) == 2
    assert sms_segments("ư" * 70) == 1 and sms_segments("ư" * 71) == 2


def test_subjects_are_for_emails_only_and_checked_like_the_text():
    assert refusal(subject="Hello")["subject"] == ["Only e-mails have a subject: leave it empty."]
    assert refusal(channel="email")["subject"] == ["An e-mail needs a subject."]
    assert refusal(channel="email", subject="At {clinic}")["subject"][0].startswith(
        "Unknown variable “{clinic}”"
    )


def test_a_chat_template_may_use_only_what_the_apps_template_carries():
    errors = refusal(channel="zalo", body="Hi {patient_name}, Dr {doctor_name}")

    assert errors == {"body": [
        "“{doctor_name}” is not in the template approved by the chat app, which carries only "
        "{patient_name}, {appointment_time}, {branch_name}."
    ]}  # fmt: skip


def test_every_default_template_is_valid():
    rows = default_templates()

    assert len(rows) == 10 * (4 + 4 + 2 + 2)  # with the waitlist's slot_offer and slot_taken
    for code, channel, _language, subject, body in rows:
        validate_template(code=code, channel=channel, subject=subject, body=body)


def test_dates_times_and_money_follow_the_language_and_the_branch_zone():
    moment = datetime(2030, 9, 25, 2, 30, tzinfo=UTC)
    saigon, madrid = ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("Europe/Madrid")

    assert appointment_time(moment, saigon, "vi") == "09:30 Thứ Tư, 25 tháng 9, 2030"
    assert appointment_time(moment, saigon, "en") == "Wednesday, September 25, 2030, 9:30 AM"
    assert appointment_time(moment, saigon, "zh-hans") == "2030年9月25日星期三 09:30"
    assert appointment_time(moment, madrid, "es") == "miércoles, 25 de septiembre de 2030, 4:30"
    assert appointment_time(moment, saigon, "vi", short=True) == "09:30 Th 4, 25 tháng 9"
    assert money(Decimal("12500000"), "VND", "vi") == "12.500.000 ₫"
    assert money(Decimal("12500000"), "VND", "en") == "₫12,500,000"
    assert money(Decimal("125.5"), "EUR", "es") == "125,50 €"


def test_saving_an_unknown_variable_saves_nothing(world, persona):
    owner = persona(Role.OWNER)
    data = TemplateData(code=REMINDER, channel="sms", language="en", subject="",
                        body="Hi {first_name}", branch=world.branch_a)  # fmt: skip

    with pytest.raises(InvalidInput) as error:
        save_template(actor=owner, organization=world.acme, data=data)

    assert list(error.value.errors) == ["body"]
    assert MessageTemplate.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="messaging.messagetemplate").exists()


def test_a_second_template_for_the_same_purpose_channel_language_and_owner_is_refused(
    world, persona
):
    owner = persona(Role.OWNER)
    data = TemplateData(code=REMINDER, channel="sms", language="en", subject="",
                        body="Hi {patient_name}", branch=world.branch_a)  # fmt: skip
    save_template(actor=owner, organization=world.acme, data=data)

    with pytest.raises(InvalidInput) as error:
        save_template(actor=owner, organization=world.acme, data=data)

    assert error.value.errors == {
        "language": ["There is already a template for this purpose, channel and language here."]
    }
    assert MessageTemplate.objects.count() == 1
