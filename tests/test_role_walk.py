"""Every role walks through every page: 200 or 404, exactly as the capability table says.

The role → capability table (chairtime/tenancy/roles.py) is the specification; the pages
must obey it. A new page joins PAGES (the coverage test below fails until it does).
"""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import NamedTuple

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from chairtime.accounts.models import ApiToken, User
from chairtime.accounts.services import create_api_token
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.navigation import NAVIGATION
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

C = Capability


def no_arguments(patient: Patient, user: User | None) -> dict[str, int]:
    return {}


def of_patient(patient: Patient, user: User | None) -> dict[str, int]:
    return {"patient_id": patient.pk}


def appointment_of(patient: Patient, user: User | None) -> Appointment:
    """A booked appointment of the patient in the branch the user works in on logging in
    (the patient's home branch for anyone else), so that only the capability decides."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    return AppointmentFactory(branch=branch, patient=patient)


def of_appointment(patient: Patient, user: User | None) -> dict[str, int]:
    return {"appointment_id": appointment_of(patient, user).pk}


# --- treatment plans (pages of chairtime/clinical) ------------------------------------------
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.utils import timezone  # noqa: E402

from chairtime.clinical.models import (  # noqa: E402
    ItemStatus,
    OptionStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from tests.factories import ProcedureFactory  # noqa: E402


def plan_of(patient: Patient, user: User | None, *, is_accepted: bool = False) -> TreatmentItem:
    """A plan of the patient in the user's branch (as `appointment_of`) with one option of
    one item, written straight to the tables: proposed, or accepted with the item planned."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    now = timezone.now()
    plan = TreatmentPlan.objects.create(
        branch=branch, patient=patient, title="Walk plan", doctor=user or UserFactory(),
        presented_at=now, expires_on=now.date() + timedelta(days=90),
        status=PlanStatus.ACCEPTED if is_accepted else PlanStatus.PROPOSED,
        accepted_at=now if is_accepted else None,
    )  # fmt: skip
    option = TreatmentOption.objects.create(
        plan=plan, label="Walk A",
        status=OptionStatus.ACCEPTED if is_accepted else OptionStatus.OPEN,
    )  # fmt: skip
    procedure = ProcedureFactory(organization=branch.organization)
    price = Decimal("500000")
    return TreatmentItem.objects.create(
        option=option, procedure=procedure, unit_price=price, amount=price, teeth=[16]
    )


def of_plan(patient: Patient, user: User | None) -> dict[str, int]:
    return {"plan_id": plan_of(patient, user).option.plan_id}


def of_option(patient: Patient, user: User | None) -> dict[str, int]:
    option = plan_of(patient, user).option
    return {"plan_id": option.plan_id, "option_id": option.pk}


def of_planned_item(patient: Patient, user: User | None) -> dict[str, int]:
    item = plan_of(patient, user, is_accepted=True)
    return {"plan_id": item.option.plan_id, "item_id": item.pk}


# --- money (pages of chairtime/billing) -------------------------------------------------------
from chairtime.billing.models import InstalmentSchedule, Invoice, PrepaidCard, WriteOff  # noqa: E402


def invoice_of(patient: Patient, user: User | None) -> Invoice:
    """An open invoice of 500,000 for the patient in the user's branch (as `appointment_of`),
    written straight to the table."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    now = timezone.now()
    day = timezone.localdate(now, branch.zone)
    amount = Decimal("500000")
    return Invoice.objects.create(
        branch=branch, patient=patient, number=f"WALK-{Invoice.objects.count() + 1}",
        currency=branch.currency, issued_at=now, issued_on=day, due_on=day,
        subtotal=amount, total=amount, balance=amount,
    )  # fmt: skip


def of_invoice(patient: Patient, user: User | None) -> dict[str, int]:
    return {"invoice_id": invoice_of(patient, user).pk}


# --- segments (pages of chairtime/crm/segments) ------------------------------------------------
from chairtime.audit.models import AuditEvent  # noqa: E402
from chairtime.crm.models import Segment  # noqa: E402
from chairtime.crm.tests.helpers_feedback import walk_complaint  # noqa: E402
from chairtime.crm.tests.helpers_importing import (  # noqa: E402
    walk_import_job,
    walk_imports_started,
)


def of_segment(patient: Patient, user: User | None) -> dict[str, int]:
    """The user's own segment named "Walk" (created once), written straight to the table."""
    owner = user or UserFactory()
    segment, _created = Segment.objects.get_or_create(
        organization_id=patient.organization_id, owner=owner, name="Walk",
        defaults={"definition": {"match": "all", "conditions": [
            {"field": "visit_count", "op": "gte", "value": 0}]}},
    )  # fmt: skip
    return {"segment_id": segment.pk}


