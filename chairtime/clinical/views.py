"""Clinical pages: the procedure catalogue, a patient's treatment plans (options side by
side, items by phase), accepting, declining and booking them, the printable plan, the
unscheduled-treatment list, the product-ladder report, and completing a visit.
The printable plan also comes as a PDF.

Reading plans takes `treatment.view`, changing them `treatment.edit`, booking a plan item
and completing a visit `schedule.book` (as the appointment book's own buttons); the ladder
report `analytics.view` or `treatment.view`. Anything else is a 404.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.clinical.access import access_plan, access_plan_item
from chairtime.clinical.forms import (
    AcceptForm,
    BookItemForm,
    ItemForm,
    LadderPeriodForm,
    OptionForm,
    PerformedFormSet,
    PlanForm,
    ReasonForm,
    UnscheduledFilterForm,
    VisitForm,
    share_minutes,
)
from chairtime.clinical.models import (
    ItemStatus,
    LadderTier,
    PlanStatus,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.clinical.selectors import (
    PlanSummary,
    UnscheduledList,
    get_ladder_report,
    get_plan_summary,
    list_plan_summaries,
    list_procedures,
    list_unscheduled_treatment,
)
from chairtime.clinical.services import (
    PRICE_CAPABILITIES,
    accept_option,
    add_item,
    add_option,
    book_plan_item,
    cancel_item,
    complete_visit,
    create_plan,
    decline_plan,
    remove_item,
)
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.http import is_htmx
from chairtime.core.pdf import pdf_response
from chairtime.patients.access import access_patient
from chairtime.patients.models import Patient
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.forms import add_service_errors, value_of
from chairtime.scheduling.models import Appointment
from chairtime.scheduling.selectors import SlotQuery, find_slots
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

CHANGED = "appointments-changed"  # the appointment book reloads on it
OPENINGS_SHOWN = 8
UNSCHEDULED_PER_PAGE = 50
LADDER_MONTHS = 12
ADDED_ROWS = 2  # empty rows for procedures added on the spot at a visit
MAX_ADDED_ROWS = 10


@capability_required(Capability.CATALOGUE_VIEW)
def procedure_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    return render(
        request, "clinical/procedure_list.html", {"procedures": list_procedures(branch=branch)}
    )


def _dialog(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A dialog's content for htmx, or the same content as a page of its own without it."""
    return render(request, f"{template}#dialog" if is_htmx(request) else template, context)


def _plans_url(plan: TreatmentPlan) -> str:
    return reverse("clinical:patient_plans", args=[plan.patient_id]) + f"#plan-{plan.pk}"


def _done(request: HttpRequest, plan: TreatmentPlan, notice: str) -> HttpResponse:
    """After a change: back to the patient's plans (htmx follows the redirect header)."""
    messages.success(request, notice)
    url = _plans_url(plan)
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        # From the plans page itself the redirect only moves to the #plan anchor, which
        # does not reload the page: have htmx reload it after moving there.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        if (current.path, current.query) == (urlsplit(url).path, ""):
            response["HX-Refresh"] = "true"
        return response
    return redirect(url)


# --- the patient's plans -------------------------------------------------------------------
def _plan_cards(access: BranchAccess, summaries: list[PlanSummary]) -> list[dict[str, Any]]:
    can_edit = access.can(Capability.TREATMENT_EDIT)
    return [
        {
            "plan": summary.plan,
            "summary": summary,
            "is_proposed": summary.plan.status == PlanStatus.PROPOSED,
            "is_open": summary.plan.status in (PlanStatus.ACCEPTED, PlanStatus.IN_PROGRESS),
            "can_edit": can_edit,
        }
        for summary in summaries
    ]


def _plans_context(access: BranchAccess, patient: Patient, **extra: Any) -> dict[str, Any]:
    summaries = list_plan_summaries(patient=patient, branch=access.branch)
    return {
        "patient": patient,
        "cards": _plan_cards(access, summaries),
        "can_edit": access.can(Capability.TREATMENT_EDIT),
        "can_book": access.can(Capability.SCHEDULE_BOOK),
        "option_form": OptionForm(),
        "reason_form": ReasonForm(),
        **extra,
    }


