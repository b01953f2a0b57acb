"""The one way in to invoices, payments and prepaid cards."""

from __future__ import annotations

from chairtime.billing.models import Invoice, Payment, PrepaidCard
from chairtime.core.errors import NotFound
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_invoice(
    access: BranchAccess, invoice_id: int | str, *, capability: Capability = Capability.MONEY_VIEW
) -> Invoice:
    """An invoice of the active branch the user may act on; another branch's invoice, a
    missing one and a missing capability all look the same: NotFound."""
    access.require(capability)
    try:
        return Invoice.objects.select_related("branch", "patient", "promotion").get(
            pk=int(invoice_id), branch=access.branch
        )
    except (Invoice.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


def access_payment(
    access: BranchAccess, payment_id: int | str, *, capability: Capability = Capability.MONEY_VIEW
) -> Payment:
    """A payment taken in the active branch the user may act on; anything else NotFound."""
    access.require(capability)
    try:
        return Payment.objects.select_related("branch", "patient", "prepaid_card").get(
            pk=int(payment_id), branch=access.branch
        )
    except (Payment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


def access_prepaid_card(
    access: BranchAccess, code: str, *, capability: Capability = Capability.MONEY_VIEW
) -> PrepaidCard:
    """A prepaid card or voucher of the organisation, by its code (any case): cards are
    spent in any branch of the organisation."""
    access.require(capability)
    card = (
        PrepaidCard.objects.select_related("branch", "patient")
        .filter(organization_id=access.branch.organization_id, code=code.strip().upper())
        .first()
    )
    if card is None:
        raise NotFound
    return card
