"""Keep profiles current: saves and deletes of the rows a profile is computed from mark
their patient, and the marked patients are refreshed once the transaction commits.

This is bookkeeping, not domain flow (STYLE rule 4): the services of other apps stay
unaware of the CRM. A refresh that fails is logged and never reaches the request that
caused it; queryset `.update()` calls send no signal, so the nightly recomputation
(`tasks.recompute_all_profiles_task`) is the backstop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)
_local = threading.local()


class _Batch:
    """The patients marked in one transaction. Every mark queues a flush on commit; the
    first flush refreshes them all and the later ones find nothing left to do."""

    def __init__(self) -> None:
        self.patient_ids: set[int] = set()

    def flush(self) -> None:
        ids, self.patient_ids = self.patient_ids, set()
        if not ids:
            return
        from chairtime.crm.profiles import compute

        try:
            compute.refresh_profiles(ids)
        except Exception:  # a failed refresh must never break the change that caused it
            logger.exception("refreshing profiles of patients %s failed", sorted(ids))


def _pending_batch() -> _Batch | None:
    """This transaction's batch: one whose flush is still queued on the connection."""
    batch: _Batch | None = getattr(_local, "batch", None)
    connection = connections[DEFAULT_DB_ALIAS]
    if batch is None or not connection.in_atomic_block:
        return None
    queued = any(getattr(entry[1], "__self__", None) is batch for entry in connection.run_on_commit)
    return batch if queued else None


def mark_patients(*patient_ids: int | None) -> None:
    """Refresh these patients' profiles once the current transaction commits (at once
    outside a transaction)."""
    ids = {pk for pk in patient_ids if pk is not None}
    if not ids:
        return
    batch = _pending_batch()
    if batch is None:
        # A new transaction (the last one committed or rolled back): a new batch.
        batch = _Batch()
        _local.batch = batch
    batch.patient_ids.update(ids)
    transaction.on_commit(batch.flush)


# --- which patient a row belongs to ---------------------------------------------------------
def _own(instance: Model) -> list[int | None]:
    return [getattr(instance, "patient_id", None)]


def _patient(instance: Model) -> list[int | None]:
    # The patient, and whoever referred them (their referral count).
    return [instance.pk, getattr(instance, "referred_by_patient_id", None)]


def _option(instance: Model) -> list[int | None]:
    from chairtime.clinical.models import TreatmentPlan

    plan_id: int = getattr(instance, "plan_id", 0) or 0
    return list(TreatmentPlan.objects.filter(pk=plan_id).values_list("patient_id", flat=True))


def _item(instance: Model) -> list[int | None]:
    from chairtime.clinical.models import TreatmentOption

    option_id: int = getattr(instance, "option_id", 0) or 0
    return list(
        TreatmentOption.objects.filter(pk=option_id).values_list("plan__patient_id", flat=True)
    )


def _write_off(instance: Model) -> list[int | None]:
    from chairtime.billing.models import Invoice

    invoice_id: int = getattr(instance, "invoice_id", 0) or 0
    return list(Invoice.objects.filter(pk=invoice_id).values_list("patient_id", flat=True))


def _watched() -> list[tuple[type[Model], Callable[[Model], list[int | None]]]]:
    from chairtime.billing.models import Invoice, Payment, Refund, WriteOff
    from chairtime.clinical.models import (
        LadderStep,
        PerformedProcedure,
        TreatmentItem,
        TreatmentOption,
        TreatmentPlan,
    )
    from chairtime.crm.models import Complaint, NpsSurvey
    from chairtime.patients.models import Consent, Patient
    from chairtime.scheduling.models import Appointment

    return [
        (Patient, _patient),
        (Consent, _own),
        (Appointment, _own),
        (TreatmentPlan, _own),
        (TreatmentOption, _option),
        (TreatmentItem, _item),
        (PerformedProcedure, _own),
        (LadderStep, _own),
        (Invoice, _own),
        (Payment, _own),
        (Refund, _own),
        (WriteOff, _write_off),
        (Complaint, _own),
        (NpsSurvey, _own),
    ]


def _receiver(
    patients_of: Callable[[Model], list[int | None]],
) -> Callable[..., None]:
    def receive(sender: type[Model], instance: Model, raw: bool = False, **kwargs: Any) -> None:
        if raw:  # loading fixtures
            return
        try:
            mark_patients(*patients_of(instance))
        except Exception:
            logger.exception("marking the patient of %s for a profile refresh failed", sender)

    return receive


_receivers: list[Callable[..., None]] = []  # signals hold weak references


def connect() -> None:
    """Register the receivers (called once from CrmConfig.ready)."""
    if _receivers:
        return
    for model, patients_of in _watched():
        receive = _receiver(patients_of)
        _receivers.append(receive)
        uid = f"crm.profiles.{model._meta.label_lower}"
        post_save.connect(receive, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(receive, sender=model, dispatch_uid=f"{uid}.delete")
