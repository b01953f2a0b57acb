"""Addresses per channel: checked and normalised before a message is enqueued.

SMS and Zalo go to mobile numbers (E.164); a landline or an invalid number is refused
with a reason naming the field. E-mail is checked by Django's validator; a WeChat
recipient is the follower's openid.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from chairtime.core.errors import InvalidInput
from chairtime.patients.choices import ContactChannel

# Types that can receive a text: US and Canadian numbers cannot be told apart (both).
_TEXTABLE = frozenset({
    phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
})  # fmt: skip
_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
PHONE_CHANNELS = frozenset({ContactChannel.SMS, ContactChannel.ZALO})


def normalize_address(channel: str, address: str, *, region: str, field: str = "to_address") -> str:
    """The address in its canonical form; an empty address stays empty (the dispatcher
    blocks such a message with the reason "no address", so it stays visible)."""
    address = address.strip()
    if not address:
        return ""
    if channel in PHONE_CHANNELS:
        return mobile_number(address, region=region, field=field)
    if channel == ContactChannel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput.on(
                field, _("“%(value)s” is not an e-mail address.") % {"value": address}
            ) from None
        local, _at, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    if channel == ContactChannel.WECHAT:
        if not _OPENID.match(address):
            raise InvalidInput.on(
                field, _("“%(value)s” is not a WeChat ID (openid).") % {"value": address}
            )
        return address
    raise InvalidInput.on("channel", _("Messages cannot be sent on this channel."))


def mobile_number(text: str, *, region: str, field: str = "to_address") -> str:
    """E.164 of a number that can receive text messages."""
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException:
        raise InvalidInput.on(
            field, _("“%(value)s” is not a phone number.") % {"value": text}
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput.on(
            field, _("“%(value)s” is not a valid phone number.") % {"value": text}
        )
    if phonenumbers.number_type(number) not in _TEXTABLE:
        raise InvalidInput.on(
            field,
            _("“%(value)s” cannot receive text messages (a landline or a service number).")
            % {"value": text},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_or_none(text: str, *, region: str = "") -> str | None:
    """E.164 of any valid number (for matching an inbound sender), else None."""
    text = text.strip()
    try:
        number = phonenumbers.parse(text if text.startswith("+") else "+" + text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
