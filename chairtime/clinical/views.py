"""The procedure catalogue page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chairtime.clinical.selectors import list_procedures
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.CATALOGUE_VIEW)
def procedure_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    return render(
        request, "clinical/procedure_list.html", {"procedures": list_procedures(branch=branch)}
    )
