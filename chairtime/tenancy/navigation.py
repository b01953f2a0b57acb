"""The navigation: one registry of sections, each shown only with its capability.

Capabilities still being built are listed without a link so staff see where the product
is going; an issue that builds one gives it its `url_name`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import ResolverMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    capability: Capability
    url_name: str | None  # None: coming in a later release
    app: str = ""  # highlights the item on every page of that URL namespace…
    pages: tuple[str, ...] = ()  # …except these URL names, which highlight this item instead
    more_apps: tuple[str, ...] = ()  # other namespaces it highlights on


# Treatment pages live in the `clinical` namespace with the catalogue ("Procedures"); these
# highlight "Treatment" instead. Every page of `billing` highlights "Money".
TREATMENT_PAGES = (
    "clinical:patient_plans", "clinical:plan_detail", "clinical:plan_accept",
    "clinical:item_add", "clinical:item_book", "clinical:unscheduled_list",
    "clinical:ladder_report", "clinical:visit_complete",
)  # fmt: skip

NAVIGATION: tuple[NavItem, ...] = (
    NavItem(_("Today"), Capability.BRANCH_VIEW, "analytics:home", "analytics"),
    # The CRM's pages (filter, segments, groups, complaints, import…) are patient work.
    NavItem(
        _("Patients"),
        Capability.PATIENT_VIEW,
        "patients:patient_list",
        "patients",
        more_apps=("crm",),
    ),
    NavItem(_("Appointment book"), Capability.SCHEDULE_VIEW, "scheduling:day_view", "scheduling"),
    NavItem(_("Waitlist"), Capability.SCHEDULE_VIEW, "waitlist:entry_list", "waitlist"),
    NavItem(
        _("Treatment"),
        Capability.TREATMENT_VIEW,
        "clinical:unscheduled_list",
        pages=TREATMENT_PAGES,
    ),
    # Money apart from treatment: the front desk takes money without reading plans.
    NavItem(_("Money"), Capability.MONEY_VIEW, "billing:cash_up", "billing"),
    NavItem(_("Care"), Capability.CARE_VIEW, "care:my_tasks", "care"),
    NavItem(_("Lab cases"), Capability.LAB_VIEW, "labs:case_list", "labs"),
    NavItem(_("Front desk"), Capability.SCHEDULE_VIEW, "frontdesk:morning_meeting", "frontdesk"),
    NavItem(_("Messages"), Capability.MESSAGING_VIEW, "messaging:outbox_list", "messaging"),
    NavItem(_("Marketing"), Capability.MARKETING_VIEW, None),
    NavItem(_("Analytics"), Capability.ANALYTICS_VIEW, None),
    NavItem(_("Inventory"), Capability.INVENTORY_VIEW, None),
    NavItem(
        _("Staff and chairs"),
        Capability.BRANCH_VIEW,
        "scheduling:resource_list",
        pages=("scheduling:resource_list",),
    ),
    NavItem(_("Procedures"), Capability.CATALOGUE_VIEW, "clinical:procedure_list", "clinical"),
    NavItem(_("Audit log"), Capability.AUDIT_VIEW, "audit:event_list", "audit"),
    NavItem(_("API tokens"), Capability.API_TOKENS, "accounts:token_list", "accounts"),
)


@dataclass(frozen=True)
class VisibleItem:
    label: str | Promise
    url: str | None
    is_current: bool


def _is_current(item: NavItem, match: ResolverMatch | None) -> bool:
    if match is None:
        return False
    if match.view_name in item.pages:
        return True
    claimed = any(match.view_name in other.pages for other in NAVIGATION)
    namespaces = (item.app, *item.more_apps) if item.app else ()
    return match.namespace in namespaces and not claimed


def visible_navigation(access: BranchAccess, match: ResolverMatch | None) -> list[VisibleItem]:
    return [
        VisibleItem(
            label=item.label,
            url=reverse(item.url_name) if item.url_name else None,
            is_current=_is_current(item, match),
        )
        for item in NAVIGATION
        if access.can(item.capability)
    ]