# --- care (pages of chairtime/care) -------------------------------------------------------------
from chairtime.care.models import TaskAttempt  # noqa: E402
from chairtime.care.tests.helpers import walk_task  # noqa: E402
from chairtime.labs.models import LabCase  # noqa: E402
from chairtime.labs.tests.helpers import walk_case, walk_lab  # noqa: E402


def of_rule(patient: Patient, user: User | None) -> dict[str, str]:
    return {"kind": "recall_due"}


# --- messaging (pages of chairtime/messaging) ---------------------------------------------------
from chairtime.messaging.models import InboundMessage, Message  # noqa: E402


def _walk_branch(patient: Patient, user: User | None):  # type: ignore[no-untyped-def]
    access = default_branch_access(user) if user is not None else None
    return access.branch if access is not None else patient.home_branch


def message_of(patient: Patient, user: User | None, *, status: str = "queued") -> Message:
    """An SMS to the patient in the user's branch (as `appointment_of`), straight to the table."""
    branch = _walk_branch(patient, user)
    return Message.objects.create(
        organization_id=branch.organization_id, branch=branch, patient=patient, channel="sms",
        purpose="service", to_address="+84912345678", body="Walk", status=status,
        idempotency_key=f"walk:{Message.objects.count() + 1}", not_before=timezone.now(),
    )  # fmt: skip


def inbound_of(patient: Patient, user: User | None) -> InboundMessage:
    branch = _walk_branch(patient, user)
    return InboundMessage.objects.create(
        organization_id=branch.organization_id, branch=branch, patient=patient, channel="sms",
        provider="twilio", provider_message_id=f"walk-{InboundMessage.objects.count() + 1}",
        from_address="+84912345678", body="Walk reply", received_at=timezone.now(), kind="reply",
    )  # fmt: skip


def of_message(patient: Patient, user: User | None) -> dict[str, int]:
    return {"message_id": message_of(patient, user).pk}


def of_inbound(patient: Patient, user: User | None) -> dict[str, int]:
    return {"inbound_id": inbound_of(patient, user).pk}


# --- messaging automation: templates, rules (chairtime/messaging/automation) -------------------
from chairtime.messaging.automation.services import ensure_defaults  # noqa: E402
from chairtime.messaging.models import AutomationRule, MessageTemplate  # noqa: E402


def of_template(patient: Patient, user: User | None) -> dict[str, int]:
    """One of the organisation's default templates (every branch may open those)."""
    ensure_defaults(organization=patient.organization)
    template = MessageTemplate.objects.filter(organization=patient.organization, branch=None)
    return {"template_id": template.order_by("pk").first().pk}  # type: ignore[union-attr]


def of_automation_rule(patient: Patient, user: User | None) -> dict[str, int]:
    ensure_defaults(organization=patient.organization)
    rule = AutomationRule.objects.filter(organization=patient.organization, branch=None)
    return {"rule_id": rule.order_by("pk").first().pk}  # type: ignore[union-attr]


class Page(NamedTuple):
    """A page answering GET: its URL name, how to fill its URL (for the patient and the
    user walking), the capability it needs."""

    url_name: str
    kwargs: Callable[[Patient, User | None], dict[str, int]]
    capability: Capability | frozenset[Capability]  # a set: any one of them opens it

    def url(self, patient: Patient, user: User | None = None) -> str:
        return reverse(self.url_name, kwargs=self.kwargs(patient, user))

    def opens_for(self, role: Role) -> bool:
        needed = self.capability
        wanted = needed if isinstance(needed, frozenset) else frozenset({needed})
        return bool(wanted & ROLE_CAPABILITIES[role])


