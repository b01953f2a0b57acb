"""The branch's home page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chairtime.analytics.selectors import get_branch_summary
from chairtime.core.selectors import get_worker_last_beat, is_worker_alive
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.BRANCH_VIEW)
def home(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    last_beat = get_worker_last_beat()
    return render(
        request,
        "analytics/home.html",
        {
            "summary": get_branch_summary(branch=access.branch),
            "worker_last_beat": last_beat,
            "worker_alive": is_worker_alive(last_beat),
        },
    )
