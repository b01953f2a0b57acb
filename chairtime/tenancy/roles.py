"""Roles and what each may do: the one table every permission check reads.

Pure data and functions, no database: the whole matrix is tested cell by cell.
A role is held per branch (or organisation-wide); a capability is asked for in a branch.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    DOCTOR = "doctor", _("Doctor")
    NURSE = "nurse", _("Nurse / assistant")
    RECEPTIONIST = "receptionist", _("Receptionist")
    CONSULTANT = "consultant", _("Consultant")
    MARKETER = "marketer", _("Marketer")
    INVENTORY_CLERK = "inventory_clerk", _("Inventory clerk")
    ANALYST = "analyst", _("Analyst")


class Capability(StrEnum):
    """One thing a user may do in a branch. Later capabilities add members here."""

    BRANCH_VIEW = "branch.view"  # see the branch at all: home page, resources
    PATIENT_VIEW = "patient.view"
    PATIENT_CREATE = "patient.create"
    PATIENT_EDIT = "patient.edit"
    PATIENT_MEDICAL_VIEW = "patient.medical_view"  # medical alerts and clinical notes
    PATIENT_EXPORT = "patient.export"  # lists and segments to CSV/Excel: personal data leaves
    PATIENT_IMPORT = "patient.import"  # files from other systems
    PATIENT_MERGE = "patient.merge"  # two records of one person made one
    CRM_CONFIGURE = "crm.configure"  # the customer groups' thresholds
    SCHEDULE_VIEW = "schedule.view"
    SCHEDULE_BOOK = "schedule.book"
    SCHEDULE_OVERBOOK = "schedule.overbook"
    TREATMENT_VIEW = "treatment.view"
    TREATMENT_EDIT = "treatment.edit"
    MONEY_VIEW = "money.view"
    MONEY_COLLECT = "money.collect"
    MONEY_ADJUST = "money.adjust"  # refunds, write-offs, voids, discounts on invoices
    MONEY_CLOSE_PERIOD = "money.close_period"  # move the branch's financial lock date
    MONEY_EDIT_LOCKED = "money.edit_locked"  # change money dated before the lock date
    CARE_VIEW = "care.view"
    CARE_WORK = "care.work"
    CARE_CONFIGURE = "care.configure"  # task rules: attempt limits, cool-off days
    MESSAGING_VIEW = "messaging.view"  # the outbox, the inbox
    MESSAGING_CONFIGURE = "messaging.configure"  # templates, automation rules, providers
    LAB_VIEW = "lab.view"  # lab cases: what is ordered, due and back
    LAB_EDIT = "lab.edit"  # order, send, receive and check lab cases; the labs list
    DESK_CONFIGURE = "desk.configure"  # the front desk's rules: daily goal, no-show fee
    MARKETING_VIEW = "marketing.view"
    MARKETING_EDIT = "marketing.edit"
    ANALYTICS_VIEW = "analytics.view"
    INVENTORY_VIEW = "inventory.view"
    INVENTORY_EDIT = "inventory.edit"
    CATALOGUE_VIEW = "catalogue.view"
    CATALOGUE_EDIT = "catalogue.edit"
    STAFF_MANAGE = "staff.manage"
    AUDIT_VIEW = "audit.view"
    API_TOKENS = "api.tokens"


C = Capability
_EVERYTHING = frozenset(Capability)
_FRONT_DESK = frozenset(
    {C.BRANCH_VIEW, C.PATIENT_VIEW, C.PATIENT_CREATE, C.PATIENT_EDIT, C.SCHEDULE_VIEW,
     C.SCHEDULE_BOOK, C.CARE_VIEW, C.CARE_WORK, C.MESSAGING_VIEW, C.CATALOGUE_VIEW,
     C.LAB_VIEW, C.LAB_EDIT}
)  # fmt: skip

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.OWNER: _EVERYTHING,
    Role.BRANCH_MANAGER: _EVERYTHING - {C.MONEY_EDIT_LOCKED, C.CRM_CONFIGURE},  # org-wide
    Role.DOCTOR: frozenset(
        {C.BRANCH_VIEW, C.PATIENT_VIEW, C.PATIENT_EDIT, C.PATIENT_MEDICAL_VIEW, C.SCHEDULE_VIEW,
         C.SCHEDULE_BOOK, C.TREATMENT_VIEW, C.TREATMENT_EDIT, C.MONEY_VIEW, C.CARE_VIEW,
         C.CARE_WORK, C.CATALOGUE_VIEW, C.ANALYTICS_VIEW, C.LAB_VIEW, C.LAB_EDIT}
    ),
    Role.NURSE: frozenset(
        {C.BRANCH_VIEW, C.PATIENT_VIEW, C.PATIENT_MEDICAL_VIEW, C.SCHEDULE_VIEW, C.TREATMENT_VIEW,
         C.CARE_VIEW, C.INVENTORY_VIEW, C.CATALOGUE_VIEW, C.LAB_VIEW, C.LAB_EDIT}
    ),
    Role.RECEPTIONIST: _FRONT_DESK | {C.MONEY_VIEW, C.MONEY_COLLECT},
    Role.CONSULTANT: _FRONT_DESK | {C.TREATMENT_VIEW, C.TREATMENT_EDIT, C.MONEY_VIEW},
    Role.MARKETER: frozenset(
        {C.BRANCH_VIEW, C.PATIENT_VIEW, C.PATIENT_EXPORT, C.MARKETING_VIEW, C.MARKETING_EDIT, C.ANALYTICS_VIEW,
         C.MESSAGING_VIEW, C.CATALOGUE_VIEW}
    ),
    Role.INVENTORY_CLERK: frozenset(
        {C.BRANCH_VIEW, C.INVENTORY_VIEW, C.INVENTORY_EDIT, C.CATALOGUE_VIEW}
    ),
    # Read-only: reports and the lists behind them, never a write, never clinical detail.
    Role.ANALYST: frozenset(
        {C.BRANCH_VIEW, C.PATIENT_VIEW, C.SCHEDULE_VIEW, C.TREATMENT_VIEW, C.MONEY_VIEW,
         C.CARE_VIEW, C.MESSAGING_VIEW, C.MARKETING_VIEW, C.ANALYTICS_VIEW, C.INVENTORY_VIEW,
         C.CATALOGUE_VIEW, C.LAB_VIEW}
    ),
}  # fmt: skip


def capabilities_of(roles: set[Role] | frozenset[Role]) -> frozenset[Capability]:
    """Everything any of the roles may do (a user can hold several in one branch)."""
    granted: frozenset[Capability] = frozenset()
    for role in roles:
        granted |= ROLE_CAPABILITIES[role]
    return granted
