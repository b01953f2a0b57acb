"""Pages of the customer groups: the overview (counts and flows) and the thresholds."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.crm.choices import CustomerGroup
from chairtime.crm.profiles.forms import ThresholdsForm
from chairtime.crm.profiles.selectors import get_group_summary
from chairtime.crm.profiles.services import get_thresholds, update_thresholds
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.ANALYTICS_VIEW)
def group_overview(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    scope = "all" if request.GET.get("scope") == "all" else "branch"
    summary = get_group_summary(branch=access.branch, whole_organization=scope == "all")
    labels = dict(CustomerGroup.choices)
    context = {
        "scope": scope,
        "summary": summary,
        "groups": [(value, labels[value], summary.counts[value]) for value in CustomerGroup.values],
        "flows": [
            (
                days,
                [
                    (
                        labels.get(f.from_group, f.from_group),
                        labels.get(f.to_group, f.to_group),
                        f.count,
                    )
                    for f in flows
                ],
            )
            for days, flows in summary.flows.items()
        ],
        "can_configure": access.can(Capability.CRM_CONFIGURE),
    }
    return render(request, "crm/profiles/group_overview.html", context)


@capability_required(Capability.CRM_CONFIGURE)
def group_thresholds(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    thresholds = get_thresholds(access.branch.organization)
    form = ThresholdsForm(request.POST or None, initial=ThresholdsForm.initial_for(thresholds))
    if request.method == "POST" and form.is_valid():
        try:
            update_thresholds(
                actor=acting_user(request),
                organization=access.branch.organization,
                values=form.cleaned_data,
            )
        except InvalidInput as error:
            for field, messages in error.errors.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("crm:group_overview")
    return render(request, "crm/profiles/group_thresholds.html", {"form": form})
