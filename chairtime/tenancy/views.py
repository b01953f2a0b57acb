"""The branch switcher."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from chairtime.core.http import safe_next_url
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.middleware import SESSION_KEY


@require_POST
@login_required
def switch_branch(request: HttpRequest) -> HttpResponse:
    """Make another branch the active one; a branch the user is not in is a 404."""
    access = get_branch_access(request.user, request.POST.get("branch"))
    request.session[SESSION_KEY] = access.branch.pk
    # The page the user was on may belong to the old branch: go to the new branch's home
    # unless the page is branch-neutral (the patient list, say) and was asked for.
    return HttpResponseRedirect(safe_next_url(request, reverse("analytics:home")))
