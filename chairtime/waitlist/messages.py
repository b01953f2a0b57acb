"""The words of the waitlist's messages: an offer with its claim link (SLOT_OFFER), and
"already taken" (SLOT_TAKEN), through the outbox (ADR 10) in the caller's transaction.

The template is the organisation's (the defaults are made the first time, as for the
automation rules), in the patient's language, else the branch's; the channel is the
first the patient can be reached on for service messages (selectors.reachable_channels).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from chairtime.messaging.automation.formatting import (
    LANGUAGE_CODES,
    appointment_time,
    branch_language,
)
from chairtime.messaging.automation.selectors import TemplateBook
from chairtime.messaging.automation.services import ensure_defaults
from chairtime.messaging.automation.templating import CODE_VARIABLES, cut, render
from chairtime.messaging.choices import TemplateCode
from chairtime.messaging.models import Message
from chairtime.messaging.services import enqueue_message
from chairtime.messaging.transports.chat import CHAT_TEMPLATES
from chairtime.patients.choices import ConsentPurpose, ContactChannel
from chairtime.waitlist.models import OfferInvite, SlotOffer

CHAT_CHANNELS = frozenset({ContactChannel.ZALO, ContactChannel.WECHAT})


def claim_url(token: str) -> str:
    """The link as the patient receives it (relative without CHAIRTIME_PUBLIC_BASE_URL)."""
    return f"{settings.MESSAGING_PUBLIC_BASE_URL.rstrip('/')}/w/{token}"


def send_invite_message(
    *, invite: OfferInvite, offer: SlotOffer, code: str, address: str, link: str, now: datetime
) -> Message | None:
    """Enqueue the offer (code SLOT_OFFER, with `link`) or the "taken" notice (SLOT_TAKEN)
    to the invitee on the invite's channel; None when no template exists for it."""
    branch = offer.branch
    ensure_defaults(organization=branch.organization)
    book = TemplateBook.of(branch.organization_id)
    patient = invite.patient
    languages = (patient.preferred_language, branch_language(branch), *LANGUAGE_CODES)
    channel = invite.channel
    template = book.choose(branch_id=branch.pk, code=code, channel=channel, languages=languages)
    if template is None:
        return None
    is_chat = channel in CHAT_CHANNELS
    values = {
        "patient_name": patient.display_name, "branch_name": branch.name,
        "branch_phone": branch.phone, "doctor_name": str(offer.doctor),
        "procedure_name": invite.procedure.localized_name(template.language),
        "appointment_time": appointment_time(offer.starts_at, branch.zone, template.language,
                                             short=is_chat),
        "claim_link": link,
    }  # fmt: skip
    values = {name: value for name, value in values.items() if name in CODE_VARIABLES[code]}
    params = {}
    if is_chat:
        fields = CHAT_TEMPLATES[channel][code].fields
        params = {f.ours: cut(values.get(f.ours) or "-", f.max_length) for f in fields}
    kind = "offer" if code == TemplateCode.SLOT_OFFER else "taken"
    return enqueue_message(
        actor=None, branch=branch, channel=channel, purpose=ConsentPurpose.SERVICE,
        to_address=address, idempotency_key=f"waitlist:{kind}:{invite.pk}",
        body=render(template.body, values),
        subject=render(template.subject, values) if channel == ContactChannel.EMAIL else "",
        template_code=code if is_chat else "", params=params, patient=patient,
        cause=f"waitlist {kind}: offer {offer.pk}", now=now,
    )  # fmt: skip
