"""Pages of the front desk (namespace `frontdesk`, under /desk/): the morning meeting (and
its printable view), the evening meeting, the no-shows and cancellations report with its
"Charge fee" button, the desk's settings, and the book's version the pages poll.

Seeing the meetings takes `schedule.view` (the money rows also `money.view`), charging a
fee `money.collect`, the settings `desk.configure`; anything else is a 404.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.core.http import requested_day
from chairtime.frontdesk.access import access_missed_appointment
from chairtime.frontdesk.forms import DailyGoalForm, FeeRuleForm
from chairtime.frontdesk.selectors import (
    get_book_version,
    get_daily_goal,
    get_evening_meeting,
    get_fee_rule,
    get_morning_meeting,
    get_no_show_report,
    today_of,
)
from chairtime.frontdesk.services import (
    charge_no_show_fee,
    freeze_day,
    set_daily_goal,
    set_no_show_fee_rule,
)
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

FIRST_DAY, LAST_DAY = date(1900, 1, 8), date(2999, 12, 24)
MAX_VERSION_DAYS = 2


def _day(request: HttpRequest, branch: Branch, parameter: str = "day") -> tuple[date, str]:
    return requested_day(
        request, parameter=parameter, today=today_of(branch, timezone.now()),
        first=FIRST_DAY, last=LAST_DAY,
    )  # fmt: skip


@capability_required(Capability.SCHEDULE_VIEW)
def morning_meeting(request: HttpRequest) -> HttpResponse:
    """Today's huddle; today's production is frozen here if the schedule has not yet."""
    access = branch_access_of(request)
    branch = access.branch
    now = timezone.now()
    day, date_error = _day(request, branch)
    today = today_of(branch, now)
    if day == today:
        freeze_day(branch=branch, day=day, now=now)
    meeting = get_morning_meeting(
        branch=branch, day=day, now=now, with_money=access.can(Capability.MONEY_VIEW)
    )
    is_print = request.GET.get("print") == "1"
    context = {
        "meeting": meeting, "day": day, "today": today, "date_error": date_error,
        "can_see_money": access.can(Capability.MONEY_VIEW), "is_print": is_print,
        "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "live_days": [day],
    }  # fmt: skip
    template = "frontdesk/morning_print.html" if is_print else "frontdesk/morning.html"
    return render(request, template, context)


@capability_required(Capability.SCHEDULE_VIEW)
def evening_meeting(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    now = timezone.now()
    day, date_error = _day(request, branch)
    meeting = get_evening_meeting(branch=branch, day=day, now=now)
    context = {
        "meeting": meeting, "day": day, "today": today_of(branch, now), "date_error": date_error,
        "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "live_days": [day, meeting.tomorrow],
    }  # fmt: skip
    return render(request, "frontdesk/evening.html", context)


@capability_required(Capability.SCHEDULE_VIEW)
def no_show_report(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    day, date_error = _day(request, branch)
    today = today_of(branch, timezone.now())
    # A fee is invoiced today: no button while today itself is in the closed period.
    is_today_closed = (
        branch.financial_lock_date is not None
        and branch.financial_lock_date >= today
        and not access.can(Capability.MONEY_EDIT_LOCKED)
    )
    context = {
        "report": get_no_show_report(branch=branch, day=day), "day": day,
        "today": today, "date_error": date_error,
        "can_charge": access.can(Capability.MONEY_COLLECT) and not is_today_closed,
        "can_see_money": access.can(Capability.MONEY_VIEW),
        "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "live_days": [day],
    }  # fmt: skip
    return render(request, "frontdesk/no_shows.html", context)


@require_POST
@capability_required(Capability.MONEY_COLLECT)
def fee_charge(request: HttpRequest, appointment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    appointment = access_missed_appointment(access, appointment_id)
    day = today_of(access.branch, appointment.starts_at)
    try:
        fee = charge_no_show_fee(actor=acting_user(request), appointment=appointment)
    except InvalidInput as error:
        for problems in error.errors.values():
            for problem in problems:
                messages.error(request, problem)
    else:
        messages.success(
            request, _("Fee charged on invoice %(number)s.") % {"number": fee.invoice.number}
        )
    return redirect(f"{reverse('frontdesk:no_show_report')}?day={day.isoformat()}")


@capability_required(Capability.DESK_CONFIGURE)
def desk_settings(request: HttpRequest) -> HttpResponse:
    """The daily goal and the no-show fee rule of the branch."""
    branch = branch_access_of(request).branch
    goal, rule = get_daily_goal(branch=branch), get_fee_rule(branch=branch)
    goal_form = DailyGoalForm(
        initial={"amount": goal.amount, "freeze_at": goal.freeze_at} if goal else None,
        prefix="goal",
    )
    rule_form = FeeRuleForm(
        initial={"is_enabled": rule.is_enabled, "amount": rule.amount,
                 "from_count": rule.from_count} if rule else None,
        prefix="fee",
    )  # fmt: skip
    if request.method == "POST":
        if request.POST.get("form") == "fee":
            rule_form = FeeRuleForm(request.POST, prefix="fee")
            if _save_rule(request, branch, rule_form):
                return redirect("frontdesk:desk_settings")
        else:
            goal_form = DailyGoalForm(request.POST, prefix="goal")
            if _save_goal(request, branch, goal_form):
                return redirect("frontdesk:desk_settings")
    context = {"goal_form": goal_form, "rule_form": rule_form, "currency": branch.currency}
    return render(request, "frontdesk/settings.html", context)


def _save_goal(request: HttpRequest, branch: Branch, form: DailyGoalForm) -> bool:
    if not form.is_valid():
        return False
    try:
        set_daily_goal(
            actor=acting_user(request), branch=branch, amount=form.cleaned_data["amount"],
            freeze_at=form.cleaned_data["freeze_at"],
        )  # fmt: skip
    except InvalidInput as error:
        _add_errors(form, error)
        return False
    messages.success(request, _("Daily goal saved."))
    return True


def _save_rule(request: HttpRequest, branch: Branch, form: FeeRuleForm) -> bool:
    if not form.is_valid():
        return False
    try:
        set_no_show_fee_rule(
            actor=acting_user(request), branch=branch,
            is_enabled=form.cleaned_data["is_enabled"],
            amount=form.cleaned_data["amount"] or "0", from_count=form.cleaned_data["from_count"],
        )  # fmt: skip
    except InvalidInput as error:
        _add_errors(form, error)
        return False
    messages.success(request, _("No-show fee rule saved."))
    return True


def _add_errors(form: DailyGoalForm | FeeRuleForm, error: InvalidInput) -> None:
    for name, problems in error.errors.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)


@require_GET
@capability_required(Capability.SCHEDULE_VIEW)
def book_version(request: HttpRequest) -> HttpResponse:
    """The book's version for the branch's day(s) (`?day=`, up to two): 204 when it is
    still `?since=`, else {"version"}. The pages poll it (static/js/live.js)."""
    branch = branch_access_of(request).branch
    days = []
    for raw in request.GET.getlist("day")[:MAX_VERSION_DAYS] or [""]:
        try:
            days.append(date.fromisoformat(raw) if raw else today_of(branch, timezone.now()))
        except ValueError:
            return JsonResponse(
                {"detail": _("“%(value)s” is not a date.") % {"value": raw}}, status=400
            )
    version = ".".join(get_book_version(branch=branch, day=day) for day in days)
    if request.GET.get("since") == version:
        return HttpResponse(status=204)
    response = JsonResponse({"version": version})
    response["Cache-Control"] = "no-store"
    return response
