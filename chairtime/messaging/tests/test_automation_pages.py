"""Pages of templates, rules and "send to a segment": saving refuses bad input naming the
field and saves nothing, the preview renders for a sample patient, writes are audited, a
branch's configurator cannot change the organisation's rows, and a campaign to a segment
shows its audience, sends marketing messages and is sent once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chairtime.audit.models import AuditEvent
from chairtime.crm.models import Segment
from chairtime.messaging.models import AutomationRule, Message, MessageTemplate
from chairtime.messaging.tests.automation_helpers import patient
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import PatientProfileFactory

TEMPLATE = {"code": "appointment_reminder", "channel": "sms", "language": "en", "subject": "",
            "body": "Hi {patient_name}, see you {appointment_time}."}  # fmt: skip


@pytest.fixture
def owner(persona):
    return persona(Role.OWNER)


def test_template_list_shows_the_default_templates(owner, logged_in):
    response = logged_in(owner).get(reverse("messaging:template_list"))

    assert response.status_code == 200
    assert len(response.context["templates"]) == 120  # 10 purposes x 12
    assert "Chào {patient_name}" in response.content.decode()


def test_a_template_with_an_unknown_variable_is_refused_naming_field_and_variable(
    world, owner, logged_in
):
    data = {**TEMPLATE, "body": "Hi {name}", "branch": str(world.branch_a.pk)}

    response = logged_in(owner).post(reverse("messaging:template_create"), data)

    assert response.status_code == 422
    assert response.context["form"].errors["body"][0].startswith("Unknown variable “{name}”.")
    assert MessageTemplate.objects.filter(branch=world.branch_a).count() == 0


def test_a_branch_template_is_saved_and_audited(world, owner, logged_in):
    data = {**TEMPLATE, "branch": str(world.branch_a.pk)}

    response = logged_in(owner).post(reverse("messaging:template_create"), data)

    assert response.status_code == 302
    template = MessageTemplate.objects.get(branch=world.branch_a)
    assert (template.code, template.body, template.updated_by) == (
        "appointment_reminder", TEMPLATE["body"], owner,
    )  # fmt: skip
    event = AuditEvent.objects.get(object_type="messaging.messagetemplate")
    assert (event.action, event.branch_id, event.actor_id) == (
        "create",
        world.branch_a.pk,
        owner.pk,
    )


def test_a_branch_configurator_may_read_but_not_change_the_organisations_template(
    world, persona, logged_in
):
    manager = persona(Role.BRANCH_MANAGER)  # branch A only
    client = logged_in(manager)
    client.get(reverse("messaging:template_list"))
    template = MessageTemplate.objects.filter(branch=None).first()
    url = reverse("messaging:template_edit", args=[template.pk])

    assert client.get(url).status_code == 200
    assert client.post(url, {**TEMPLATE, "branch": ""}).status_code == 404
    template.refresh_from_db()
    assert template.body != TEMPLATE["body"]
    # A template of their own branch is theirs to change.
    created = client.post(
        reverse("messaging:template_create"), {**TEMPLATE, "branch": str(world.branch_a.pk)}
    )
    assert created.status_code == 302
    assert (
        client.post(reverse("messaging:template_create"), {**TEMPLATE, "branch": ""}).status_code
        == 422
    )


def test_the_preview_fills_the_template_in_for_a_sample_patient(owner, logged_in):
    client = logged_in(owner)

    good = client.post(reverse("messaging:template_preview"), {**TEMPLATE, "language": "vi"})
    bad = client.post(reverse("messaging:template_preview"), {**TEMPLATE, "body": "Hi {x"})

    assert good.status_code == 200
    assert good.context["preview"].body.startswith("Hi Nguyễn Thị Lan, see you 09:30 ")
    assert good.context["preview"].sms_parts == 1
    assert bad.context["errors"] == [
        "A “{” or “}” has no partner. Write variables as {patient_name}; write “{{” or “}}” "
        "for a brace itself."
    ]
    assert MessageTemplate.objects.count() == 0  # nothing saved


def test_rules_are_listed_created_and_refused_with_reasons(owner, logged_in):
    client = logged_in(owner)
    assert len(client.get(reverse("messaging:rule_list")).context["rules"]) == 6
    rule = {"name": "Reminder 2 days", "kind": "reminder", "is_enabled": "on", "offset_value": "2",
            "offset_unit": "days", "send_at": "09:00", "channel_1": "zalo", "channel_2": "sms"}  # fmt: skip

    bad = client.post(
        reverse("messaging:rule_create"), {**rule, "offset_value": "0", "channel_2": "zalo"}
    )
    good = client.post(reverse("messaging:rule_create"), rule)

    assert bad.status_code == 422
    assert bad.context["form"].errors == {
        "offset_value": ["Between 1 and 60."],
        "channel_1": ["Choose each channel once, among SMS, e-mail, Zalo and WeChat."],
    }
    assert good.status_code == 302
    saved = AutomationRule.objects.get(name="Reminder 2 days")
    assert (saved.kind, saved.offset_value, saved.offset_unit, saved.channels) == (
        "reminder", 2, "days", ["zalo", "sms"],
    )  # fmt: skip
    assert (
        AuditEvent.objects.filter(object_type="messaging.automationrule", action="create").count()
        == 1
    )


def test_a_greeting_rule_needs_its_offer_and_a_campaign_its_segment(owner, logged_in):
    client = logged_in(owner)
    base = {"name": "X", "is_enabled": "on", "offset_unit": "hours", "send_at": "09:00",
            "channel_1": "sms"}  # fmt: skip

    birthday = client.post(reverse("messaging:rule_create"), {**base, "kind": "birthday"})
    campaign = client.post(
        reverse("messaging:rule_create"), {**base, "kind": "segment", "offer": "News"}
    )

    assert birthday.context["form"].errors == {
        "offer": ["Write the offer or news the message brings."]
    }
    assert campaign.context["form"].errors == {
        "send_on": ["Give the day to send it on."], "segment": ["Choose the segment to send to."],
    }  # fmt: skip


# --- send to a segment --------------------------------------------------------------------------
@pytest.fixture
def segment(world, persona):
    marketer = persona(Role.MARKETER)
    for branch, count in ((world.branch_a, 3), (world.branch_b, 2)):
        for _ in range(count):
            PatientProfileFactory(patient=patient(branch, preferred_language="en"), visit_count=2)
    PatientProfileFactory(patient=patient(world.branch_a), visit_count=0)
    definition = {"match": "all", "conditions": [{"field": "visit_count", "op": "gte", "value": 1}]}
    return Segment.objects.create(organization=world.acme, name="Came back", definition=definition,
                                  owner=marketer, is_shared=True)  # fmt: skip


def test_the_audience_count_shows_before_sending(world, persona, logged_in, segment):
    client = logged_in(persona(Role.MARKETER))

    page = client.get(reverse("messaging:segment_send"))
    in_a = client.get(reverse("messaging:segment_audience"),
                      {"segment": segment.pk, "branch": world.branch_a.pk})  # fmt: skip

    assert page.context["count"] == 5
    assert "5 patients match now." in page.content.decode()
    assert in_a.content.decode().strip().endswith("3 patients match now.</p>")


def test_sending_puts_marketing_messages_in_the_outbox_once_per_campaign(
    world, persona, logged_in, segment
):
    marketer = persona(Role.MARKETER)
    client = logged_in(marketer)
    form = client.get(reverse("messaging:segment_send")).context["form"]
    data = {"segment": segment.pk, "branch": "", "offer": "Free check-up in May.",
            "channel_1": "sms", "campaign_key": form.initial["campaign_key"]}  # fmt: skip

    first = client.post(reverse("messaging:segment_send"), data)
    second = client.post(reverse("messaging:segment_send"), data)

    assert first.context["campaign"].counts.created == 5
    assert "5 messages are in the outbox." in first.content.decode()
    assert "This campaign was already sent" in second.content.decode()
    assert Message.objects.count() == 5 == Message.objects.filter(purpose="marketing").count()
    rule = AutomationRule.objects.get(kind="segment")
    assert (rule.segment, rule.campaign_key, rule.created_by, rule.completed_at is not None) == (
        segment, data["campaign_key"], marketer, True,
    )  # fmt: skip
    body = Message.objects.filter(branch=world.branch_b).first().body
    assert body.startswith("Hi ") and "news from Acme Hà Nội: Free check-up in May." in body
    assert body.endswith("Reply STOP to opt out.")
    # A new form is a new campaign; everyone already had this one's key.
    again = {**data, "campaign_key": "another"}
    assert (
        client.post(reverse("messaging:segment_send"), again).context["campaign"].counts.created
        == 5
    )


def test_someone_without_marketing_edit_cannot_send(world, persona, logged_in, segment):
    client = logged_in(persona(Role.RECEPTIONIST))
    data = {"segment": segment.pk, "offer": "x", "channel_1": "sms", "campaign_key": "k"}

    assert client.post(reverse("messaging:segment_send"), data).status_code == 404
    assert Message.objects.count() == 0


# --- who may write ------------------------------------------------------------------------------
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_writes_answer_exactly_the_roles_holding_the_capability(role, world, persona, logged_in):
    client = logged_in(persona(role))
    configures = Capability.MESSAGING_CONFIGURE in ROLE_CAPABILITIES[role]
    markets = Capability.MARKETING_EDIT in ROLE_CAPABILITIES[role]
    branch = str(world.branch_a.pk)
    rule = {"name": "Walk", "kind": "reminder", "is_enabled": "on", "offset_value": "2",
            "offset_unit": "hours", "send_at": "09:00", "channel_1": "sms", "branch": branch}  # fmt: skip

    answers = {
        "template": client.post(reverse("messaging:template_create"), {**TEMPLATE, "branch": branch}).status_code,
        "preview": client.post(reverse("messaging:template_preview"), TEMPLATE).status_code,
        "rule": client.post(reverse("messaging:rule_create"), rule).status_code,
        "segment": client.post(reverse("messaging:segment_send"), {}).status_code,
    }  # fmt: skip

    assert answers == {
        "template": 302 if configures else 404, "preview": 200 if configures else 404,
        "rule": 302 if configures else 404, "segment": 422 if markets else 404,
    }  # fmt: skip
    assert MessageTemplate.objects.filter(branch=world.branch_a).count() == int(configures)
    assert AutomationRule.objects.filter(name="Walk").count() == int(configures)
