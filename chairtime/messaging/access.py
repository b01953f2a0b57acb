"""The one way in to a message or an inbox item: a branch the user may read messages in.

Staff see the messages of every branch of the organisation where they hold
`messaging.view`; an inbound message routed to no branch (an unknown sender) is seen by
those who hold it in every branch. Anything else looks missing (404).
"""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.messaging.models import InboundMessage, Message
from chairtime.tenancy.access import AnyUser, BranchAccess, get_branch_access, list_user_branches
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability


def messaging_branch_ids(
    user: AnyUser, capability: Capability = Capability.MESSAGING_VIEW
) -> list[int]:
    """Branches where the user holds the capability."""
    allowed: list[int] = []
    for branch in list_user_branches(user):
        try:
            if get_branch_access(user, branch.pk).can(capability):
                allowed.append(branch.pk)
        except NotFound:
            continue
    return allowed


def holds_in_every_branch(user: AnyUser, organization_id: int, capability: Capability) -> bool:
    """The user holds the capability in every active branch of the organisation."""
    every = set(
        Branch.objects.filter(organization_id=organization_id, is_active=True).values_list(
            "pk", flat=True
        )
    )
    return bool(every) and every <= set(messaging_branch_ids(user, capability))


def _check(
    access: BranchAccess, branch_id: int | None, capabilities: tuple[Capability, ...]
) -> None:
    """The user holds every capability in the branch the row belongs to (in every branch
    of the organisation for a row of no branch)."""
    if branch_id is None:
        organization_id = access.branch.organization_id
        if not all(holds_in_every_branch(access.user, organization_id, c) for c in capabilities):
            raise NotFound
        return
    branch_access = get_branch_access(access.user, branch_id)
    for capability in capabilities:
        branch_access.require(capability)


def access_message(
    access: BranchAccess, message_id: int | str, *, also: Capability | None = None
) -> Message:
    """A message of a branch where the user reads messages (and holds `also`, if given)."""
    capabilities = _needed(also)
    access.require(Capability.MESSAGING_VIEW)
    try:
        message = Message.objects.select_related("branch", "patient").get(
            pk=int(message_id), organization_id=access.branch.organization_id
        )
    except (Message.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
    _check(access, message.branch_id, capabilities)
    return message


def access_inbound(
    access: BranchAccess, inbound_id: int | str, *, also: Capability | None = None
) -> InboundMessage:
    """An inbox item routed to a branch where the user reads messages (and holds `also`)."""
    capabilities = _needed(also)
    access.require(Capability.MESSAGING_VIEW)
    try:
        inbound = InboundMessage.objects.select_related("branch", "patient", "in_reply_to").get(
            pk=int(inbound_id), organization_id=access.branch.organization_id
        )
    except (InboundMessage.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
    _check(access, inbound.branch_id, capabilities)
    return inbound


def _needed(also: Capability | None) -> tuple[Capability, ...]:
    return (Capability.MESSAGING_VIEW,) if also is None else (Capability.MESSAGING_VIEW, also)
