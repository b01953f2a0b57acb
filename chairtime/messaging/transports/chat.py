"""Template messages for the chat apps: which templates exist, which parameters each takes,
and how our parameter names map onto the provider's fields.

Zalo's notification service (ZNS) and WeChat's template messages carry no free text: the
provider approves a template and the sender fills its named fields. A template code here
("appointment_reminder") has one provider template per channel, whose id comes from the
environment (CHAIRTIME_ZALO_TEMPLATES="appointment_reminder=231234,…"), and a mapping of
our parameters to the provider's field names with their length limits. Our parameter names
are the variables of message templates (`{patient_name}`, `{appointment_time}` …): a
message template on a chat channel may use only the variables its provider template
carries, and generation fills them, cut to these lengths (automation/templating.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from chairtime.core.errors import InvalidInput


@dataclass(frozen=True)
class Field:
    ours: str
    theirs: str
    max_length: int


@dataclass(frozen=True)
class ChatTemplate:
    code: str
    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(field.ours for field in self.fields)


# The parameters each provider template takes: our variable names (those of message
# templates, automation/templating.py) mapped onto the provider's field names. A field
# named "@url" is WeChat's click-through link, outside the template's data.
_GREETING_ZALO = (
    Field("patient_name", "customer_name", 30),
    Field("offer", "promotion", 100),
    Field("branch_name", "clinic_name", 60),
)
_GREETING_WECHAT = (
    Field("patient_name", "thing1", 20),
    Field("offer", "thing2", 20),
    Field("branch_name", "thing3", 20),
)
CHAT_TEMPLATES: dict[str, dict[str, ChatTemplate]] = {
    "zalo": {
        "appointment_reminder": ChatTemplate("appointment_reminder", (
            Field("patient_name", "customer_name", 30), Field("appointment_time", "booking_time", 30),
            Field("branch_name", "clinic_name", 60),
        )),
        "appointment_confirmation_request": ChatTemplate("appointment_confirmation_request", (
            Field("patient_name", "customer_name", 30), Field("appointment_time", "booking_time", 30),
            Field("branch_name", "clinic_name", 60), Field("confirm_link", "confirm_url", 100),
        )),
        "post_visit_instructions": ChatTemplate("post_visit_instructions", (
            Field("patient_name", "customer_name", 30), Field("procedure_name", "service_name", 60),
            Field("branch_phone", "hotline", 20),
        )),
        "treatment_plan_summary": ChatTemplate("treatment_plan_summary", (
            Field("patient_name", "customer_name", 30), Field("plan_title", "plan_name", 60),
            Field("plan_total", "total_amount", 30), Field("branch_phone", "hotline", 20),
        )),
        "birthday_greeting": ChatTemplate("birthday_greeting", _GREETING_ZALO),
        "holiday_greeting": ChatTemplate("holiday_greeting", _GREETING_ZALO),
        "segment_campaign": ChatTemplate("segment_campaign", _GREETING_ZALO),
        "staff_reply": ChatTemplate("staff_reply", (
            Field("patient_name", "customer_name", 30), Field("text", "content", 200),
        )),
        "slot_offer": ChatTemplate("slot_offer", (
            Field("patient_name", "customer_name", 30), Field("appointment_time", "booking_time", 30),
            Field("branch_name", "clinic_name", 60), Field("claim_link", "claim_url", 100),
        )),
        "slot_taken": ChatTemplate("slot_taken", (
            Field("patient_name", "customer_name", 30), Field("appointment_time", "booking_time", 30),
            Field("branch_name", "clinic_name", 60),
        )),
    },
    "wechat": {
        "appointment_reminder": ChatTemplate("appointment_reminder", (
            Field("patient_name", "thing1", 20), Field("appointment_time", "time2", 30),
            Field("branch_name", "thing3", 20),
        )),
        "appointment_confirmation_request": ChatTemplate("appointment_confirmation_request", (
            Field("patient_name", "thing1", 20), Field("appointment_time", "time2", 30),
            Field("branch_name", "thing3", 20), Field("confirm_link", "@url", 200),
        )),
        "post_visit_instructions": ChatTemplate("post_visit_instructions", (
            Field("patient_name", "thing1", 20), Field("procedure_name", "thing2", 20),
            Field("branch_phone", "phone_number3", 20),
        )),
        "treatment_plan_summary": ChatTemplate("treatment_plan_summary", (
            Field("patient_name", "thing1", 20), Field("plan_title", "thing2", 20),
            Field("plan_total", "amount3", 20), Field("branch_phone", "phone_number4", 20),
        )),
        "birthday_greeting": ChatTemplate("birthday_greeting", _GREETING_WECHAT),
        "holiday_greeting": ChatTemplate("holiday_greeting", _GREETING_WECHAT),
        "segment_campaign": ChatTemplate("segment_campaign", _GREETING_WECHAT),
        "staff_reply": ChatTemplate("staff_reply", (
            Field("patient_name", "thing1", 20), Field("text", "thing2", 20),
        )),
        "slot_offer": ChatTemplate("slot_offer", (
            Field("patient_name", "thing1", 20), Field("appointment_time", "time2", 30),
            Field("branch_name", "thing3", 20), Field("claim_link", "@url", 200),
        )),
        "slot_taken": ChatTemplate("slot_taken", (
            Field("patient_name", "thing1", 20), Field("appointment_time", "time2", 30),
            Field("branch_name", "thing3", 20),
        )),
    },
}  # fmt: skip


def validate_chat_params(channel: str, template_code: str, params: Mapping[str, Any]) -> None:
    """Refuse an unknown template, an unknown or missing parameter, or a value too long,
    naming the field (`template_code` or `params.<name>`)."""
    template = CHAT_TEMPLATES.get(channel, {}).get(template_code)
    if template is None:
        known = ", ".join(sorted(CHAT_TEMPLATES.get(channel, {})))
        raise InvalidInput.on(
            "template_code",
            _("“%(code)s” is not a template of this channel (known: %(known)s).")
            % {"code": template_code, "known": known},
        )
    errors: dict[str, list[str]] = {}
    for name in params:
        if name not in template.names:
            errors[f"params.{name}"] = [
                _("The template has no parameter “%(name)s”.") % {"name": name}
            ]
    for field in template.fields:
        value = params.get(field.ours)
        if value is None or str(value).strip() == "":
            errors[f"params.{field.ours}"] = [_("This parameter is required.")]
        elif len(str(value)) > field.max_length:
            errors[f"params.{field.ours}"] = [
                _("At most %(count)d characters.") % {"count": field.max_length}
            ]
    if errors:
        raise InvalidInput(errors)


URL_FIELD = "@url"


def provider_data(channel: str, template_code: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Our parameters under the provider's field names (the click-through link apart)."""
    template = CHAT_TEMPLATES[channel][template_code]
    return {
        field.theirs: str(params[field.ours])
        for field in template.fields
        if field.theirs != URL_FIELD
    }


def provider_url(channel: str, template_code: str, params: Mapping[str, Any]) -> str:
    """The template's click-through link, when it has one ("" otherwise)."""
    template = CHAT_TEMPLATES[channel][template_code]
    return next(
        (
            str(params[f.ours])
            for f in template.fields
            if f.theirs == URL_FIELD and f.ours in params
        ),
        "",
    )


def template_ids(setting: list[str]) -> dict[str, str]:
    """ "code=id" items of the environment setting as a mapping."""
    pairs = (item.split("=", 1) for item in setting if "=" in item)
    return {code.strip(): provider_id.strip() for code, provider_id in pairs}