def of_slot_offer(patient: Patient, user: User | None) -> dict[str, int]:
    """An offer of the slot a cancelled appointment freed (chairtime/waitlist)."""
    from chairtime.waitlist.models import SlotOffer

    freed = appointment_of(patient, user)
    offer = SlotOffer.objects.create(
        branch=freed.branch, chair=freed.chair, doctor=freed.doctor, starts_at=freed.starts_at,
        ends_at=freed.ends_at, source_appointment=freed, freed_starts_at=freed.starts_at,
        reason="cancelled",
    )  # fmt: skip
    return {"offer_id": offer.pk}


PAGES: tuple[Page, ...] = (
    Page("analytics:home", no_arguments, C.BRANCH_VIEW),
    Page("patients:patient_list", no_arguments, C.PATIENT_VIEW),
    Page("patients:patient_create", no_arguments, C.PATIENT_CREATE),
    Page("patients:patient_detail", of_patient, C.PATIENT_VIEW),
    Page("patients:patient_edit", of_patient, C.PATIENT_EDIT),
    Page("patients:patient_audit", of_patient, C.AUDIT_VIEW),
    Page("scheduling:resource_list", no_arguments, C.BRANCH_VIEW),
    Page("scheduling:day_view", no_arguments, C.SCHEDULE_VIEW),
    Page("scheduling:day_sheet", no_arguments, C.SCHEDULE_VIEW),
    Page("scheduling:week_view", no_arguments, C.SCHEDULE_VIEW),
    Page("scheduling:appointment_create", no_arguments, C.SCHEDULE_BOOK),
    Page("scheduling:booking_patient_search", no_arguments, C.SCHEDULE_BOOK),
    Page("scheduling:booking_slot_list", no_arguments, C.SCHEDULE_BOOK),
    Page("scheduling:appointment_detail", of_appointment, C.SCHEDULE_VIEW),
    Page("scheduling:appointment_move", of_appointment, C.SCHEDULE_BOOK),
    Page("scheduling:calendar_feed", no_arguments, C.SCHEDULE_VIEW),
    Page("clinical:procedure_list", no_arguments, C.CATALOGUE_VIEW),
    Page("clinical:patient_plans", of_patient, C.TREATMENT_VIEW),
    Page("clinical:plan_detail", of_plan, C.TREATMENT_VIEW),
    Page("clinical:plan_print", of_plan, C.TREATMENT_VIEW),
    Page("clinical:plan_pdf", of_plan, C.TREATMENT_VIEW),
    Page("clinical:plan_accept", of_plan, C.TREATMENT_EDIT),
    Page("clinical:item_add", of_option, C.TREATMENT_EDIT),
    Page("clinical:item_book", of_planned_item, C.SCHEDULE_BOOK),
    Page("clinical:unscheduled_list", no_arguments, C.TREATMENT_VIEW),
    Page("clinical:ladder_report", no_arguments, frozenset({C.ANALYTICS_VIEW, C.TREATMENT_VIEW})),
    Page("clinical:visit_complete", of_appointment, C.SCHEDULE_BOOK),
    Page("billing:patient_money", of_patient, C.MONEY_VIEW),
    Page("billing:invoice_detail", of_invoice, C.MONEY_VIEW),
    Page("billing:invoice_print", of_invoice, C.MONEY_VIEW),
    Page("billing:invoice_pdf", of_invoice, C.MONEY_VIEW),
    Page("billing:cash_up", no_arguments, C.MONEY_VIEW),
    Page("billing:ageing", no_arguments, C.MONEY_VIEW),
    Page("billing:promotion_list", no_arguments, frozenset({C.MONEY_VIEW, C.MARKETING_VIEW})),
    Page("billing:prepaid_card_list", no_arguments, C.MONEY_VIEW),
    Page("billing:package_list", no_arguments, C.MONEY_VIEW),
    Page("billing:club_list", no_arguments, C.MONEY_VIEW),
    Page("billing:lock_date", no_arguments, C.MONEY_VIEW),
    # crm groups pages: add them below this line
    Page("crm:group_overview", no_arguments, C.ANALYTICS_VIEW),
    Page("crm:group_thresholds", no_arguments, C.CRM_CONFIGURE),
    # crm segments pages: add them below this line
    Page("crm:filter_builder", no_arguments, C.PATIENT_VIEW),
    Page("crm:filter_preview", no_arguments, C.PATIENT_VIEW),
    Page("crm:segment_list", no_arguments, C.PATIENT_VIEW),
    Page("crm:segment_detail", of_segment, C.PATIENT_VIEW),
    Page("crm:segment_edit", of_segment, C.PATIENT_VIEW),
    Page("crm:segment_export", of_segment, C.PATIENT_EXPORT),
    Page("crm:patient_list_export", no_arguments, C.PATIENT_EXPORT),
    # crm importing pages: add them below this line
    Page("crm:import_list", no_arguments, C.PATIENT_IMPORT),
    Page("crm:import_create", no_arguments, C.PATIENT_IMPORT),
    *(
        Page(
            name,
            walk_import_job,
            C.PATIENT_IMPORT,
        )
        for name in ("crm:import_detail", "crm:import_mapping", "crm:import_errors_csv")
    ),
    # crm feedback pages: add them below this line
    Page("crm:complaint_list", no_arguments, C.CARE_VIEW),
    Page("crm:complaint_create", no_arguments, C.CARE_WORK),
    Page(
        "crm:complaint_detail",
        walk_complaint,
        C.CARE_VIEW,
    ),
    Page("crm:nps_report", no_arguments, C.ANALYTICS_VIEW),
    # crm referrals pages: add them below this line
    Page("crm:referral_report", no_arguments, C.ANALYTICS_VIEW),
    Page("crm:referral_tree", of_patient, C.PATIENT_VIEW),
    # crm timeline pages: add them below this line
    Page("crm:patient_timeline", of_patient, C.PATIENT_VIEW),
    # crm duplicates pages: add them below this line
    Page("crm:duplicate_list", no_arguments, C.PATIENT_MERGE),
    Page("crm:merge_confirm", no_arguments, C.PATIENT_MERGE),
    Page(
        "crm:merge_detail",
        lambda patient, user: {
            "merge_id": patient.merges_kept.create(
                organization_id=patient.organization_id,
                merged_at=timezone.now(),
                reason="Walk",
                merged=PatientFactory(
                    home_branch=patient.home_branch, status="merged", merged_into=patient
                ),
            ).pk  # a merge record of the patient, written straight to the table
        },
        C.PATIENT_MERGE,
    ),
    # care pages: add them below this line
    Page("care:my_tasks", no_arguments, C.CARE_VIEW),
    Page("waitlist:entry_list", no_arguments, C.SCHEDULE_VIEW),
    Page("waitlist:offer_list", no_arguments, C.SCHEDULE_VIEW),
    Page("waitlist:offer_detail", of_slot_offer, C.SCHEDULE_VIEW),
    Page("care:task_list", no_arguments, C.CARE_VIEW),
    Page("care:task_detail", walk_task, C.CARE_VIEW),
    Page("care:recall_list", no_arguments, C.CARE_VIEW),
    Page("care:rule_list", no_arguments, C.CARE_CONFIGURE),
    Page("care:rule_edit", of_rule, C.CARE_CONFIGURE),
    # messaging pages: add them below this line
    Page("messaging:outbox_list", no_arguments, C.MESSAGING_VIEW),
    Page("messaging:message_detail", of_message, C.MESSAGING_VIEW),
    Page("messaging:inbox_list", no_arguments, C.MESSAGING_VIEW),
    Page("messaging:inbound_detail", of_inbound, C.MESSAGING_VIEW),
    Page("messaging:template_list", no_arguments, C.MESSAGING_CONFIGURE),
    Page("messaging:template_create", no_arguments, C.MESSAGING_CONFIGURE),
    Page("messaging:template_edit", of_template, C.MESSAGING_CONFIGURE),
    Page("messaging:rule_list", no_arguments, C.MESSAGING_CONFIGURE),
    Page("messaging:rule_create", no_arguments, C.MESSAGING_CONFIGURE),
    Page("messaging:rule_edit", of_automation_rule, C.MESSAGING_CONFIGURE),
    Page("messaging:segment_send", no_arguments, C.MARKETING_EDIT),
    Page("messaging:segment_audience", no_arguments, C.MARKETING_EDIT),
    # front desk pages: add them below this line
    Page("frontdesk:morning_meeting", no_arguments, C.SCHEDULE_VIEW),
    Page("frontdesk:evening_meeting", no_arguments, C.SCHEDULE_VIEW),
    Page("frontdesk:no_show_report", no_arguments, C.SCHEDULE_VIEW),
    Page("frontdesk:desk_settings", no_arguments, C.DESK_CONFIGURE),
    # lab pages: add them below this line
    Page("labs:case_list", no_arguments, C.LAB_VIEW),
    Page("labs:case_detail", walk_case, C.LAB_VIEW),
    Page("labs:case_create", no_arguments, C.LAB_EDIT),
    Page("labs:overdue_list", no_arguments, C.LAB_VIEW),
    Page("labs:lab_list", no_arguments, C.LAB_EDIT),
    Page("labs:lab_create", no_arguments, C.LAB_EDIT),
    Page("labs:lab_edit", walk_lab, C.LAB_EDIT),
    Page("audit:event_list", no_arguments, C.AUDIT_VIEW),
    Page("accounts:token_list", no_arguments, C.API_TOKENS),
)
PATIENT_PAGES = tuple(page for page in PAGES if page.kwargs is of_patient)


