"""Message templates as text: which variables each purpose offers, checking a template
before it is saved, and filling it in.

Pure functions, no database. A placeholder is a variable name in braces, `{patient_name}`;
`{{` and `}}` stand for a brace itself. Anything else in braces is refused when the
template is saved, naming the field and the placeholder: an unknown variable (or one this
purpose does not offer), an unclosed or stray brace, and Python's format extras
(`{name!r}`, `{name:>10}`, `{name.attr}`, `{name[0]}`), which we never evaluate.

Values are cut to each variable's longest length when filled in, so the SMS length check
at saving (the template with every variable at its longest) holds for every message.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chairtime.core.errors import InvalidInput
from chairtime.messaging.choices import TemplateCode
from chairtime.messaging.transports.chat import CHAT_TEMPLATES
from chairtime.patients.choices import ContactChannel


@dataclass(frozen=True)
class Variable:
    name: str
    label: str | Promise
    longest: int  # characters; longer values are cut when the template is filled in


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable("patient_name", gettext_lazy("the patient's name"), 30),
        Variable("appointment_time", gettext_lazy("the appointment's date and time"), 44),
        Variable("branch_name", gettext_lazy("the branch's name"), 40),
        Variable("branch_phone", gettext_lazy("the branch's phone"), 16),
        Variable("doctor_name", gettext_lazy("the doctor's name"), 30),
        Variable("procedure_name", gettext_lazy("the procedure"), 40),
        # Never cut in practice: the public base URL (up to 55 characters) + /c/ + 32.
        Variable("confirm_link", gettext_lazy("the link to confirm the appointment"), 90),
        Variable("offer", gettext_lazy("the rule's offer"), 120),
        Variable("plan_title", gettext_lazy("the treatment plan's title"), 50),
        Variable("plan_total", gettext_lazy("the plan's total, in the branch's currency"), 24),
        Variable("text", gettext_lazy("the staff member's reply"), 300),
        # The public base URL (up to 55 characters) + /w/ + 32 (waitlist offers, ADR 13).
        Variable("claim_link", gettext_lazy("the link to claim the offered slot"), 90),
    )
}
_APPOINTMENT = ("patient_name", "appointment_time", "branch_name", "branch_phone", "doctor_name",
                "procedure_name", "confirm_link")  # fmt: skip
_GREETING = ("patient_name", "branch_name", "branch_phone", "offer")
CODE_VARIABLES: dict[str, tuple[str, ...]] = {
    TemplateCode.APPOINTMENT_REMINDER: _APPOINTMENT,
    TemplateCode.APPOINTMENT_CONFIRMATION_REQUEST: _APPOINTMENT,
    TemplateCode.POST_VISIT_INSTRUCTIONS: (
        "patient_name", "branch_name", "branch_phone", "doctor_name", "procedure_name",
    ),
    TemplateCode.TREATMENT_PLAN_SUMMARY: (
        "patient_name", "branch_name", "branch_phone", "doctor_name", "plan_title", "plan_total",
    ),
    TemplateCode.BIRTHDAY_GREETING: _GREETING,
    TemplateCode.HOLIDAY_GREETING: _GREETING,
    TemplateCode.SEGMENT_CAMPAIGN: _GREETING,
    TemplateCode.STAFF_REPLY: ("patient_name", "text"),
    TemplateCode.SLOT_OFFER: (
        "patient_name", "appointment_time", "branch_name", "branch_phone", "doctor_name",
        "procedure_name", "claim_link",
    ),
    TemplateCode.SLOT_TAKEN: ("patient_name", "appointment_time", "branch_name", "branch_phone"),
}  # fmt: skip

CHAT_CHANNELS = frozenset({ContactChannel.ZALO, ContactChannel.WECHAT})
MAX_SMS_SEGMENTS = 6  # concatenated: 918 GSM characters, 402 with accents or Chinese
MAX_TEXT_LENGTH: dict[str, int] = {
    ContactChannel.EMAIL: 5000,
    ContactChannel.ZALO: 1000,
    ContactChannel.WECHAT: 1000,
}
MAX_SUBJECT_LENGTH = 200
# The GSM 03.38 alphabet (with its extension table): a text outside it goes as UCS-2.
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Placeholder:
    name: str
    literal: str  # as written, for error messages


def _known(code: str) -> str:
    return ", ".join("{" + name + "}" for name in CODE_VARIABLES.get(code, ()))


def placeholders(text: str, *, field: str) -> list[Placeholder]:
    """The placeholders of a text, in order; InvalidInput naming `field` when one is
    malformed."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise InvalidInput.on(
            field,
            _("A “{” or “}” has no partner. Write variables as {patient_name}; write “{{” "
              "or “}}” for a brace itself."),
        ) from None  # fmt: skip
    found: list[Placeholder] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        written = (
            "{"
            + name
            + ("!" + conversion if conversion else "")
            + (":" + spec if spec else "")
            + "}"
        )
        if spec or conversion or not _IDENTIFIER.match(name):
            raise InvalidInput.on(
                field,
                _("“%(placeholder)s” is not a variable: write the name alone in braces, "
                  "such as {patient_name}.") % {"placeholder": written},
            )  # fmt: skip
        found.append(Placeholder(name, written))
    return found


