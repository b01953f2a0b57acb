"""The API of templates and rules: the same validators as the pages (422 naming the field,
nothing saved), writes audited, and the capability matrix (forbidden == 404)."""

from __future__ import annotations

import json

import pytest

from chairtime.messaging.models import AutomationRule, MessageTemplate
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role

TEMPLATES = "/api/v1/messaging/templates"
RULES = "/api/v1/messaging/rules"


def post(client, url, payload, branch):
    return client.post(url, json.dumps(payload), content_type="application/json",
                       HTTP_X_BRANCH=str(branch.pk))  # fmt: skip


def put(client, url, payload, branch):
    return client.put(url, json.dumps(payload), content_type="application/json",
                      HTTP_X_BRANCH=str(branch.pk))  # fmt: skip


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_templates_and_rules_answer_exactly_the_roles_that_configure_messaging(
    role, world, persona, logged_in
):
    client = logged_in(persona(role))
    expected = 200 if Capability.MESSAGING_CONFIGURE in ROLE_CAPABILITIES[role] else 404

    answers = {url: client.get(url, HTTP_X_BRANCH=str(world.branch_a.pk)).status_code
               for url in (TEMPLATES, RULES)}  # fmt: skip

    assert answers == {TEMPLATES: expected, RULES: expected}


def test_another_organisations_template_is_not_found(world, persona, outsider, logged_in):
    logged_in(persona(Role.OWNER)).get(TEMPLATES, HTTP_X_BRANCH=str(world.branch_a.pk))
    template = MessageTemplate.objects.filter(organization=world.acme).first()

    response = logged_in(outsider).get(f"{TEMPLATES}/{template.pk}",
                                       HTTP_X_BRANCH=str(world.rival_branch.pk))  # fmt: skip

    assert response.status_code == 404


def test_creating_a_template_with_an_unknown_variable_is_422_naming_the_field(
    world, persona, logged_in
):
    client = logged_in(persona(Role.OWNER))
    payload = {"code": "birthday_greeting", "channel": "sms", "language": "es",
               "body": "¡Feliz cumpleaños, {nombre}!", "branch_id": world.branch_a.pk}  # fmt: skip

    response = post(client, TEMPLATES, payload, world.branch_a)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["body"]
    assert response.json()["errors"]["body"][0].startswith("Unknown variable “{nombre}”.")
    assert not MessageTemplate.objects.filter(branch=world.branch_a).exists()


def test_templates_are_created_and_changed(world, persona, logged_in):
    client = logged_in(persona(Role.OWNER))
    payload = {"code": "birthday_greeting", "channel": "email", "language": "es",
               "subject": "¡Felicidades, {patient_name}!", "body": "Regalo: {offer}",
               "branch_id": world.branch_a.pk}  # fmt: skip

    created = post(client, TEMPLATES, payload, world.branch_a)
    changed = put(client, f"{TEMPLATES}/{created.json()['id']}", {**payload, "body": "Hoy: {offer}"},
                  world.branch_a)  # fmt: skip
    preview = post(
        client, f"{TEMPLATES}/preview", {**payload, "body": "Hoy: {offer}"}, world.branch_a
    )

    assert created.status_code == 201 and changed.status_code == 200
    assert changed.json()["body"] == "Hoy: {offer}"
    assert preview.json() == {"subject": "¡Felicidades, María García López!",
                              "body": "Hoy: un 15 % de descuento en blanqueamiento", "params": {},
                              "sms_parts": 0}  # fmt: skip


def test_rules_use_the_pages_validators(world, persona, logged_in):
    client = logged_in(persona(Role.OWNER))
    payload = {"name": "Reminder 2 hours", "kind": "reminder", "channels": ["sms", "email"],
               "offset_value": 2, "offset_unit": "hours", "branch_id": world.branch_b.pk}  # fmt: skip

    bad = post(
        client, RULES, {**payload, "channels": ["sms", "fax"], "offset_value": 0}, world.branch_a
    )
    good = post(client, RULES, payload, world.branch_a)

    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"channels"}
    assert good.status_code == 201
    assert (good.json()["channels"], good.json()["branch_id"]) == (
        ["sms", "email"],
        world.branch_b.pk,
    )
    rule = AutomationRule.objects.get(name="Reminder 2 hours")
    off = put(client, f"{RULES}/{rule.pk}", {**payload, "is_enabled": False}, world.branch_a)
    assert off.json()["is_enabled"] is False
    assert bad.json()["errors"]["channels"][0].startswith("Select a valid choice.")


def test_a_branch_configurator_cannot_change_the_organisations_rules(world, persona, logged_in):
    client = logged_in(persona(Role.BRANCH_MANAGER))
    rules = client.get(RULES, HTTP_X_BRANCH=str(world.branch_a.pk)).json()
    org_rule = next(r for r in rules if r["branch_id"] is None)
    payload = {"name": "Mine", "kind": "reminder", "channels": ["sms"], "offset_value": 2}

    assert put(client, f"{RULES}/{org_rule['id']}", payload, world.branch_a).status_code == 404
    assert (
        post(client, RULES, payload, world.branch_a).status_code == 422
    )  # every branch: not theirs
    assert (
        post(client, RULES, {**payload, "branch_id": world.branch_a.pk}, world.branch_a).status_code
        == 201
    )