class Action(NamedTuple):
    """A POST-only endpoint: what it acts on, the form it takes, and what it needs."""

    url_name: str
    target: Callable[[Patient, User], dict[str, int | str]]  # URL arguments; may create it
    data: dict[str, str | list[str]]
    capabilities: frozenset[Capability]  # every one of them is needed
    done_status: int  # the answer when the action is allowed
    count_effect: Callable[[Patient, User], int]  # rows the action changed, counted afterwards

    def url(self, patient: Patient, user: User) -> str:
        return reverse(self.url_name, kwargs=self.target(patient, user))


def patient_target(patient: Patient, user: User) -> dict[str, int | str]:
    return {"patient_id": patient.pk}


def own_token_target(patient: Patient, user: User) -> dict[str, int | str]:
    token, _secret = create_api_token(actor=user, name="Walk")
    return {"token_id": token.pk}


def confirm_target(patient: Patient, user: User) -> dict[str, int | str]:
    return {"appointment_id": appointment_of(patient, user).pk, "transition": "confirm"}


def cancel_target(patient: Patient, user: User) -> dict[str, int | str]:
    return {"appointment_id": appointment_of(patient, user).pk}


def remove_target(patient: Patient, user: User) -> dict[str, int | str]:
    item = plan_of(patient, user)
    return {"plan_id": item.option.plan_id, "item_id": item.pk}


