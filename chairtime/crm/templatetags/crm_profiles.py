"""Template filters of the customer groups: the "why" sentence of a profile's group."""

from __future__ import annotations

from django import template

from chairtime.crm.models import PatientProfile
from chairtime.crm.profiles.groups import explain

register = template.Library()


@register.filter
def group_why(profile: PatientProfile | None) -> str:
    """Why the patient is in their group, in the active language."""
    if profile is None:
        return ""
    return explain(profile.group_rule, profile.group_evidence)
