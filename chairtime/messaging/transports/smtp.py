"""E-mail over SMTP with Django's connection (EMAIL_HOST, EMAIL_PORT … from the environment).

The Message-ID is derived from the idempotency key, so a message that had to be sent again
after a human decided so reaches the recipient's mail client as the same message (clients
thread and most deduplicate on it). SMTP has no way to ask whether a message was accepted
earlier: `lookup` is Unsupported, and an unknown outcome waits for a person.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import socket
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from chairtime.messaging.transports.base import (
    Lookup,
    Outcome,
    Permanent,
    Sent,
    Temporary,
    Unknown,
    Unsupported,
    cut_at,
)

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

# Connection-level failures before the message was handed over: nothing was sent.
_NOT_SENT = (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPAuthenticationError,
             ConnectionRefusedError, socket.gaierror)  # fmt: skip


def message_id(message: Message) -> str:
    digest = hashlib.sha256(f"{message.organization_id}:{message.idempotency_key}".encode())
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "chairtime"
    return f"<{digest.hexdigest()[:32]}@{domain}>"


class SmtpTransport:
    name = "smtp"
    can_lookup = False

    def send(self, message: Message, *, deadline: float | None = None) -> Outcome:
        mail = EmailMessage(
            subject=message.subject, body=message.body, to=[message.to_address],
            headers={"Message-ID": message_id(message)},
        )  # fmt: skip
        try:
            connection = get_connection(
                "django.core.mail.backends.smtp.EmailBackend", fail_silently=False
            )
            connection.open()
        except _NOT_SENT as error:
            return Temporary(f"SMTP connection failed: {error}")
        except OSError as error:
            return Temporary(f"SMTP connection failed: {error}")
        try:
            server = connection.connection
            with cut_at(server.sock if server is not None else None, deadline) as cut:
                connection.send_messages([mail])
            if cut.happened:
                return Unknown("SMTP: no answer before the send's deadline")
        except smtplib.SMTPRecipientsRefused as error:
            return Permanent(f"recipient refused: {error.recipients}", code="recipient")
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                return Temporary(f"SMTP {error.smtp_code}: {error.smtp_error!r}")
            return Permanent(f"SMTP {error.smtp_code}: {error.smtp_error!r}", str(error.smtp_code))
        except (smtplib.SMTPException, OSError) as error:
            return Unknown(f"SMTP: {type(error).__name__}: {error}")
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.close()
        return Sent(message_id(message))

    def lookup(self, message: Message) -> Lookup:
        return Unsupported()