def appointments_in(status: str) -> Callable[[Patient, User], int]:
    return lambda patient, user: Appointment.objects.filter(patient=patient, status=status).count()


ACTIONS: tuple[Action, ...] = (
    Action(
        "patients:patient_consents", patient_target,
        {"consent_marketing": ["sms"], "origin": "verbal"},
        frozenset({C.PATIENT_EDIT}), 200,
        lambda patient, user: patient.consents.filter(
            channel="sms", purpose="marketing", is_granted=True
        ).count(),
    ),
    # Adding a medical alert takes both: seeing medical detail and editing the patient.
    Action(
        "patients:patient_alert_add", patient_target,
        {"kind": "allergy", "description": "Penicillin", "severity": "critical"},
        frozenset({C.PATIENT_MEDICAL_VIEW, C.PATIENT_EDIT}), 200,
        lambda patient, user: patient.medical_alerts.filter(description="Penicillin").count(),
    ),
    Action(
        "accounts:token_revoke", own_token_target, {},
        frozenset({C.API_TOKENS}), 302,
        lambda patient, user: ApiToken.objects.filter(user=user, revoked_at__isnull=False).count(),
    ),
    # Without htmx a step of the visit goes back to the day view.
    Action(
        "scheduling:appointment_status", confirm_target, {},
        frozenset({C.SCHEDULE_BOOK}), 302, appointments_in("confirmed"),
    ),
    Action(
        "scheduling:appointment_cancel", cancel_target,
        {"cancelled_by": "patient", "reason": "Has the flu"},
        frozenset({C.SCHEDULE_BOOK}), 302, appointments_in("cancelled"),
    ),
    Action(
        "clinical:option_add", lambda patient, user: of_plan(patient, user),
        {"label": "Walk B"}, frozenset({C.TREATMENT_EDIT}), 302,
        lambda patient, user: TreatmentOption.objects.filter(
            plan__patient=patient, label="Walk B"
        ).count(),
    ),
    Action(
        "clinical:plan_decline", lambda patient, user: of_plan(patient, user),
        {"reason": "Too dear"}, frozenset({C.TREATMENT_EDIT}), 302,
        lambda patient, user: TreatmentPlan.objects.filter(
            patient=patient, status=PlanStatus.DECLINED
        ).count(),
    ),
    Action(
        "clinical:item_remove", lambda patient, user: remove_target(patient, user), {},
        frozenset({C.TREATMENT_EDIT}), 302,
        lambda patient, user: TreatmentOption.objects.filter(
            plan__patient=patient, items__isnull=True
        ).count(),
    ),
    Action(
        "clinical:item_cancel", lambda patient, user: of_planned_item(patient, user),
        {"reason": "Changed their mind"}, frozenset({C.TREATMENT_EDIT}), 302,
        lambda patient, user: TreatmentItem.objects.filter(
            option__plan__patient=patient, status=ItemStatus.CANCELLED
        ).count(),
    ),
    # Money: the rest of the money forms are walked in chairtime/billing/tests/test_views.py.
    Action(
        "billing:payment_create", patient_target,
        {"amount": "100000", "method": "cash", "kind": "payment"},
        frozenset({C.MONEY_COLLECT}), 302,
        lambda patient, user: patient.payments.filter(amount=100000).count(),
    ),
    Action(
        "billing:prepaid_card_sell", patient_target, {"value": "300000"},
        frozenset({C.MONEY_COLLECT}), 302,
        lambda patient, user: PrepaidCard.objects.filter(patient=patient).count(),
    ),
    Action(
        "billing:instalment_schedule_create", patient_target,
        {"due_on_1": "2031-01-15", "amount_1": "200000"},
        frozenset({C.MONEY_COLLECT}), 302,
        lambda patient, user: InstalmentSchedule.objects.filter(patient=patient).count(),
    ),
    Action(
        "billing:invoice_void", lambda patient, user: of_invoice(patient, user),
        {"reason": "Walk"}, frozenset({C.MONEY_ADJUST}), 302,
        lambda patient, user: Invoice.objects.filter(patient=patient, status="void").count(),
    ),
    Action(
        "billing:invoice_write_off", lambda patient, user: of_invoice(patient, user),
        {"amount": "1000", "reason": "Walk"}, frozenset({C.MONEY_ADJUST}), 302,
        lambda patient, user: WriteOff.objects.filter(invoice__patient=patient).count(),
    ),
    # crm segments: an unsaved filter's export (audited) and deleting one's own segment.
    Action(
        "crm:filter_export", lambda patient, user: {},
        {"match": "all", "g-0-match": "all", "g-0-c-0-field": "visit_count",
         "g-0-c-0-op": "gte", "g-0-c-0-value": "0", "format": "csv"},
        frozenset({C.PATIENT_EXPORT}), 200,
        lambda patient, user: AuditEvent.objects.filter(
            actor=user, summary__startswith="Exported"
        ).count(),
    ),
    Action(
        "crm:segment_delete", of_segment,
        {}, frozenset({C.PATIENT_VIEW}), 302,
        lambda patient, user: 1 - Segment.objects.filter(owner=user, name="Walk").count(),
    ),
    # crm importing: starting a checked import (the task itself waits for a worker).
    Action(
        "crm:import_run", walk_import_job, {}, frozenset({C.PATIENT_IMPORT}), 302,
        walk_imports_started,
    ),
    # care: recording a call on a task of the user's branch.
    Action(
        "care:task_attempt", walk_task, {"outcome": "reached", "note": "Walk"},
        frozenset({C.CARE_WORK}), 302,
        lambda patient, user: TaskAttempt.objects.filter(
            task__patient=patient, note="Walk"
        ).count(),
    ),
    # labs: receiving a case sent to the lab.
    Action(
        "labs:case_step", lambda patient, user: {**walk_case(patient, user), "step": "receive"},
        {}, frozenset({C.LAB_EDIT}), 302,
        lambda patient, user: LabCase.objects.filter(patient=patient, status="received").count(),
    ),
    # messaging: the inbox's actions need care.work too; deciding an unknown outcome,
    # messaging.configure.
    Action(
        "messaging:inbound_handle", lambda patient, user: of_inbound(patient, user), {},
        frozenset({C.MESSAGING_VIEW, C.CARE_WORK}), 302,
        lambda patient, user: InboundMessage.objects.filter(
            patient=patient, handled_at__isnull=False
        ).count(),
    ),
    Action(
        "messaging:inbound_reply", lambda patient, user: of_inbound(patient, user),
        {"text": "Walk answer"}, frozenset({C.MESSAGING_VIEW, C.CARE_WORK}), 302,
        lambda patient, user: Message.objects.filter(patient=patient, body="Walk answer").count(),
    ),
    Action(
        "messaging:message_resolve",
        lambda patient, user: {"message_id": message_of(patient, user, status="unknown").pk},
        {"decision": "sent"}, frozenset({C.MESSAGING_VIEW, C.MESSAGING_CONFIGURE}), 302,
        lambda patient, user: Message.objects.filter(patient=patient, status="sent").count(),
    ),
)  # fmt: skip
PATIENT_ACTIONS = tuple(action for action in ACTIONS if action.target is patient_target)

