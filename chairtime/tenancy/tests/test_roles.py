"""The role → capability table, cell by cell: this test is the specification."""

from __future__ import annotations

import pytest

from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role, capabilities_of

O, M, D, N, R, C, K, I, A = (  # noqa: E741 - one letter per role keeps the table readable
    Role.OWNER, Role.BRANCH_MANAGER, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST,
    Role.CONSULTANT, Role.MARKETER, Role.INVENTORY_CLERK, Role.ANALYST,
)  # fmt: skip

# Which roles hold each capability. Changing the product's permissions means changing this.
EXPECTED: dict[Capability, set[Role]] = {
    Capability.BRANCH_VIEW: {O, M, D, N, R, C, K, I, A},
    Capability.PATIENT_VIEW: {O, M, D, N, R, C, K, A},
    Capability.PATIENT_CREATE: {O, M, R, C},
    Capability.PATIENT_EDIT: {O, M, D, R, C},
    Capability.PATIENT_MEDICAL_VIEW: {O, M, D, N},
    Capability.PATIENT_EXPORT: {O, M, K},
    Capability.PATIENT_IMPORT: {O, M},
    Capability.PATIENT_MERGE: {O, M},
    Capability.CRM_CONFIGURE: {O},
    Capability.SCHEDULE_VIEW: {O, M, D, N, R, C, A},
    Capability.SCHEDULE_BOOK: {O, M, D, R, C},
    Capability.SCHEDULE_OVERBOOK: {O, M},
    Capability.TREATMENT_VIEW: {O, M, D, N, C, A},
    Capability.TREATMENT_EDIT: {O, M, D, C},
    Capability.MONEY_VIEW: {O, M, D, R, C, A},
    Capability.MONEY_COLLECT: {O, M, R},
    Capability.MONEY_ADJUST: {O, M},
    Capability.MONEY_CLOSE_PERIOD: {O, M},
    Capability.MONEY_EDIT_LOCKED: {O},
    Capability.CARE_VIEW: {O, M, D, N, R, C, A},
    Capability.CARE_WORK: {O, M, D, R, C},
    Capability.CARE_CONFIGURE: {O, M},
    Capability.MESSAGING_VIEW: {O, M, R, C, K, A},
    Capability.MESSAGING_CONFIGURE: {O, M},
    Capability.LAB_VIEW: {O, M, D, N, R, C, A},
    Capability.LAB_EDIT: {O, M, D, N, R, C},
    Capability.DESK_CONFIGURE: {O, M},
    Capability.MARKETING_VIEW: {O, M, K, A},
    Capability.MARKETING_EDIT: {O, M, K},
    Capability.ANALYTICS_VIEW: {O, M, D, K, A},
    Capability.INVENTORY_VIEW: {O, M, N, I, A},
    Capability.INVENTORY_EDIT: {O, M, I},
    Capability.CATALOGUE_VIEW: {O, M, D, N, R, C, K, I, A},
    Capability.CATALOGUE_EDIT: {O, M},
    Capability.STAFF_MANAGE: {O, M},
    Capability.AUDIT_VIEW: {O, M},
    Capability.API_TOKENS: {O, M},
}


def test_expected_table_names_every_capability():
    assert set(EXPECTED) == set(Capability)
    assert set(ROLE_CAPABILITIES) == set(Role)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("capability", list(Capability))
def test_role_holds_exactly_the_expected_capabilities(role, capability):
    assert (capability in ROLE_CAPABILITIES[role]) is (role in EXPECTED[capability])


def test_analyst_is_read_only():
    writes = {c for c in Capability if not c.value.endswith((".view",))}
    assert ROLE_CAPABILITIES[Role.ANALYST] & writes == set()


def test_several_roles_add_up():
    assert capabilities_of({Role.NURSE, Role.RECEPTIONIST}) == (
        ROLE_CAPABILITIES[Role.NURSE] | ROLE_CAPABILITIES[Role.RECEPTIONIST]
    )
    assert capabilities_of(set()) == frozenset()
