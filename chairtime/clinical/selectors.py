"""Reads of the procedure catalogue."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from chairtime.clinical.models import Procedure, ProcedurePrice
from chairtime.tenancy.models import Branch


def list_procedures(*, branch: Branch) -> QuerySet[Procedure]:
    """The organisation's catalogue with this branch's price and cost beside each entry."""
    prices = ProcedurePrice.objects.filter(branch=branch, procedure=OuterRef("pk"))
    return Procedure.objects.filter(organization_id=branch.organization_id).annotate(
        branch_price=Subquery(prices.values("price")[:1]),
        branch_cost=Subquery(prices.values("standard_cost")[:1]),
    )