# Named routes that are not pages behind a login, and where each is tested instead.
NOT_PAGES = {
    "accounts:login",  # public
    "accounts:logout",  # POST; ends the session
    "accounts:set_language",  # POST; public
    "core:health",  # public, for the load balancer; names no tenant
    "tenancy:switch_branch",  # POST; chairtime/tenancy/tests/test_access.py
    "scheduling:calendar_feed_ics",  # public behind a secret; scheduling/tests/test_ical.py
    "public:survey",  # public behind a token; crm/tests/test_feedback_surveys.py
    "messaging_hooks:status",  # public behind a signature; messaging/tests/test_webhooks.py
    "messaging_hooks:inbound",  # public behind a signature; messaging/tests/test_webhooks.py
    "messaging:template_preview",  # POST, writes nothing; messaging/tests/test_automation_pages.py
    "confirm:link",  # public behind a token; messaging/tests/test_confirmation_links.py
    "claim:link",  # public behind a token; waitlist/tests/test_pages.py
    # POST, each needs its own rows (a patient number, an entry, a cancelled appointment):
    # waitlist/tests/test_pages.py walks them for every role.
    "waitlist:entry_create",
    "waitlist:entry_remove",
    "waitlist:refill",
    # POST; needs a no-show and the branch's fee rule: frontdesk/tests/test_pages.py
    "frontdesk:fee_charge",
    # JSON the book's pages poll (schedule.view), not a page: frontdesk/tests/test_pages.py
    "frontdesk:book_version",
    # POST; each needs money already on the books: billing/tests/test_views.py
    "billing:invoice_create",
    "billing:invoice_allocate",
    "billing:payment_refund",
    "billing:credit_apply",
    "billing:package_sell",
    "billing:club_sell",
}
# The admin is absent in production; the API has its own authentication and tests.
SKIPPED_NAMESPACES = {"admin", "api"}