@capability_required(Capability.TREATMENT_VIEW)
def patient_plans(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Every plan of the patient in the active branch, newest first; a new plan (POST)."""
    access = branch_access_of(request)
    patient = access_patient(access, patient_id, capability=Capability.TREATMENT_VIEW)
    form: PlanForm | None = None
    if request.method == "POST":
        access.require(Capability.TREATMENT_EDIT)
        form = PlanForm(request.POST, branch=access.branch)
        if form.is_valid():
            c = form.cleaned_data
            try:
                plan = create_plan(
                    actor=acting_user(request), branch=access.branch, patient=patient,
                    title=c["title"].strip(), doctor=c["doctor"], consultant=c["consultant"],
                    options=[(c["option_label"].strip(), [])], notes=c["notes"].strip(),
                )  # fmt: skip
            except InvalidInput as error:
                add_service_errors(form, error)
            else:
                return _done(request, plan, _("Plan created: now add its procedures."))
    elif access.can(Capability.TREATMENT_EDIT):
        form = PlanForm(branch=access.branch)
    context = _plans_context(access, patient, plan_form=form)
    return render(request, "clinical/patient_plans.html", context, status=_status(form))


def _status(form: Any) -> int:
    return 422 if form is not None and form.is_bound and form.errors else 200


@capability_required(Capability.TREATMENT_VIEW)
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_VIEW)
    context = {
        "patient": plan.patient,
        "card": _plan_cards(access, [get_plan_summary(plan=plan)])[0],
        "can_edit": access.can(Capability.TREATMENT_EDIT),
        "can_book": access.can(Capability.SCHEDULE_BOOK),
        "option_form": OptionForm(),
        "reason_form": ReasonForm(),
    }
    return render(request, "clinical/plan_detail.html", context)


def _printed_plan(request: HttpRequest, plan_id: int) -> tuple[TreatmentPlan, str, str]:
    """The printable plan's HTML, in the patient's preferred language, and that language."""
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_VIEW)
    language = plan.patient.preferred_language or translation.get_language()
    with translation.override(language):
        context = {
            "plan": plan, "patient": plan.patient, "branch": plan.branch,
            "summary": get_plan_summary(plan=plan), "language": language,
        }  # fmt: skip
        html = render_to_string("clinical/plan_print.html", context, request=request)
    return plan, html, language


@capability_required(Capability.TREATMENT_VIEW)
def plan_print(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan to hand to the patient, in the patient's preferred language."""
    _plan, html, language = _printed_plan(request, plan_id)
    response = HttpResponse(html)
    response["Content-Language"] = language
    return response


@capability_required(Capability.TREATMENT_VIEW)
def plan_pdf(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The printable plan as a PDF (the same page, drawn by WeasyPrint)."""
    plan, html, language = _printed_plan(request, plan_id)
    response = pdf_response(html, filename=f"plan-{plan.pk}-{plan.patient.number}")
    response["Content-Language"] = language
    return response


# --- changing a proposed plan --------------------------------------------------------------
@require_POST
@capability_required(Capability.TREATMENT_EDIT)
def option_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    form = OptionForm(request.POST)
    if form.is_valid():
        try:
            add_option(
                actor=acting_user(request), plan=plan, label=form.cleaned_data["label"].strip(),
                items=[],
            )  # fmt: skip
        except InvalidInput as error:
            add_service_errors(form, error)
        else:
            return _done(request, plan, _("Option added."))
    return _refused(request, access, plan, form)


def _refused(
    request: HttpRequest, access: BranchAccess, plan: TreatmentPlan, form: Any
) -> HttpResponse:
    """A refused inline form: the patient's plans again, with the reasons at the top."""
    errors = [e for field_errors in form.errors.values() for e in field_errors]
    context = _plans_context(access, plan.patient, errors=errors, plan_form=None)
    if access.can(Capability.TREATMENT_EDIT):
        context["plan_form"] = PlanForm(branch=access.branch)
    return render(request, "clinical/patient_plans.html", context, status=422)


def _option_of(plan: TreatmentPlan, option_id: int) -> TreatmentOption:
    option = plan.options.filter(pk=option_id).first()
    if option is None:
        raise NotFound
    return option


@capability_required(Capability.TREATMENT_EDIT)
def item_add(request: HttpRequest, plan_id: int, option_id: int) -> HttpResponse:
    """Add a procedure to an option of a proposed plan (a dialog on the plans page)."""
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    option = _option_of(plan, option_id)
    if request.method == "POST":
        form = ItemForm(request.POST, branch=access.branch)
        if form.is_valid():
            try:
                add_item(actor=acting_user(request), option=option, item=form.to_input())
            except InvalidInput as error:
                add_service_errors(form, error)
            else:
                return _done(request, plan, _("Procedure added."))
    else:
        form = ItemForm(branch=access.branch)
    context = {"plan": plan, "option": option, "form": form}
    return _dialog(request, "clinical/item_add.html", context)


@require_POST
@capability_required(Capability.TREATMENT_EDIT)
def item_remove(request: HttpRequest, plan_id: int, item_id: int) -> HttpResponse:
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    item = access_plan_item(access, item_id, Capability.TREATMENT_EDIT, plan=plan)
    try:
        remove_item(actor=acting_user(request), item=item)
    except InvalidInput as error:
        return _refused_with(request, access, plan, error)
    return _done(request, plan, _("Procedure removed."))


def _refused_with(
    request: HttpRequest, access: BranchAccess, plan: TreatmentPlan, error: InvalidInput
) -> HttpResponse:
    form = ReasonForm()
    add_service_errors(form, error)
    return _refused(request, access, plan, form)


# --- deciding ------------------------------------------------------------------------------
@capability_required(Capability.TREATMENT_EDIT)
def plan_accept(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The patient's choice of an option, signed on the screen or consented verbally."""
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    form = AcceptForm(request.POST if request.method == "POST" else None, plan=plan)
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            accept_option(
                actor=acting_user(request), option=c["option"], method=c["method"],
                signature=c["signature"] if c["method"] == "signature" else "",
                signed_name=c["signed_name"].strip(), witness=c["witness"],
                note=c["note"].strip(),
            )  # fmt: skip
        except InvalidInput as error:
            add_service_errors(form, error)
        else:
            return _done(request, plan, _("Plan accepted."))
    summary = get_plan_summary(plan=plan)
    context = {"plan": plan, "form": form, "summary": summary}
    return _dialog(request, "clinical/plan_accept.html", context)


@require_POST
@capability_required(Capability.TREATMENT_EDIT)
def plan_decline(request: HttpRequest, plan_id: int) -> HttpResponse:
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            decline_plan(
                actor=acting_user(request), plan=plan, reason=form.cleaned_data["reason"].strip()
            )
        except InvalidInput as error:
            add_service_errors(form, error)
        else:
            return _done(request, plan, _("Plan declined."))
    return _refused(request, access, plan, form)


@require_POST
@capability_required(Capability.TREATMENT_EDIT)
def item_cancel(request: HttpRequest, plan_id: int, item_id: int) -> HttpResponse:
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    item = access_plan_item(access, item_id, Capability.TREATMENT_EDIT, plan=plan)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            cancel_item(
                actor=acting_user(request), item=item, reason=form.cleaned_data["reason"].strip()
            )
        except InvalidInput as error:
            add_service_errors(form, error)
        else:
            return _done(request, plan, _("Procedure cancelled."))
    return _refused(request, access, plan, form)


# --- booking a plan item -------------------------------------------------------------------
@capability_required(Capability.SCHEDULE_BOOK)
def item_book(request: HttpRequest, plan_id: int, item_id: int) -> HttpResponse:
    """The next openings for a planned item's procedure; picking one books it."""
    access = branch_access_of(request)
    plan = access_plan(access, plan_id, Capability.SCHEDULE_BOOK)
    item = access_plan_item(access, item_id, Capability.SCHEDULE_BOOK, plan=plan)
    form = BookItemForm(request.POST if request.method == "POST" else None, branch=access.branch)
    if request.method == "POST" and form.is_valid():
        slot = form.cleaned_data["slot"]
        try:
            book_plan_item(
                actor=acting_user(request), item=item, doctor=slot.doctor, chair=slot.chair,
                starts_at=slot.starts_at, assistant=slot.assistant,
            )  # fmt: skip
        except InvalidInput as error:
            add_service_errors(form, error, aliases=_SLOT_ALIASES)
        else:
            response = _done(request, plan, _("Booked."))
            response["HX-Trigger"] = CHANGED
            return response
    context = {
        "plan": plan, "item": item, "form": form, "is_planned": item.status == ItemStatus.PLANNED,
        **_openings(access, plan, item),
    }  # fmt: skip
    return _dialog(request, "clinical/item_book.html", context)


_SLOT_ALIASES = {"starts_at": "slot", "chair": "slot", "doctor": "slot", "assistant": "slot"}


def _openings(access: BranchAccess, plan: TreatmentPlan, item: TreatmentItem) -> dict[str, Any]:
    """The next openings (the plan's doctor first if they can do it, else any doctor)."""
    if item.status != ItemStatus.PLANNED:
        return {"slots": [], "slot_error": ""}
    query = SlotQuery(procedure=item.procedure, patient=plan.patient, limit=OPENINGS_SHOWN * 4)
    try:
        found = find_slots(branch=access.branch, query=query)
    except InvalidInput as error:
        return {"slots": [], "slot_error": " ".join(_messages(error))}
    seen: set[tuple[Any, int]] = set()
    slots = []
    for slot in found:
        key = (slot.opening.interval.start, slot.doctor.pk)
        if key not in seen:
            seen.add(key)
            slots.append((value_of(slot), slot))
    return {"slots": slots[:OPENINGS_SHOWN], "slot_error": ""}


def _messages(error: InvalidInput) -> list[str]:
    return [message for messages in error.errors.values() for message in messages]


# --- lists and reports ---------------------------------------------------------------------
@capability_required(Capability.TREATMENT_VIEW)
def unscheduled_list(request: HttpRequest) -> HttpResponse:
    """Accepted treatment nobody has booked yet, most valuable first."""
    access = branch_access_of(request)
    branch = access.branch
    form = UnscheduledFilterForm(request.GET or None, branch=branch)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        c = form.cleaned_data
        filters = {
            "doctor_id": c["doctor"].pk if c["doctor"] else None, "min_value": c["min_value"],
            "min_age_days": c["min_age_days"], "max_age_days": c["max_age_days"],
        }  # fmt: skip
    today = timezone.localdate(timezone=branch.zone)
    number = _page_number(request)
    result = _unscheduled_page(branch, today, filters, number)
    page = Paginator(range(result.count), UNSCHEDULED_PER_PAGE).get_page(number)
    if page.number != number:  # past the last page: show the last
        result = _unscheduled_page(branch, today, filters, page.number)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form, "result": result, "page": page, "query_string": query.urlencode(),
        "can_see_patient": access.can(Capability.PATIENT_VIEW),
    }  # fmt: skip
    return render(request, "clinical/unscheduled_list.html", context)


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _unscheduled_page(
    branch: Branch, today: date, filters: dict[str, Any], number: int
) -> UnscheduledList:
    return list_unscheduled_treatment(
        branch=branch, today=today, limit=UNSCHEDULED_PER_PAGE,
        offset=(number - 1) * UNSCHEDULED_PER_PAGE, **filters,
    )  # fmt: skip


@capability_required(Capability.BRANCH_VIEW)
def ladder_report(request: HttpRequest) -> HttpResponse:
    """How many patients stand on each rung of the product ladder, and who climbed when.
    Analysts and clinical staff alike: `analytics.view` or `treatment.view`."""
    access = branch_access_of(request)
    if not (access.can(Capability.ANALYTICS_VIEW) or access.can(Capability.TREATMENT_VIEW)):
        raise NotFound
    branch = access.branch
    today = timezone.localdate(timezone=branch.zone)
    default_start = (today.replace(day=1) - timedelta(days=31 * (LADDER_MONTHS - 1))).replace(day=1)
    form = LadderPeriodForm(request.GET or None)
    start, end = default_start, today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"] or default_start
        end = form.cleaned_data["end"] or today
    report = get_ladder_report(branch=branch, start=start, end=end)
    context = {
        "form": form, "report": report, "start": start, "end": end,
        "tiers": [(_tier_label(tier), count) for tier, count in report.tiers],
        "moves": [
            (move.month, _tier_label(move.from_tier), _tier_label(move.to_tier), move.patients)
            for move in report.moves
        ],
    }  # fmt: skip
    return render(request, "clinical/ladder_report.html", context)


def _tier_label(tier: str) -> str:
    return str(LadderTier(tier).label) if tier else _("None yet")


# --- completing a visit --------------------------------------------------------------------
def _visit_rows(appointment: Appointment) -> list[dict[str, Any]]:
    """The visit's rows before anything is typed: its scheduled plan items, else the
    procedure it was booked for."""
    items = appointment.plan_items.filter(status=ItemStatus.SCHEDULED).select_related("procedure")
    rows = [_visit_row(item) for item in items]
    if not rows:
        rows = [{"is_done": True, "procedure": appointment.procedure_id, "quantity": 1}]
    return rows


def _visit_row(item: TreatmentItem) -> dict[str, Any]:
    return {
        "plan_item": item.pk, "is_done": True, "procedure": item.procedure_id,
        "teeth": " ".join(str(t) for t in item.teeth), "surfaces": item.surfaces,
        "quantity": item.quantity, "unit_price": item.unit_price, "discount": item.discount,
    }  # fmt: skip


def _added_rows(request: HttpRequest) -> int:
    raw = request.GET.get("more", "")
    return min(MAX_ADDED_ROWS, ADDED_ROWS + int(raw)) if raw.isdigit() else ADDED_ROWS


@capability_required(Capability.SCHEDULE_BOOK)
def visit_complete(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """What was done in the chair: the plan items (or the booked procedure) prefilled,
    procedures added on the spot, and the chair time; completes the appointment. Price and
    discount show only to those who may change them (`treatment.edit` or `money.adjust`)."""
    access = branch_access_of(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    branch = access.branch
    may_price = any(access.can(capability) for capability in PRICE_CAPABILITIES)
    if request.method == "POST":
        formset = PerformedFormSet(request.POST, branch=branch, may_price=may_price, prefix="done")
        visit = VisitForm(request.POST)
        if formset.is_valid() and visit.is_valid():
            counted = [form for form in formset.forms if form.is_counted]
            minutes = share_minutes(visit.cleaned_data["chair_minutes"], len(counted))
            performed = [f.to_input(m) for f, m in zip(counted, minutes, strict=True)]
            try:
                done = complete_visit(
                    actor=acting_user(request), appointment=appointment, performed=performed
                )
            except InvalidInput as error:
                add_service_errors(visit, error)
            else:
                return _visit_done(request, appointment, done)
    else:
        initial = _visit_rows(appointment)
        formset = PerformedFormSet(
            initial=initial + [{"is_done": True}] * _added_rows(request), branch=branch,
            may_price=may_price, prefix="done",
        )  # fmt: skip
        visit = VisitForm()
    planned_ids = {f.initial.get("plan_item") for f in formset.forms} - {None}
    context = {
        "appointment": appointment, "formset": formset, "visit": visit,
        "is_seated": appointment.status == "seated", "has_plan_items": bool(planned_ids),
        "may_price": may_price,
        "more": _added_rows(request) - ADDED_ROWS + 1,
    }  # fmt: skip
    return _dialog(request, "clinical/visit_complete.html", context)


def _visit_done(request: HttpRequest, appointment: Appointment, done: list[Any]) -> HttpResponse:
    notice = ngettext(
        "Visit completed: %(count)s procedure recorded.",
        "Visit completed: %(count)s procedures recorded.",
        len(done),
    ) % {"count": len(done)}
    if not is_htmx(request):
        messages.success(request, notice)
        day: date = timezone.localdate(appointment.starts_at, appointment.branch.zone)
        return redirect(f"{reverse('scheduling:day_view')}?date={day.isoformat()}")
    context = {"appointment": appointment, "performed": done, "notice": notice}
    response = render(request, "clinical/visit_complete.html#completed", context)
    response["HX-Trigger"] = CHANGED
    return response
