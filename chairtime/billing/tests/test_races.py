"""Money writes racing each other: real concurrent clients (threads, each with its own
database connection) on SQLite and PostgreSQL.

- Closing a period while a backdated payment is being taken: the payment read the lock
  date under the branch's row lock, so the close waits for it (on SQLite the IMMEDIATE
  transaction makes it wait too). Never a payment dated inside a period closed before it
  committed.
- Two requests creating the same promotion code at once: one gets it, the other a
  conflict naming `code` (the unique constraint, never a server error).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
from django.db import connection

from chairtime.audit.models import AuditEvent
from chairtime.billing import services
from chairtime.billing.models import Payment, Promotion
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import Conflict
from chairtime.tenancy.models import Branch

pytestmark = pytest.mark.concurrency

WAIT = 30  # seconds: only reached when something is broken
BLOCKED = 2  # seconds the closer is given to finish if nothing made it wait


def _in_thread(name: str, work: Callable[[], object], outcome: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # the test reports it
            outcome.append(error)
        finally:
            connection.close()  # the thread's own connection

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_closing_a_period_waits_for_a_backdated_payment_in_flight(
    transactional_db: None, money: Money, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, go = threading.Event(), threading.Event()
    original = services._check_lock

    def check_then_pause(*args: object, **kwargs: object) -> bool:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        if threading.current_thread().name == "cashier":
            checked.set()  # the lock date is read; the payment is not written yet
            go.wait(WAIT)
        return result

    def pay() -> Payment:  # backdated to 10 March, while no period is closed
        return services.take_payment(
            actor=money.manager, branch=money.branch, patient=money.patient,
            amount="250000", method="cash", received_on=date(2030, 3, 10), now=NOW,
        )  # fmt: skip

    def close() -> Branch:  # up to 12 March
        branch = Branch.objects.get(pk=money.branch.pk)
        return services.set_lock_date(
            actor=money.owner, branch=branch, lock_date=date(2030, 3, 12), now=NOW
        )

    monkeypatch.setattr(services, "_check_lock", check_then_pause)
    paid: list[object] = []
    closed: list[object] = []
    cashier = _in_thread("cashier", pay, paid)
    assert checked.wait(WAIT)
    closer = _in_thread("closer", close, closed)
    closer.join(BLOCKED)
    closer_waited = closer.is_alive()
    go.set()
    cashier.join(WAIT)
    closer.join(WAIT)

    assert not cashier.is_alive() and not closer.is_alive()
    assert closer_waited  # for the payment's transaction
    [payment] = paid
    assert isinstance(payment, Payment), payment
    [branch] = closed
    assert isinstance(branch, Branch), branch
    assert (payment.received_on, branch.financial_lock_date) == (
        date(2030, 3, 10), date(2030, 3, 12),
    )  # fmt: skip
    # Taken while the period was open: no closed period touched.
    event = AuditEvent.objects.get(object_type="billing.payment", object_id=str(payment.pk))
    assert "locked_period" not in event.changes
    assert Branch.objects.get(pk=money.branch.pk).financial_lock_date == date(2030, 3, 12)


def test_the_same_promotion_code_created_twice_at_once_is_one_code_and_one_conflict(
    transactional_db: None, money: Money
) -> None:
    clients = 4
    barrier = threading.Barrier(clients)
    outcomes: list[object] = []

    def create() -> Promotion:
        barrier.wait(WAIT)
        return services.create_promotion(
            actor=money.owner, organization=money.world.acme, code="SPRING", name="Spring",
            kind="percent", value="10", valid_from=date(2030, 3, 1),
            valid_until=date(2030, 3, 31),
        )  # fmt: skip

    threads = [_in_thread(f"client {n}", create, outcomes) for n in range(clients)]
    for thread in threads:
        thread.join(WAIT)

    assert not any(thread.is_alive() for thread in threads)
    made = [o for o in outcomes if isinstance(o, Promotion)]
    conflicts = [o.errors for o in outcomes if isinstance(o, Conflict)]
    assert (len(made), conflicts) == (1, [{"code": ["This code is already used."]}] * 3), outcomes
    assert list(Promotion.objects.values_list("code", flat=True)) == ["SPRING"]