def role_id(role: Role) -> str:
    return role.value


def page_id(page: Page | Action) -> str:
    return page.url_name


@pytest.fixture
def patient(world) -> Patient:
    """A patient of acme whose home is branch A."""
    return PatientFactory(home_branch=world.branch_a, family_name="Trần", given_name="Thị Walk")


# --- The walk ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
@pytest.mark.parametrize("role", list(Role), ids=role_id)
def test_role_opens_page_exactly_when_it_holds_the_capability(
    role, page, persona, logged_in, patient
):
    user = persona(role)
    client = logged_in(user)

    response = client.get(page.url(patient, user))

    expected = 200 if page.opens_for(role) else 404
    assert response.status_code == expected


@pytest.mark.parametrize("action", ACTIONS, ids=page_id)
@pytest.mark.parametrize("role", list(Role), ids=role_id)
def test_role_posts_action_exactly_when_it_holds_the_capabilities(
    role, action, persona, logged_in, patient
):
    user = persona(role)
    client = logged_in(user)

    response = client.post(action.url(patient, user), action.data)

    if action.capabilities <= ROLE_CAPABILITIES[role]:
        assert response.status_code == action.done_status
        assert action.count_effect(patient, user) == 1
    else:
        assert response.status_code == 404
        assert action.count_effect(patient, user) == 0


@pytest.mark.parametrize("action", ACTIONS, ids=page_id)
def test_actions_refuse_get(action, persona, logged_in, patient):
    owner = persona(Role.OWNER)

    response = logged_in(owner).get(action.url(patient, owner))

    assert response.status_code == 405
    assert action.count_effect(patient, owner) == 0


