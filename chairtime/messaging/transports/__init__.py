"""One transport per file; `get_transport(channel)` picks the one the settings name."""

from __future__ import annotations

from django.conf import settings

from chairtime.messaging.transports.base import Transport


def get_transport(channel: str) -> Transport:
    """The transport configured for the channel (console unless the environment says)."""
    name = settings.MESSAGING_TRANSPORTS.get(channel, "console")
    if name == "twilio":
        from chairtime.messaging.transports.twilio import TwilioTransport

        return TwilioTransport.from_settings()
    if name == "smtp":
        from chairtime.messaging.transports.smtp import SmtpTransport

        return SmtpTransport()
    if name == "zalo":
        from chairtime.messaging.transports.zalo import ZaloTransport

        return ZaloTransport.from_settings()
    if name == "wechat":
        from chairtime.messaging.transports.wechat import WeChatTransport

        return WeChatTransport.from_settings()
    from chairtime.messaging.transports.console import ConsoleTransport

    return ConsoleTransport()
