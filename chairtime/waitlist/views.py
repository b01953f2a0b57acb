"""Pages of the waitlist: the branch's list (add, remove, filter), the offers of freed
slots with each invite's state, "Fill this gap" from the day view's dialog, and the
patient's claim page (/w/<token>, no login).

Seeing takes `schedule.view`, changing `schedule.book`; anything else is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.http import is_htmx
from chairtime.messaging.automation.formatting import appointment_time, branch_language
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.forms import add_service_errors
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability
from chairtime.waitlist.access import access_entry, access_offer
from chairtime.waitlist.forms import EntryFilterForm, EntryForm
from chairtime.waitlist.selectors import (
    EntryFilters,
    get_offer_for_appointment,
    list_entries,
    list_invites,
    list_offers,
)
from chairtime.waitlist.services import (
    EntryData,
    Refill,
    add_entry,
    claim_slot,
    open_claim,
    refill_appointment,
    remove_entry,
)

PAGE_SIZE = 50


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


# --- the list -------------------------------------------------------------------------------
def _list_page(
    request: HttpRequest, access: BranchAccess, form: EntryForm | None = None, status: int = 200
) -> HttpResponse:
    filters_form = EntryFilterForm(request.GET or None, branch=access.branch)
    filters = EntryFilters()
    if filters_form.is_bound and filters_form.is_valid():
        data = filters_form.cleaned_data
        procedure = data["procedure"]
        filters = EntryFilters(
            status=data["status"], procedure_id=procedure.pk if procedure else None,
            search=data["search"] or "",
        )  # fmt: skip
    page = Paginator(list_entries(branch=access.branch, filters=filters), PAGE_SIZE).get_page(
        _page_number(request)
    )
    can_book = access.can(Capability.SCHEDULE_BOOK)
    if can_book and form is None:
        form = EntryForm(branch=access.branch, initial={"patient": request.GET.get("patient", "")})
    context = {"page": page, "filters": filters_form, "form": form if can_book else None,
               "can_book": can_book}  # fmt: skip
    return render(request, "waitlist/entry_list.html", context, status=status)


@capability_required(Capability.SCHEDULE_VIEW)
def entry_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request, branch_access_of(request))


@require_POST
@capability_required(Capability.SCHEDULE_BOOK)
def entry_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = EntryForm(request.POST, branch=access.branch)
    if form.is_valid():
        c = form.cleaned_data
        data = EntryData(
            patient=c["patient"], procedure=c["procedure"], doctor=c["doctor"],
            weekdays=list(c["weekdays"]), part_of_day=c["part_of_day"],
            earliest_on=c["earliest_on"], latest_on=c["latest_on"], note=c["note"] or "",
        )  # fmt: skip
        try:
            entry = add_entry(actor=acting_user(request), branch=access.branch, data=data)
        except InvalidInput as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("%(patient)s is on the waitlist.") % {"patient": entry.patient.display_name},
            )
            return redirect("waitlist:entry_list")
    return _list_page(request, access, form, status=422)


@require_POST
@capability_required(Capability.SCHEDULE_BOOK)
def entry_remove(request: HttpRequest, entry_id: int) -> HttpResponse:
    access = branch_access_of(request)
    entry = access_entry(access, entry_id, capability=Capability.SCHEDULE_BOOK)
    try:
        remove_entry(actor=acting_user(request), entry=entry)
    except InvalidInput as error:
        for message in (m for ms in error.errors.values() for m in ms):
            messages.error(request, message)
    else:
        messages.success(
            request, _("%(patient)s is off the waitlist.") % {"patient": entry.patient.display_name}
        )
    return redirect("waitlist:entry_list")


# --- offers ---------------------------------------------------------------------------------
@capability_required(Capability.SCHEDULE_VIEW)
def offer_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    page = Paginator(list_offers(branch=access.branch), PAGE_SIZE).get_page(_page_number(request))
    invites = {offer.pk: list(list_invites(offer)) for offer in page}
    rows = [(offer, invites[offer.pk]) for offer in page]
    return render(request, "waitlist/offer_list.html", {"page": page, "rows": rows})


def _offer_context(
    offer: Any, *, notice: str = "", errors: list[str] | None = None
) -> dict[str, Any]:
    return {"offer": offer, "invites": list(list_invites(offer)) if offer else [],
            "notice": notice, "errors": errors or []}  # fmt: skip


@capability_required(Capability.SCHEDULE_VIEW)
def offer_detail(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = access_offer(branch_access_of(request), offer_id)
    template = (
        "waitlist/offer_detail.html#panel" if is_htmx(request) else "waitlist/offer_detail.html"
    )
    return render(request, template, _offer_context(offer))


def _refill_notice(refill: Refill) -> str:
    if refill.outcome == "invited":
        return _("Offered to %(count)d waiting patients.") % {"count": len(refill.invited)}
    notices = {
        "nobody": _("Nobody on the waitlist fits this gap."),
        "enough": _("The slot is already offered; the invites are still open."),
        "closed": _("This slot was already filled."),
        "too_late": _("Too late to offer this slot."),
    }
    return notices[refill.outcome]


@require_POST
@capability_required(Capability.SCHEDULE_BOOK)
def refill(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """ "Fill this gap" on a cancelled or missed appointment: offer it to the waitlist now,
    and show the offer in the dialog (or go to it, without htmx)."""
    access = branch_access_of(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    errors: list[str] = []
    try:
        result = refill_appointment(actor=acting_user(request), appointment=appointment)
        notice = _refill_notice(result)
        offer = result.offer
    except InvalidInput as error:
        errors = [m for ms in error.errors.values() for m in ms]
        notice, offer = "", get_offer_for_appointment(appointment.pk)
    if not is_htmx(request):
        for message in errors:
            messages.error(request, message)
        if notice:
            messages.info(request, notice)
        if offer is not None:
            return redirect("waitlist:offer_detail", offer_id=offer.pk)
        return redirect("waitlist:offer_list")
    context = _offer_context(offer, notice=notice, errors=errors)
    context["appointment"] = appointment
    return render(request, "waitlist/offer_detail.html#panel", context)


# --- the patient's claim page -----------------------------------------------------------------
@csrf_protect
@require_http_methods(["GET", "POST"])
def claim_link(request: HttpRequest, token: str) -> HttpResponse:
    """No login: the token is the key. Shows the branch, the time, the doctor and the
    procedure, nothing else; "Take it" (POST) books it if it is still open."""
    try:
        claim = open_claim(token)
    except NotFound:
        return render(request, "waitlist/claim.html", {"state": "unknown"}, status=404)
    branch = claim.offer.branch
    language = claim.invite.patient.preferred_language or branch_language(branch)
    with translation.override(language):
        if request.method == "POST":
            if request.POST.get("action") != "take":
                raise Http404
            claim = claim_slot(token=token)
        context = {
            "state": claim.state, "branch": branch, "doctor": str(claim.offer.doctor),
            "procedure": claim.invite.procedure.localized_name(language),
            "when": appointment_time(claim.offer.starts_at, branch.zone, language),
            "expires": claim.invite.expires_at, "just_done": claim.is_new,
        }  # fmt: skip
        # Nobody is logged in here, so the active zone would be UTC: the template's date
        # filters must show the branch's local time.
        with timezone.override(branch.zone):
            response = render(request, "waitlist/claim.html", context)
        response["Content-Language"] = language
    return response
