"""Branch resources: staff, chairs and opening hours."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chairtime.scheduling.selectors import list_branch_staff, list_chairs, list_opening_hours
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.BRANCH_VIEW)
def resource_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    context = {
        "staff": list_branch_staff(branch=branch),
        "chairs": list_chairs(branch=branch),
        "opening_hours": list_opening_hours(branch=branch),
    }
    return render(request, "scheduling/resource_list.html", context)
