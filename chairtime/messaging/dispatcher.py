"""The dispatcher: claims due messages atomically, applies the send rules, calls the
transport, records each outcome at once, and reconciles what a crash left unclear.

Several dispatchers may run side by side (`manage.py dispatch_messages`). A claim is one
UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) on PostgreSQL; on SQLite the
IMMEDIATE transaction's write lock makes the same statement atomic. Every later write is
conditional on the row still being ours (status sending, claimed_by this worker), so a
dispatcher that lost its lease can never overwrite another's work.

Just before calling the transport the dispatcher renews its lease and stamps
`attempt_started_at`. The transport must give up by a deadline half a lease later (the
whole send, not each socket step), and another dispatcher takes over a `sending` row only
half a lease after its lease ran out: the sender has certainly given up by then. A row
found `sending` with an expired lease therefore tells what happened: without the stamp
nothing was sent (queued again); with it the provider is asked (`lookup`): found → sent,
not found → queued again, cannot be asked → unknown, for a person.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chairtime.messaging.automation.selectors import obsolete_reason
from chairtime.messaging.choices import (
    COUNTED_STATUSES,
    EventKind,
    InboundKind,
    MessageStatus,
    Reason,
)
from chairtime.messaging.models import Message
from chairtime.messaging.policy import Block, Decision, Facts, Wait, decide, local_day_bounds
from chairtime.messaging.services import add_event
from chairtime.messaging.transports import get_transport
from chairtime.messaging.transports.base import (
    LookupFailed,
    NotFound,
    Outcome,
    Permanent,
    Sent,
    Temporary,
    Transport,
    Unknown,
    Unsupported,
)
from chairtime.patients.choices import ConsentOrigin
from chairtime.patients.models import Consent

logger = logging.getLogger("chairtime.messaging.dispatcher")

S = MessageStatus


@dataclass(frozen=True)
class DispatchConfig:
    batch: int
    lease: timedelta
    max_attempts: int
    backoff: timedelta
    backoff_cap: timedelta
    reconcile_after: timedelta

    @classmethod
    def from_settings(cls) -> DispatchConfig:
        config = settings.MESSAGING_DISPATCH
        return cls(
            batch=int(config["BATCH"]), lease=timedelta(seconds=config["LEASE_SECONDS"]),
            max_attempts=int(config["MAX_ATTEMPTS"]),
            backoff=timedelta(seconds=config["BACKOFF_SECONDS"]),
            backoff_cap=timedelta(seconds=config["BACKOFF_CAP_SECONDS"]),
            reconcile_after=timedelta(seconds=config["RECONCILE_AFTER_SECONDS"]),
        )  # fmt: skip

    @property
    def send_time(self) -> timedelta:
        """How long one send may take in all (the transport's deadline): half the lease."""
        return self.lease / 2

    @property
    def takeover_margin(self) -> timedelta:
        """How long after a lease ran out another dispatcher may take the row over: by then
        its sender has passed its deadline by at least half a lease."""
        return self.lease / 2


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff_delay(attempts: int, config: DispatchConfig, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: base × 2^(attempts-1), capped, times 0.5-1."""
    exponent = max(0, attempts - 1)
    ceiling = min(
        config.backoff_cap.total_seconds(), config.backoff.total_seconds() * 2 ** min(exponent, 30)
    )
    return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))


# --- the claim ------------------------------------------------------------------------------
_CLAIM = """
UPDATE messaging_message
SET status = 'sending', lease_until = %s, claimed_by = %s, updated_at = %s
WHERE id IN (
    SELECT id FROM messaging_message
    WHERE status IN ('queued', 'waiting') AND not_before <= %s
    ORDER BY not_before, id LIMIT %s {lock}
) AND status IN ('queued', 'waiting')
RETURNING id
"""
_RECOVER = """
UPDATE messaging_message
SET status = 'sending', lease_until = %s, claimed_by = %s, updated_at = %s
WHERE id IN (
    SELECT id FROM messaging_message
    WHERE (status = 'sending' AND lease_until < %s)
       OR (status = 'unknown' AND not_before <= %s AND reason <> 'lookup_unsupported')
    ORDER BY id LIMIT %s {lock}
) AND ((status = 'sending' AND lease_until < %s)
       OR (status = 'unknown' AND not_before <= %s AND reason <> 'lookup_unsupported'))
RETURNING id
"""


def _lock_clause() -> str:
    return "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""


def _instant(value: datetime) -> Any:
    """A datetime as the backend stores it (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def claim_due(*, worker: str, now: datetime, lease: timedelta, limit: int) -> list[int]:
    """Claim up to `limit` due messages for this worker in one atomic statement."""
    sql = _CLAIM.format(lock=_lock_clause())
    params: list[Any] = [_instant(now + lease), worker, _instant(now), _instant(now), limit]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def claim_to_reconcile(
    *, worker: str, now: datetime, lease: timedelta, limit: int, margin: timedelta
) -> list[int]:
    """Claim rows a dead dispatcher left `sending` (their lease ran out more than `margin`
    ago), and unknown outcomes now due a look-up."""
    sql = _RECOVER.format(lock=_lock_clause())
    at, expired = _instant(now), _instant(now - margin)
    params: list[Any] = [_instant(now + lease), worker, at, expired, at, limit, expired, at]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


# --- the dispatcher -------------------------------------------------------------------------
class Dispatcher:
    """One worker's loop body: `run_once()` reconciles, claims a batch and sends it."""

    def __init__(
        self,
        *,
        worker: str | None = None,
        config: DispatchConfig | None = None,
        transport_for: Callable[[str], Transport] = get_transport,
        clock: Callable[[], datetime] = timezone.now,
        rng: random.Random | None = None,
    ) -> None:
        self.worker = worker or new_worker_id()
        self.config = config or DispatchConfig.from_settings()
        self.transport_for = transport_for
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    def run_once(self) -> int:
        """One pass; returns how many rows it took (0: nothing to do, sleep a while)."""
        recovered = claim_to_reconcile(
            worker=self.worker, now=self.clock(), lease=self.config.lease,
            limit=self.config.batch, margin=self.config.takeover_margin,
        )  # fmt: skip
        for message_id in recovered:
            self.reconcile(message_id)
        claimed = claim_due(
            worker=self.worker, now=self.clock(), lease=self.config.lease, limit=self.config.batch
        )
        for message_id in claimed:
            self.dispatch(message_id)
        return len(recovered) + len(claimed)

    def _mine(self, message_id: int) -> Message | None:
        message = (
            Message.objects.select_related("branch")
            .filter(pk=message_id, status=S.SENDING, claimed_by=self.worker)
            .first()
        )
        return message

    def _update(self, message: Message, now: datetime, **fields: object) -> bool:
        """Write fields when the row is still ours; False when it is not any more."""
        changed = Message.objects.filter(
            pk=message.pk, status=S.SENDING, claimed_by=self.worker
        ).update(updated_at=now, **fields)
        for name, value in fields.items():
            setattr(message, name, value)
        if not changed:
            logger.warning("message %s is no longer claimed by %s", message.pk, self.worker)
        return bool(changed)

    # --- sending ------------------------------------------------------------------------
    def dispatch(self, message_id: int) -> None:
        message = self._arm(message_id)
        if message is None:
            return
        transport = self.transport_for(message.channel)
        # Real time, not the clock's: the transport gives up well inside the lease.
        deadline = time.monotonic() + self.config.send_time.total_seconds()
        try:
            outcome = transport.send(message, deadline=deadline)
        except Exception as error:  # a bug in a transport: it may have sent; never resend blindly
            logger.exception("transport %s raised for message %s", transport.name, message.pk)
            outcome = Unknown(f"{type(error).__name__}: {error}")
        self._record(message, outcome)

    def _arm(self, message_id: int) -> Message | None:
        """Apply the send rules; when the message may go, renew the lease and stamp the
        attempt (committed before the transport is called)."""
        with transaction.atomic():
            message = self._mine(message_id)
            if message is None:
                return None
            now = self.clock()
            if message.rule_id is not None:  # made by a rule: does it still make sense?
                obsolete = obsolete_reason(message, now)
                if obsolete:
                    self._cancel(message, now, obsolete)
                    return None
            decision = self._decide(message, now)
            if isinstance(decision, Wait):
                self._hold(message, now, decision)
                return None
            if isinstance(decision, Block):
                self._block(message, now, decision)
                return None
            armed = self._update(
                message, now, attempts=message.attempts + 1, attempt_started_at=now,
                cleared_at=now, lease_until=now + self.config.lease,
            )  # fmt: skip
            if not armed:
                return None
            add_event(message, EventKind.ATTEMPT, now=now, before=S.SENDING, after=S.SENDING,
                      worker=self.worker)  # fmt: skip
        return message

    def _decide(self, message: Message, now: datetime) -> Decision:
        return decide(gather_facts(message, now), now)

    def _hold(self, message: Message, now: datetime, decision: Wait) -> None:
        if self._update(message, now, status=S.WAITING, not_before=decision.until,
                        reason=decision.reason, lease_until=None, claimed_by=""):  # fmt: skip
            add_event(message, EventKind.WAITING, now=now, before=S.SENDING, after=S.WAITING,
                      detail=f"{decision.reason} until {decision.until.isoformat()}", worker=self.worker)  # fmt: skip

    def _cancel(self, message: Message, now: datetime, reason: str) -> None:
        """Its appointment was moved, cancelled or confirmed, or its rule switched off."""
        if self._update(message, now, status=S.CANCELLED, reason=reason, lease_until=None,
                        claimed_by=""):  # fmt: skip
            add_event(message, EventKind.CANCELLED, now=now, before=S.SENDING,
                      after=S.CANCELLED, detail=reason, worker=self.worker)  # fmt: skip
            logger.info("message %s cancelled: %s", message.pk, reason)

    def _block(self, message: Message, now: datetime, decision: Block) -> None:
        if self._update(message, now, status=S.BLOCKED, reason=decision.reason,
                        lease_until=None, claimed_by=""):  # fmt: skip
            add_event(message, EventKind.BLOCKED, now=now, before=S.SENDING, after=S.BLOCKED,
                      detail=decision.reason, worker=self.worker)  # fmt: skip
            logger.info("message %s blocked: %s", message.pk, decision.reason)

    def _record(self, message: Message, outcome: Outcome) -> None:
        with transaction.atomic():
            now = self.clock()
            if isinstance(outcome, Sent):
                self._sent(message, now, outcome.provider_id, EventKind.SENT)
            elif isinstance(outcome, Temporary):
                self._retry(message, now, outcome)
            elif isinstance(outcome, Permanent):
                self._fail(message, now, Reason.REJECTED, outcome.error, outcome.code)
            else:
                self._unknown(message, now, outcome.error)

    def _sent(
        self,
        message: Message,
        now: datetime,
        provider_id: str,
        kind: str,
        sent_at: datetime | None = None,
    ) -> None:
        try:
            with transaction.atomic():  # a savepoint: the provider's id is unique per channel
                updated = self._update(
                    message, now, status=S.SENT, provider_message_id=provider_id[:100],
                    sent_at=sent_at or now, reason=Reason.NONE, error_code="", error_text="",
                    lease_until=None, claimed_by="", attempt_started_at=None,
                )  # fmt: skip
        except IntegrityError:
            # Another of our messages holds this id: ours is not proven sent. Ask again later
            # (the look-up skips ids already held), never send blindly.
            message.provider_message_id = ""
            self._unknown(
                message, now, f"the provider's id {provider_id} is held by another message"
            )
            return
        if updated:
            add_event(message, kind, now=now, before=S.SENDING, after=S.SENT,
                      detail=provider_id, worker=self.worker)  # fmt: skip

    def _retry(self, message: Message, now: datetime, outcome: Temporary) -> None:
        if message.attempts >= self.config.max_attempts:
            self._fail(message, now, Reason.MAX_ATTEMPTS, outcome.error)
            return
        delay = backoff_delay(message.attempts, self.config, self.rng)
        if outcome.retry_after is not None:
            delay = max(
                delay,
                timedelta(
                    seconds=min(outcome.retry_after, self.config.backoff_cap.total_seconds())
                ),
            )
        until = now + delay
        if self._update(message, now, status=S.WAITING, not_before=until, reason=Reason.RETRY,
                        error_text=outcome.error[:500], lease_until=None, claimed_by="",
                        attempt_started_at=None):  # fmt: skip
            add_event(message, EventKind.RETRY, now=now, before=S.SENDING, after=S.WAITING,
                      detail=f"{outcome.error} — next try {until.isoformat()}", worker=self.worker)  # fmt: skip
            logger.info(
                "message %s: temporary failure (%s), retry at %s", message.pk, outcome.error, until
            )

    def _fail(
        self, message: Message, now: datetime, reason: str, error: str, code: str = ""
    ) -> None:
        if self._update(message, now, status=S.FAILED, reason=reason, error_text=error[:500],
                        error_code=code[:40], lease_until=None, claimed_by="",
                        attempt_started_at=None):  # fmt: skip
            add_event(message, EventKind.FAILED, now=now, before=S.SENDING, after=S.FAILED,
                      detail=error, worker=self.worker)  # fmt: skip
            logger.warning("message %s failed (%s): %s", message.pk, reason, error)

    def _unknown(
        self, message: Message, now: datetime, error: str, reason: str = Reason.OUTCOME_UNKNOWN
    ) -> None:
        """The provider may have it: keep the attempt stamp, and look it up later."""
        if self._update(message, now, status=S.UNKNOWN, reason=reason, error_text=error[:500],
                        not_before=now + self.config.reconcile_after, lease_until=None,
                        claimed_by=""):  # fmt: skip
            add_event(message, EventKind.UNKNOWN, now=now, before=S.SENDING, after=S.UNKNOWN,
                      detail=error, worker=self.worker)  # fmt: skip
            logger.warning("message %s: outcome unknown (%s)", message.pk, error)

    # --- reconciliation -----------------------------------------------------------------
    def reconcile(self, message_id: int) -> None:
        message = self._mine(message_id)
        if message is None:
            return
        if message.attempt_started_at is None:
            self._requeue(message, EventKind.LEASE_EXPIRED, "its dispatcher stopped before sending")
            return
        transport = self.transport_for(message.channel)
        try:
            found = transport.lookup(message)
        except (LookupFailed, Exception) as error:  # asked again later, never resent
            with transaction.atomic():
                now = self.clock()
                delay = backoff_delay(message.attempts, self.config, self.rng)
                if self._update(message, now, status=S.UNKNOWN, reason=Reason.OUTCOME_UNKNOWN,
                                not_before=now + delay, lease_until=None, claimed_by=""):  # fmt: skip
                    add_event(message, EventKind.UNKNOWN, now=now, before=S.SENDING, after=S.UNKNOWN,
                              detail=f"look-up failed: {error}", worker=self.worker)  # fmt: skip
            logger.warning("message %s: look-up failed (%s)", message.pk, error)
            return
        with transaction.atomic():
            now = self.clock()
            if isinstance(found, Sent):
                self._sent(message, now, found.provider_id, EventKind.RECONCILED_FOUND,
                           sent_at=message.attempt_started_at)  # fmt: skip
                logger.info(
                    "message %s reconciled: the provider has it (%s)", message.pk, found.provider_id
                )
            elif isinstance(found, NotFound):
                self._missing(message, now)
            elif isinstance(found, Unsupported):
                if self._update(message, now, status=S.UNKNOWN, reason=Reason.LOOKUP_UNSUPPORTED,
                                lease_until=None, claimed_by=""):  # fmt: skip
                    add_event(message, EventKind.RECONCILE_UNSUPPORTED, now=now, before=S.SENDING,
                              after=S.UNKNOWN, detail=transport.name, worker=self.worker)  # fmt: skip
                logger.warning(
                    "message %s: outcome unknown and %s cannot be asked", message.pk, transport.name
                )

    def _missing(self, message: Message, now: datetime) -> None:
        if message.attempts >= self.config.max_attempts:
            self._fail(message, now, Reason.MAX_ATTEMPTS, "the provider never got it")
            return
        self._requeue(message, EventKind.RECONCILED_MISSING, "the provider never got it")

    def _requeue(self, message: Message, kind: str, detail: str) -> None:
        with transaction.atomic():
            now = self.clock()
            if self._update(message, now, status=S.QUEUED, not_before=now, reason=Reason.NONE,
                            lease_until=None, claimed_by="", attempt_started_at=None):  # fmt: skip
                add_event(message, kind, now=now, before=S.SENDING, after=S.QUEUED,
                          detail=detail, worker=self.worker)  # fmt: skip
                logger.info("message %s queued again: %s", message.pk, detail)


# --- the facts the send rules need ----------------------------------------------------------
def gather_facts(message: Message, now: datetime) -> Facts:
    """Consent, the address's opt-out and today's count for one message.

    The daily cap counts what went to the recipient's address (a family's shared phone has
    one cap, a message without a patient counts too) under a lock on that address
    (PostgreSQL: an advisory lock for the transaction), so two dispatchers cannot both
    take the last place; on SQLite the write transaction already runs alone."""
    branch = message.branch
    facts = Facts(
        purpose=message.purpose, country=branch.country, zone=branch.zone,
        has_address=bool(message.to_address),
    )  # fmt: skip
    if not message.to_address:
        return facts
    _lock_address(message.organization_id, message.to_address)
    consent = None
    if message.patient_id is not None:
        consent = (
            Consent.objects.filter(
                patient_id=message.patient_id, channel=message.channel, purpose=message.purpose
            )
            .order_by("-recorded_at", "-id")
            .values("is_granted", "origin", "recorded_at")
            .first()
        )
    # A grant recorded after the address said STOP is the patient asking again: it wins.
    granted_at = consent["recorded_at"] if consent and consent["is_granted"] else None
    stopped, sent_today = _address_facts(message, now, stopped_after=granted_at)
    return replace(
        facts,
        consent=None if consent is None else bool(consent["is_granted"]),
        consent_from_reply=consent is not None and consent["origin"] == ConsentOrigin.MESSAGE_REPLY,
        address_opted_out=stopped,
        sent_today=sent_today,
    )


# Hot path (every message): one plain statement rather than two ORM queries.
_ADDRESS_FACTS = """
SELECT
    EXISTS (
        SELECT 1 FROM messaging_inboundmessage
        WHERE channel = %s AND from_address = %s AND kind = %s
          AND (organization_id = %s OR organization_id IS NULL) AND received_at > %s
    ),
    (
        SELECT COUNT(*) FROM messaging_message
        WHERE organization_id = %s AND to_address = %s AND purpose = %s
          AND status IN ({statuses}) AND cleared_at >= %s AND cleared_at < %s AND id <> %s
    )
"""
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def _address_facts(
    message: Message, now: datetime, *, stopped_after: datetime | None
) -> tuple[bool, int]:
    """Whether the address replied STOP on this channel (to this organisation, or to none
    we could name) after `stopped_after`, and how many messages of this purpose the
    organisation gave the provider for it on the recipient's local day (this one apart)."""
    start, end = local_day_bounds(now, message.branch.zone)
    statuses = ", ".join(["%s"] * len(COUNTED_STATUSES))
    params: list[Any] = [
        message.channel, message.to_address, InboundKind.OPT_OUT, message.organization_id,
        _instant(stopped_after or _LONG_AGO),
        message.organization_id, message.to_address, message.purpose, *COUNTED_STATUSES,
        _instant(start), _instant(end), message.pk,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_ADDRESS_FACTS.format(statuses=statuses), params)
        stopped, count = cursor.fetchone()
    return bool(stopped), int(count)


def _lock_address(organization_id: int, address: str) -> None:
    """Serialise the cap check of one address (PostgreSQL; SQLite's writer runs alone)."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"messaging-cap:{organization_id}:{address}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