def test_nobody_revokes_another_users_token(persona, logged_in, patient):
    manager = persona(Role.BRANCH_MANAGER)
    revoke = next(action for action in ACTIONS if action.url_name == "accounts:token_revoke")

    response = logged_in(persona(Role.OWNER)).post(revoke.url(patient, manager))

    assert response.status_code == 404
    assert revoke.count_effect(patient, manager) == 0


def _named_routes(patterns, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            names |= _named_routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_walk_covers_every_named_route_of_the_project():
    walked = {page.url_name for page in PAGES}
    posted = {action.url_name for action in ACTIONS}

    assert walked.isdisjoint(posted | NOT_PAGES)
    assert posted.isdisjoint(NOT_PAGES)
    assert _named_routes(get_resolver().url_patterns) == walked | posted | NOT_PAGES


def test_walk_covers_the_app_namespaces():
    namespaces = {page.url_name.split(":")[0] for page in PAGES}

    assert namespaces == {
        "analytics", "patients", "scheduling", "clinical", "billing", "audit", "accounts", "crm",
        "care", "messaging", "waitlist", "labs", "frontdesk",
    }  # fmt: skip


# --- Nobody in particular ---------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_anonymous_visitor_is_sent_to_login(page, client, patient):
    url = page.url(patient)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.parametrize("action", ACTIONS, ids=page_id)
def test_anonymous_post_is_sent_to_login_and_changes_nothing(action, client, patient):
    owner_of_the_target = UserFactory()
    url = action.url(patient, owner_of_the_target)

    response = client.post(url, action.data)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"
    assert action.count_effect(patient, owner_of_the_target) == 0


@pytest.mark.parametrize("page", PATIENT_PAGES, ids=page_id)
def test_outsider_gets_not_found_for_every_acme_patient_page(page, outsider, logged_in, patient):
    response = logged_in(outsider).get(page.url(patient))

    assert response.status_code == 404
    assert patient.display_name not in response.content.decode()


@pytest.mark.parametrize("action", PATIENT_ACTIONS, ids=page_id)
def test_outsider_cannot_act_on_an_acme_patient(action, outsider, logged_in, patient):
    response = logged_in(outsider).post(action.url(patient, outsider), action.data)

    assert response.status_code == 404
    assert action.count_effect(patient, outsider) == 0


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_user_without_membership_gets_not_found_everywhere(page, logged_in, patient):
    user = UserFactory()

    response = logged_in(user).get(page.url(patient, user))

    assert response.status_code == 404


@pytest.mark.parametrize("action", ACTIONS, ids=page_id)
def test_user_without_membership_cannot_act(action, logged_in, patient):
    user = UserFactory()

    response = logged_in(user).post(action.url(patient, user), action.data)

    assert response.status_code == 404
    assert action.count_effect(patient, user) == 0


# --- The sidebar ------------------------------------------------------------------------


class SidebarParser(HTMLParser):
    """The sidebar's items as (label, link or None) in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, str | None]] = []
        self._in_sidebar = False
        self._label: list[str] | None = None
        self._link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "nav" and "sidebar" in (attributes.get("class") or "").split():
            self._in_sidebar = True
        elif self._in_sidebar and tag == "li":
            self._label, self._link = [], None
        elif self._in_sidebar and tag == "a" and self._label is not None:
            self._link = attributes.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_sidebar = False
        elif tag == "li" and self._label is not None:
            self.items.append(("".join(self._label).strip(), self._link))
            self._label = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label.append(data)


def sidebar_of(client: Client) -> list[tuple[str, str | None]]:
    parser = SidebarParser()
    parser.feed(client.get(reverse("analytics:home")).content.decode())
    return parser.items


@pytest.mark.parametrize("role", list(Role), ids=role_id)
def test_sidebar_shows_exactly_the_items_of_the_roles_capabilities(role, persona, logged_in):
    expected = [
        (str(item.label), reverse(item.url_name) if item.url_name else None)
        for item in NAVIGATION
        if item.capability in ROLE_CAPABILITIES[role]
    ]

    assert sidebar_of(logged_in(persona(role))) == expected


@pytest.mark.parametrize("role", list(Role), ids=role_id)
def test_sidebar_links_only_to_pages_the_role_can_open(role, persona, logged_in):
    client = logged_in(persona(role))

    links = [link for _, link in sidebar_of(client) if link is not None]

    assert links  # every role has at least its home page
    assert {link: client.get(link).status_code for link in links} == dict.fromkeys(links, 200)
