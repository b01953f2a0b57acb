"""The default transport: records to the outbox and the log, sends nothing anywhere.

The demo and development use it, so no real patient is ever messaged by accident. Its
provider id is derived from the idempotency key, so a lookup after a crash finds it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from chairtime.messaging.transports.base import Lookup, Outcome, Sent

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

logger = logging.getLogger("chairtime.messaging.console")


def console_id(message: Message) -> str:
    digest = hashlib.sha256(f"{message.organization_id}:{message.idempotency_key}".encode())
    return "console-" + digest.hexdigest()[:24]


class ConsoleTransport:
    name = "console"
    can_lookup = True

    def send(self, message: Message, *, deadline: float | None = None) -> Outcome:
        logger.info(
            "console %s to %s: %s", message.channel, message.to_address,
            (message.subject + " " + message.body)[:80] or message.template_code,
        )  # fmt: skip
        return Sent(console_id(message))

    def lookup(self, message: Message) -> Lookup:
        # Nothing leaves the process: whatever was "sent" is what the outbox says.
        return Sent(console_id(message))