def check_variables(text: str, *, code: str, channel: str, field: str) -> list[str]:
    """The variables a text uses; InvalidInput naming the field and the variable when one
    is unknown, not offered for this purpose, or not carried by the chat app's template."""
    names: list[str] = []
    for placeholder in placeholders(text, field=field):
        if placeholder.name not in CODE_VARIABLES.get(code, ()):
            raise InvalidInput.on(
                field,
                _("Unknown variable “%(placeholder)s”. This purpose offers: %(known)s.")
                % {"placeholder": placeholder.literal, "known": _known(code)},
            )
        names.append(placeholder.name)
    if channel in CHAT_CHANNELS:
        carried = CHAT_TEMPLATES[channel][code].names
        for name in names:
            if name not in carried:
                raise InvalidInput.on(
                    field,
                    _("“{%(name)s}” is not in the template approved by the chat app, which "
                      "carries only %(known)s.")
                    % {"name": name, "known": ", ".join("{" + n + "}" for n in carried)},
                )  # fmt: skip
    return names


def sms_segments(text: str) -> int:
    """How many SMS a text takes: 160 GSM characters alone, 153 each when concatenated;
    70 / 67 when any character is outside the GSM alphabet (UCS-2)."""
    if all(char in _GSM for char in text):
        single, part = 160, 153
    else:
        single, part = 70, 67
    return 1 if len(text) <= single else -(-len(text) // part)


def longest_rendering(text: str, code: str) -> str:
    """The text with every variable at its longest, in an alphabet outside GSM (a name
    may be Vietnamese or Chinese): the worst case an SMS of this template can be."""
    values = {name: "ư" * VARIABLES[name].longest for name in CODE_VARIABLES.get(code, ())}
    return render(text, values)


def validate_template(*, code: str, channel: str, subject: str, body: str) -> None:
    """Refuse a template that could not be sent as written: InvalidInput naming the field
    (`code`, `channel`, `subject` or `body`) and the reason. Nothing else is checked here
    (the language and the branch are the form's)."""
    if code not in CODE_VARIABLES:
        raise InvalidInput.on("code", _("Choose one of the purposes offered."))
    if channel in CHAT_CHANNELS and code not in CHAT_TEMPLATES[channel]:
        raise InvalidInput.on(
            "channel", _("The chat app has no approved template for this purpose.")
        )
    if not body.strip():
        raise InvalidInput.on("body", _("Write the text of the message."))
    if channel == ContactChannel.EMAIL:
        if not subject.strip():
            raise InvalidInput.on("subject", _("An e-mail needs a subject."))
        if len(subject) > MAX_SUBJECT_LENGTH:
            raise InvalidInput.on(
                "subject", _("At most %(count)d characters.") % {"count": MAX_SUBJECT_LENGTH}
            )
        if "\n" in subject or "\r" in subject:
            raise InvalidInput.on("subject", _("A subject is one line."))
        check_variables(subject, code=code, channel=channel, field="subject")
    elif subject.strip():
        raise InvalidInput.on("subject", _("Only e-mails have a subject: leave it empty."))
    check_variables(body, code=code, channel=channel, field="body")
    if channel == ContactChannel.SMS:
        longest = longest_rendering(body, code)
        segments = sms_segments(longest)
        if segments > MAX_SMS_SEGMENTS:
            raise InvalidInput.on(
                "body",
                _("Too long for an SMS: with its variables at their longest it takes "
                  "%(segments)d messages (%(length)d characters); at most %(most)d are "
                  "allowed.")
                % {"segments": segments, "length": len(longest), "most": MAX_SMS_SEGMENTS},
            )  # fmt: skip
    elif len(body) > MAX_TEXT_LENGTH.get(channel, 1000):
        raise InvalidInput.on(
            "body",
            _("At most %(count)d characters.") % {"count": MAX_TEXT_LENGTH.get(channel, 1000)},
        )


def cut(value: str, length: int) -> str:
    """A value no longer than `length`, ending in "…" when it had to be cut."""
    return value if len(value) <= length else value[: max(0, length - 1)] + "…"


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill a checked template in: each placeholder by its value, cut to the variable's
    longest length; `{{` and `}}` become single braces. A variable without a value
    becomes empty (the caller gives every variable its purpose offers)."""
    parts: list[str] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(text):
        parts.append(literal)
        if name is not None:
            variable = VARIABLES.get(name)
            value = str(values.get(name, ""))
            parts.append(cut(value, variable.longest) if variable is not None else value)
    return "".join(parts)
