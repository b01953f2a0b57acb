"""The one way in to templates and rules: `messaging.configure` in the active branch, and
in the row's branch when it belongs to one. Changing a row of the whole organisation takes
the capability in every branch of it (`to_change`). Anything else looks missing (404)."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.messaging.access import holds_in_every_branch, messaging_branch_ids
from chairtime.messaging.models import AutomationRule, MessageTemplate
from chairtime.tenancy.access import AnyUser, BranchAccess
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

CONFIGURE = Capability.MESSAGING_CONFIGURE


def branches_with(access: BranchAccess, capability: Capability) -> list[Branch]:
    """The active organisation's branches where the user holds the capability."""
    allowed = messaging_branch_ids(access.user, capability)
    return list(
        Branch.objects.filter(
            pk__in=allowed, organization_id=access.branch.organization_id, is_active=True
        ).order_by("name")
    )


def holds_everywhere(access: BranchAccess, capability: Capability) -> bool:
    """The user holds the capability in every active branch of the organisation."""
    return holds_in_every_branch(access.user, access.branch.organization_id, capability)


def _may_open(user: AnyUser, branch_id: int | None) -> bool:
    return branch_id is None or branch_id in messaging_branch_ids(user, CONFIGURE)


def _may_change(access: BranchAccess, branch_id: int | None) -> bool:
    """A row of the whole organisation changes only for someone configuring every branch."""
    return branch_id is not None or holds_everywhere(access, CONFIGURE)


def access_template(
    access: BranchAccess, template_id: int | str, *, to_change: bool = False
) -> MessageTemplate:
    access.require(CONFIGURE)
    try:
        template = MessageTemplate.objects.select_related("branch").get(
            pk=int(template_id), organization_id=access.branch.organization_id
        )
    except (MessageTemplate.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
    if not _may_open(access.user, template.branch_id):
        raise NotFound
    if to_change and not _may_change(access, template.branch_id):
        raise NotFound
    return template


def access_rule(
    access: BranchAccess, rule_id: int | str, *, to_change: bool = False
) -> AutomationRule:
    access.require(CONFIGURE)
    try:
        rule = AutomationRule.objects.select_related("branch", "segment").get(
            pk=int(rule_id), organization_id=access.branch.organization_id
        )
    except (AutomationRule.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
    if not _may_open(access.user, rule.branch_id):
        raise NotFound
    if to_change and not _may_change(access, rule.branch_id):
        raise NotFound
    return rule
