"""Duplicate pages: the candidate pairs, the side-by-side merge, and what a merge moved."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.crm.duplicates.forms import MergeForm
from chairtime.crm.duplicates.selectors import (
    compare_patients,
    explain_merge,
    find_duplicates,
    get_merge,
    list_merges,
)
from chairtime.crm.duplicates.services import merge_patients
from chairtime.patients.access import access_patient
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability

MERGE = Capability.PATIENT_MERGE


@capability_required(MERGE)
def duplicate_list(request: HttpRequest) -> HttpResponse:
    organization = branch_access_of(request).branch.organization
    context = {
        "candidates": find_duplicates(organization=organization),
        "merges": list_merges(organization=organization, limit=20),
    }
    return render(request, "crm/duplicates/duplicate_list.html", context)


@capability_required(MERGE)
def merge_confirm(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    source = request.POST if request.method == "POST" else request.GET
    a_id, b_id = source.get("a", ""), source.get("b", "")
    if not (a_id and b_id):
        return render(request, "crm/duplicates/merge_confirm.html", {"form": None})
    a = access_patient(access, a_id, capability=MERGE)
    b = access_patient(access, b_id, capability=MERGE)
    form = MergeForm(request.POST or None, a=a, b=b, initial={"survivor": min(a.pk, b.pk)})
    if request.method == "POST" and form.is_valid():
        survivor, merged = form.pair()
        try:
            merge = merge_patients(
                actor=acting_user(request), survivor=survivor, merged=merged,
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except InvalidInput as error:
            for field, messages in error.errors.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("crm:merge_detail", merge_id=merge.pk)
    context = {"form": form, "a": a, "b": b, "rows": compare_patients(a, b)}
    return render(request, "crm/duplicates/merge_confirm.html", context)


@capability_required(MERGE)
def merge_detail(request: HttpRequest, merge_id: int) -> HttpResponse:
    organization = branch_access_of(request).branch.organization
    merge = get_merge(organization=organization, merge_id=merge_id)
    context = {"merge": merge, "lines": explain_merge(merge)}
    return render(request, "crm/duplicates/merge_detail.html", context)
