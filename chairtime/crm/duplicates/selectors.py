"""Reads for duplicates: which patients look like one person, and what a merge moved.

Three signals, each a GROUP BY over the organisation's live (not merged) patients: the
same phone number, the same email (any case), and the same name folded the way search
folds it (no case, no diacritics: "Nguyễn Văn An" is "NGUYEN van an") with the same birth
date. Folding is Python (`chairtime.core.text.fold`), so the name signal groups birth dates
in SQL first and folds only the names of patients sharing a birth date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Model, QuerySet
from django.db.models.functions import Lower
from django.db.models.options import Options
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chairtime.core.errors import NotFound
from chairtime.core.text import fold
from chairtime.crm.choices import DuplicateReason
from chairtime.crm.models import PatientMerge
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient, PatientPhone
from chairtime.tenancy.models import Organization

# A phone or email shared by more people than this is a family's or a company's, not one
# person entered twice: listing every pair of them would drown the real duplicates.
MAX_GROUP = 6
REASON_ORDER = list(DuplicateReason.values)


@dataclass
class Candidate:
    """Two live patients that may be one person, and why. From `find_duplicates` `a` has
    the lower id; from `duplicates_of` `a` is the patient asked about."""

    a: Patient
    b: Patient
    reasons: list[str] = field(default_factory=list)

    @property
    def reason_labels(self) -> list[str]:
        return [str(DuplicateReason(reason).label) for reason in self.reasons]


def name_key(family_name: str, given_name: str) -> str:
    """The folded full name, word order ignored (family and given swapped still match)."""
    return " ".join(sorted(fold(f"{family_name} {given_name}").split()))


def _live(organization_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(organization_id=organization_id).exclude(
        status=PatientStatus.MERGED
    )


def _phone_groups(organization_id: int) -> Iterable[list[int]]:
    phones = PatientPhone.objects.filter(patient__in=_live(organization_id))
    shared = (
        phones.values("number")
        .annotate(patients=Count("patient_id", distinct=True))
        .filter(patients__gt=1, patients__lte=MAX_GROUP)
        .values("number")
    )
    groups: dict[str, set[int]] = defaultdict(set)
    for number, patient_id in phones.filter(number__in=shared).values_list("number", "patient_id"):
        groups[number].add(patient_id)
    return (sorted(ids) for ids in groups.values())


def _email_groups(organization_id: int) -> Iterable[list[int]]:
    live = _live(organization_id).exclude(email="").annotate(email_key=Lower("email"))
    shared = (
        live.values("email_key")
        .annotate(patients=Count("id"))
        .filter(patients__gt=1, patients__lte=MAX_GROUP)
        .values("email_key")
    )
    groups: dict[str, list[int]] = defaultdict(list)
    for key, patient_id in (
        live.filter(email_key__in=shared).order_by("id").values_list("email_key", "id")
    ):
        groups[key].append(patient_id)
    return groups.values()


def _name_groups(organization_id: int) -> Iterable[list[int]]:
    live = _live(organization_id).filter(birth_date__isnull=False)
    shared_days = (
        live.values("birth_date").annotate(patients=Count("id")).filter(patients__gt=1)
    ).values("birth_date")
    groups: dict[tuple[date | None, str], list[int]] = defaultdict(list)
    rows = (
        live.filter(birth_date__in=shared_days)
        .order_by("id")
        .values_list("id", "birth_date", "family_name", "given_name")
    )
    for patient_id, birth_date, family_name, given_name in rows.iterator(chunk_size=5000):
        groups[(birth_date, name_key(family_name, given_name))].append(patient_id)
    return (ids for ids in groups.values() if 1 < len(ids) <= MAX_GROUP)


def _collect(
    pairs: dict[tuple[int, int], set[str]], groups: Iterable[list[int]], reason: str
) -> None:
    for ids in groups:
        for pair in combinations(sorted(ids), 2):
            pairs[pair].add(reason)


def _candidates(pairs: dict[tuple[int, int], set[str]], limit: int) -> list[Candidate]:
    ordered = sorted(pairs.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
    ids = {pk for pair, _reasons in ordered for pk in pair}
    patients = Patient.objects.select_related("home_branch").in_bulk(ids)
    return [
        Candidate(a=patients[a], b=patients[b], reasons=sorted(reasons, key=REASON_ORDER.index))
        for (a, b), reasons in ordered
    ]


def find_duplicates(*, organization: Organization, limit: int = 200) -> list[Candidate]:
    """Pairs of the organisation's live patients that may be one person, the pairs with
    the most reasons first. Merged patients never appear (nor, so, pairs already merged)."""
    pairs: dict[tuple[int, int], set[str]] = defaultdict(set)
    _collect(pairs, _phone_groups(organization.pk), DuplicateReason.PHONE)
    _collect(pairs, _email_groups(organization.pk), DuplicateReason.EMAIL)
    _collect(pairs, _name_groups(organization.pk), DuplicateReason.NAME_BIRTH_DATE)
    return _candidates(pairs, limit)


def duplicates_of(patient: Patient) -> list[Candidate]:
    """The live patients that may be the same person as this one (for its page); in
    each candidate `a` is this patient and `b` the other record."""
    if patient.status == PatientStatus.MERGED:
        return []
    others = _live(patient.organization_id).exclude(pk=patient.pk)
    pairs: dict[tuple[int, int], set[str]] = defaultdict(set)

    def add(ids: Iterable[int], reason: str) -> None:
        for other in ids:
            pairs[(patient.pk, other)].add(reason)

    numbers = list(patient.phones.values_list("number", flat=True))
    if numbers:
        add(
            others.filter(phones__number__in=numbers).values_list("id", flat=True),
            DuplicateReason.PHONE,
        )
    if patient.email:
        add(
            others.filter(email__iexact=patient.email).values_list("id", flat=True),
            DuplicateReason.EMAIL,
        )
    if patient.birth_date is not None:
        key = name_key(patient.family_name, patient.given_name)
        same_day = others.filter(birth_date=patient.birth_date)
        add(
            (
                pk
                for pk, family, given in same_day.values_list("id", "family_name", "given_name")
                if name_key(family, given) == key
            ),
            DuplicateReason.NAME_BIRTH_DATE,
        )
    return _candidates(pairs, limit=50)


def get_merge(*, organization: Organization, merge_id: int | str) -> PatientMerge:
    """One merge of the organisation; another organisation's is NotFound."""
    try:
        return PatientMerge.objects.select_related("survivor", "merged", "merged_by").get(
            organization=organization, pk=int(merge_id)
        )
    except (PatientMerge.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


def list_merges(*, organization: Organization, limit: int = 50) -> QuerySet[PatientMerge]:
    """The organisation's latest merges, newest first."""
    return PatientMerge.objects.filter(organization=organization).select_related(
        "survivor", "merged", "merged_by"
    )[:limit]


def _model_label(label: str, count: int) -> str:
    """ "3 appointments" from "scheduling.appointment" (the model's own translated names)."""
    meta = _meta_of(label)
    if meta is None:
        return f"{count} × {label}"
    name = meta.verbose_name if count == 1 else meta.verbose_name_plural
    return f"{count} {name}"


def _meta_of(label: str) -> Options[Any] | None:
    app_label, model_name = label.split(".")[:2]
    try:
        model: type[Model] = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    return model._meta


def _field_label(label: str, field_name: str) -> str:
    meta = _meta_of(label)
    try:
        return str(meta.get_field(field_name).verbose_name) if meta else field_name  # type: ignore[union-attr]
    except FieldDoesNotExist:
        return field_name


def _moved_line(key: str, count: int) -> str:
    label, _dot, field_name = key.rpartition(".")
    if key == "patients.patient.tags":
        return ngettext(
            "%(count)d tag added to the surviving record.",
            "%(count)d tags added to the surviving record.",
            count,
        ) % {"count": count}
    if key == "crm.externalid.object_id":
        return ngettext(
            "%(count)d ID from an imported system now finds the surviving record.",
            "%(count)d IDs from imported systems now find the surviving record.",
            count,
        ) % {"count": count}
    rows = _model_label(label, count)
    if field_name == "patient":
        return _("%(rows)s moved to the surviving record.") % {"rows": rows}
    return _("%(rows)s changed: “%(field)s” is now the surviving record.") % {
        "rows": rows,
        "field": _field_label(label, field_name),
    }


def explain_merge(merge: PatientMerge) -> list[str]:
    """What the merge did, one translated sentence per kind of row."""
    lines = [_moved_line(key, len(ids)) for key, ids in sorted(merge.moved.items()) if ids]
    for label, ids in sorted(merge.merged_snapshot.get("dropped", {}).items()):
        lines.append(
            _("%(rows)s removed: the surviving record already had the same.")
            % {"rows": _model_label(label, len(ids))}
        )
    if not lines:
        lines.append(_("The merged record had nothing attached to it."))
    return lines


def compare_patients(a: Patient, b: Patient) -> list[tuple[str, str, str]]:
    """Rows of (label, a's value, b's value) for the side-by-side merge page."""

    def phones(patient: Patient) -> str:
        return ", ".join(patient.phones.values_list("number", flat=True))

    def count(patient: Patient, relation: str) -> str:
        return str(getattr(patient, relation).count())

    rows: list[tuple[str, str, str]] = [
        (_("Patient number"), a.number, b.number),
        (_("Name"), a.display_name, b.display_name),
        (_("Birth date"), _day(a.birth_date), _day(b.birth_date)),
        (_("Phones"), phones(a), phones(b)),
        (_("Email"), a.email, b.email),
        (_("Home branch"), a.home_branch.name, b.home_branch.name),
        (_("Registered"), _day(a.created_at.date()), _day(b.created_at.date())),
    ]
    for label, relation in (
        (_("Appointments"), "appointments"),
        (_("Treatment plans"), "treatment_plans"),
        (_("Invoices"), "invoices"),
        (_("Payments"), "payments"),
    ):
        if hasattr(a, relation):
            rows.append((label, count(a, relation), count(b, relation)))
    return rows


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"
