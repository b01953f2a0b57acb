"""The branch's audit log for managers."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chairtime.audit.selectors import list_branch_events
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.AUDIT_VIEW)
def event_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    page = Paginator(list_branch_events(branch=branch), 100).get_page(request.GET.get("page"))
    return render(request, "audit/event_list.html", {"page": page})
