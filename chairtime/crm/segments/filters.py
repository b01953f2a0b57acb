"""The patient filter: its JSON form, strict validation, and compilation to one `Q` over
`PatientProfile` (docs/filter.md describes the form for API users).

A definition is a group: `{"match": "all"|"any", "conditions": [...]}` where each
condition is either a field test `{"field", "op", "value"}` (spend also takes a `window`)
or another group. Every test compiles to plain column comparisons on the profile row
(ages and "days since" become date bounds computed from the branch's today), so the
database can use its indexes; only tags and spend in an arbitrary window need a subquery,
and those are placed after the column tests of their group.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import DateField, F, Func, Lookup, Q, Sum
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chairtime.billing.models import Invoice, InvoiceStatus
from chairtime.clinical.models import LadderTier
from chairtime.core.errors import InvalidInput
from chairtime.crm.choices import CustomerGroup, ReferrerKind, TreatmentStatus
from chairtime.patients.choices import ConsentPurpose, ContactChannel
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Organization

MAX_DEPTH = 3  # the top group is depth 1
MAX_CONDITIONS = 50
MATCHES = ("all", "any")
SPEND_WINDOWS = ("90d", "365d", "rfm", "all")

COMPARE = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
MEMBERSHIP = ("in", "not_in")


def consent_bit(channel: str, purpose: str) -> int:
    """The bit of `PatientProfile.consent_bits` for a granted (channel, purpose)."""
    index = ContactChannel.values.index(channel) * len(ConsentPurpose.values)
    return 1 << (index + ConsentPurpose.values.index(purpose))


# --- the parsed form -----------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any
    window: Any = None  # spend only: "90d" | "365d" | "rfm" | "all" | (from, to)


@dataclass(frozen=True)
class Definition:
    """A group of conditions; `conditions` holds `Condition`s and nested `Definition`s."""

    match: str
    conditions: tuple[Condition | Definition, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"match": self.match, "conditions": [_to_json(c) for c in self.conditions]}

    def count_conditions(self) -> int:
        return sum(
            c.count_conditions() if isinstance(c, Definition) else 1 for c in self.conditions
        )


def _to_json(item: Condition | Definition) -> dict[str, Any]:
    if isinstance(item, Definition):
        return item.to_json()
    out: dict[str, Any] = {"field": item.field, "op": item.op, "value": _jsonable(item.value)}
    if item.window is not None:
        out["window"] = (
            item.window
            if isinstance(item.window, str)
            else {"from": item.window[0].isoformat(), "to": item.window[1].isoformat()}
        )
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- the fields ----------------------------------------------------------------------------
class _Bad(Exception):
    """A reason a value is refused; the parser adds the path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


ValueParser = Callable[[Any], Any]


@dataclass(frozen=True)
class FieldSpec:
    """One filterable field: its label, operators, how values parse, and the column(s)."""

    name: str
    label: str | Promise
    kind: str  # int, money, date, choice, ref, tags, bool, consent, recall
    ops: tuple[str, ...]
    column: str = ""
    choices: tuple[tuple[Any, str | Promise], ...] = ()


def _int_choices(values: Sequence[int]) -> tuple[tuple[int, str], ...]:
    return tuple((v, str(v)) for v in values)


MONTHS = tuple((m, calendar.month_name[m]) for m in range(1, 13))

FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("group", gettext_lazy("Customer group"), "choice", MEMBERSHIP, "group",
                  tuple(CustomerGroup.choices)),
        FieldSpec("treatment_status", gettext_lazy("Treatment status"), "choice", MEMBERSHIP,
                  "treatment_status", tuple(TreatmentStatus.choices)),
        FieldSpec("last_visit_on", gettext_lazy("Last visit"), "date", (*COMPARE, "is_set"),
                  "last_visit_on"),
        FieldSpec("days_since_last_visit", gettext_lazy("Days since the last visit"), "int",
                  COMPARE, "last_visit_on"),
        FieldSpec("visit_count", gettext_lazy("Visits"), "int", COMPARE, "visit_count"),
        FieldSpec("spend", gettext_lazy("Spend"), "money", COMPARE),
        FieldSpec("balance", gettext_lazy("Open balance"), "money", COMPARE, "balance"),
        FieldSpec("no_show_rate", gettext_lazy("No-show rate (%)"), "int", (*COMPARE, "is_set"),
                  "no_show_rate"),
        FieldSpec("on_time_rate", gettext_lazy("On-time rate (%)"), "int", (*COMPARE, "is_set"),
                  "on_time_rate"),
        FieldSpec("source_channel", gettext_lazy("Source channel"), "ref",
                  (*MEMBERSHIP, "is_set"), "source_channel_id"),
        FieldSpec("referrer_kind", gettext_lazy("Referred by"), "choice", MEMBERSHIP,
                  "referrer_kind", tuple(ReferrerKind.choices)),
        FieldSpec("referred_by_patient", gettext_lazy("Referred by patient"), "ref", MEMBERSHIP,
                  "referred_by_patient_id"),
        FieldSpec("referred_by_staff", gettext_lazy("Referred by staff member"), "ref",
                  MEMBERSHIP, "referred_by_staff_id"),
        FieldSpec("preferred_doctor", gettext_lazy("Preferred doctor"), "ref",
                  (*MEMBERSHIP, "is_set"), "preferred_doctor_id"),
        FieldSpec("tags", gettext_lazy("Tags"), "tags", ("any", "all", "none")),
        FieldSpec("age", gettext_lazy("Age"), "int", COMPARE, "birth_date"),
        FieldSpec("birthday_month", gettext_lazy("Birthday month"), "choice", MEMBERSHIP,
                  "birth_month", MONTHS),
        FieldSpec("consent", gettext_lazy("Consent"), "consent", ("granted", "not_granted")),
        FieldSpec("home_branch", gettext_lazy("Home branch"), "ref", MEMBERSHIP,
                  "home_branch_id"),
        FieldSpec("recall_due", gettext_lazy("Recall due"), "recall",
                  ("gte", "lte", "between", "overdue", "within_days", "is_set"),
                  "recall_due_on"),
        FieldSpec("ladder_tier", gettext_lazy("Product-ladder tier"), "choice", MEMBERSHIP,
                  "ladder_tier", (("", gettext_lazy("None yet")), *LadderTier.choices)),
        FieldSpec("has_future_booking", gettext_lazy("Has a future booking"), "bool", ("is",),
                  "next_appointment_at"),
    )
}  # fmt: skip

OP_LABELS: dict[str, str | Promise] = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "gt": gettext_lazy("more than"),
    "gte": gettext_lazy("at least"),
    "lt": gettext_lazy("less than"),
    "lte": gettext_lazy("at most"),
    "between": gettext_lazy("between"),
    "in": gettext_lazy("is any of"),
    "not_in": gettext_lazy("is none of"),
    "is_set": gettext_lazy("is known"),
    "any": gettext_lazy("has any of"),
    "all": gettext_lazy("has all of"),
    "none": gettext_lazy("has none of"),
    "granted": gettext_lazy("granted"),
    "not_granted": gettext_lazy("not granted"),
    "overdue": gettext_lazy("overdue"),
    "within_days": gettext_lazy("due within (days)"),
    "is": gettext_lazy("is"),
}


# --- parsing -------------------------------------------------------------------------------
def parse_definition(data: object) -> Definition:
    """The definition in `data` (decoded JSON), or InvalidInput naming the first bad path
    ("conditions[2].value") and the reason."""
    errors: dict[str, list[str]] = {}
    definition = _parse_group(data, path="", depth=1, errors=errors)
    if not errors and definition.count_conditions() > MAX_CONDITIONS:
        errors["conditions"] = [
            _("A filter has at most %(count)d conditions.") % {"count": MAX_CONDITIONS}
        ]
    if errors:
        raise InvalidInput(errors)
    return definition


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _parse_group(
    data: object, *, path: str, depth: int, errors: dict[str, list[str]]
) -> Definition:
    where = path or "definition"
    if not isinstance(data, Mapping):
        errors.setdefault(where, []).append(_("Expected an object with “match” and “conditions”."))
        return Definition("all")
    for key in data:
        if key not in ("match", "conditions"):
            errors.setdefault(_join(path, str(key)), []).append(_("Unknown key."))
    match = data.get("match", "all")
    if match not in MATCHES:
        errors.setdefault(_join(path, "match"), []).append(_("Use “all” or “any”."))
    items = data.get("conditions")
    conditions_path = _join(path, "conditions")
    if not isinstance(items, list):
        errors.setdefault(conditions_path, []).append(_("Expected a list of conditions."))
        return Definition(str(match))
    if not items:
        errors.setdefault(conditions_path, []).append(_("A group needs at least one condition."))
    parsed: list[Condition | Definition] = []
    for index, item in enumerate(items):
        item_path = f"{conditions_path}[{index}]"
        if isinstance(item, Mapping) and "conditions" in item:
            if depth >= MAX_DEPTH:
                errors.setdefault(item_path, []).append(
                    _("Groups nest at most %(depth)d deep.") % {"depth": MAX_DEPTH}
                )
                continue
            parsed.append(_parse_group(item, path=item_path, depth=depth + 1, errors=errors))
        else:
            condition = _parse_condition(item, path=item_path, errors=errors)
            if condition is not None:
                parsed.append(condition)
    return Definition(str(match), tuple(parsed))


def _parse_condition(data: object, *, path: str, errors: dict[str, list[str]]) -> Condition | None:
    if not isinstance(data, Mapping):
        errors.setdefault(path, []).append(_("Expected a condition or a group."))
        return None
    bad_before = len(errors)
    for key in data:
        if key not in ("field", "op", "value", "window"):
            errors.setdefault(_join(path, str(key)), []).append(_("Unknown key."))
    name = data.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.setdefault(_join(path, "field"), []).append(
            _("Unknown field “%(field)s”.") % {"field": name}
        )
        return None
    op = data.get("op")
    if op not in spec.ops:
        errors.setdefault(_join(path, "op"), []).append(
            _("“%(op)s” is not an operator of “%(field)s”; use one of: %(ops)s.")
            % {"op": op, "field": spec.name, "ops": ", ".join(spec.ops)}
        )
        return None
    window = None
    if spec.name == "spend":
        try:
            window = _parse_window(data.get("window", "all"))
        except _Bad as bad:
            errors.setdefault(_join(path, "window"), []).append(bad.message)
    elif "window" in data:
        errors.setdefault(_join(path, "window"), []).append(_("Only spend takes a window."))
    if "value" not in data:
        errors.setdefault(_join(path, "value"), []).append(_("A value is required."))
        return None
    try:
        value = _parse_value(spec, str(op), data["value"])
    except _Bad as bad:
        errors.setdefault(_join(path, "value"), []).append(bad.message)
        return None
    if len(errors) > bad_before:
        return None
    return Condition(spec.name, str(op), value, window)


def _parse_window(raw: object) -> str | tuple[date, date]:
    if isinstance(raw, str) and raw in SPEND_WINDOWS:
        return raw
    if isinstance(raw, Mapping) and set(raw) == {"from", "to"}:
        start, end = _date(raw["from"]), _date(raw["to"])
        if start > end:
            raise _Bad(_("The window starts after it ends."))
        return (start, end)
    raise _Bad(
        _("Use one of %(windows)s or {“from”: date, “to”: date}.")
        % {"windows": ", ".join(SPEND_WINDOWS)}
    )


def _parse_value(spec: FieldSpec, op: str, raw: object) -> Any:
    if op == "is_set" or op == "is" or op == "overdue":
        return _bool(raw)
    if op == "within_days":
        return _int(raw, minimum=0)
    if spec.kind == "consent":
        return _consent(raw)
    if spec.kind in ("choice", "ref", "tags"):
        return _members(spec, raw)
    one: ValueParser = {
        "int": lambda v: _int(v, minimum=0),
        "money": _money,
        "date": _date,
        "recall": _date,
    }[spec.kind]
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise _Bad(_("Expected a list of two values: [from, to]."))
        low, high = one(raw[0]), one(raw[1])
        if low > high:
            raise _Bad(_("The first value is larger than the second."))
        return (low, high)
    return one(raw)


def _bool(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise _Bad(_("Expected true or false."))
    return raw


def _int(raw: object, *, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Bad(_("Expected a whole number."))
    if raw < minimum or raw > 100_000_000:
        raise _Bad(_("Expected a whole number from %(minimum)d.") % {"minimum": minimum})
    return raw


def _money(raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str | float):
        raise _Bad(_('Expected an amount, e.g. 150000 or "12.50".'))
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise _Bad(_('Expected an amount, e.g. 150000 or "12.50".')) from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2 or abs(amount) >= 10**12:  # type: ignore[operator]
        raise _Bad(_('Expected an amount, e.g. 150000 or "12.50".'))
    return amount


def _date(raw: object) -> date:
    if not isinstance(raw, str):
        raise _Bad(_("Expected a date (YYYY-MM-DD)."))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _Bad(_("Expected a date (YYYY-MM-DD).")) from None


def _members(spec: FieldSpec, raw: object) -> tuple[Any, ...]:
    if not isinstance(raw, list) or not raw:
        raise _Bad(_("Expected a non-empty list."))
    if len(raw) > 500:
        raise _Bad(_("At most 500 values."))
    if spec.kind in ("ref", "tags"):
        return tuple(_int(v, minimum=1) for v in raw)
    allowed = [value for value, _label in spec.choices]
    for value in raw:
        if isinstance(value, bool) or value not in allowed:
            raise _Bad(
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": value, "choices": ", ".join(str(a) for a in allowed)}
            )
    return tuple(raw)


def _consent(raw: object) -> tuple[str, str]:
    if not isinstance(raw, Mapping) or set(raw) != {"channel", "purpose"}:
        raise _Bad(_("Expected {“channel”: …, “purpose”: …}."))
    channel, purpose = raw["channel"], raw["purpose"]
    if channel not in ContactChannel.values:
        raise _Bad(
            _("“%(value)s” is not one of: %(choices)s.")
            % {"value": channel, "choices": ", ".join(ContactChannel.values)}
        )
    if purpose not in ConsentPurpose.values:
        raise _Bad(
            _("“%(value)s” is not one of: %(choices)s.")
            % {"value": purpose, "choices": ", ".join(ConsentPurpose.values)}
        )
    return (str(channel), str(purpose))


# --- compiling -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    organization: Organization
    today: date
    now: datetime


def compile_definition(
    definition: Definition, *, organization: Organization, today: date, now: datetime | None = None
) -> Q:
    """A `Q` over `PatientProfile` selecting the definition's patients (the caller adds the
    organisation and the merged-patient exclusion). `today` is the branch's local day."""
    return _compile_group(definition, _Context(organization, today, now or timezone.now()))


def _compile_group(group: Definition, context: _Context) -> Q:
    terms = [
        (_cost(item), _compile_group(item, context))
        if isinstance(item, Definition)
        else (_cost(item), _compile_condition(item, context))
        for item in group.conditions
    ]
    # Cheap column tests first: the planner keeps the order of AND terms on SQLite.
    terms.sort(key=lambda term: term[0])
    result = Q()
    for _rank, term in terms:
        if group.match == "all":
            result &= term
        else:
            result = term if not result else result | term
    return result


def _cost(item: Condition | Definition) -> int:
    if isinstance(item, Definition):
        return max((_cost(c) for c in item.conditions), default=0)
    if item.field == "tags" or (
        item.field == "spend" and item.window not in ("365d", "all", "rfm")
    ):
        return 2
    if item.field == "consent":
        return 1
    return 0


class HiddenFromSqlitePlanner(Func):
    """The column as it is, but written `+column` on SQLite so its planner does not walk
    that column's index for a range. Date ranges in segments are usually wide ("no visit
    for 180 days" holds for most patients), and SQLite, without statistics on ranges,
    prefers such an index to the scan or to the customer-group index: seconds instead of
    a fraction of one over a million profiles. PostgreSQL's planner has the statistics."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra)


DATE_COLUMNS = {"last_visit_on": DateField, "birth_date": DateField, "recall_due_on": DateField}
_LOOKUPS: dict[str, type[Lookup[Any]]] = {
    "eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan,
    "lte": LessThanOrEqual,
}  # fmt: skip


def _compare(column: str, op: str, value: Any) -> Q:
    if column in DATE_COLUMNS:
        return _compare_dates(column, op, value)
    if op == "between":
        return Q(**{f"{column}__gte": value[0], f"{column}__lte": value[1]})
    if op == "eq":
        return Q(**{column: value})
    if op == "ne":  # nulls never match, as with every other comparison
        return Q(**{f"{column}__lt": value}) | Q(**{f"{column}__gt": value})
    return Q(**{f"{column}__{op}": value})


def _compare_dates(column: str, op: str, value: Any) -> Q:
    lhs = HiddenFromSqlitePlanner(F(column), output_field=DATE_COLUMNS[column]())

    def test(lookup: str, bound: Any) -> Q:
        return Q(_LOOKUPS[lookup](lhs, bound))

    if op == "between":
        return test("gte", value[0]) & test("lte", value[1])
    if op == "ne":
        return test("lt", value) | test("gt", value)
    return test(op, value)


def _compile_condition(condition: Condition, context: _Context) -> Q:
    spec = FIELDS[condition.field]
    op, value = condition.op, condition.value
    if op == "is_set":
        return Q(**{f"{spec.column}__isnull": not value})
    special = _SPECIAL.get(spec.name)
    if special is not None:
        return special(condition, context)
    if op in MEMBERSHIP:
        # "none of" keeps patients with the field unknown (no doctor is none of them).
        matched = Q(**{f"{spec.column}__in": list(value)})
        return ~matched if op == "not_in" else matched
    return _compare(spec.column, op, value)


def _days_since(condition: Condition, context: _Context) -> Q:
    """N days since the last visit ⇔ last visit on today minus N: the bounds swap."""
    op, value = condition.op, condition.value
    day: Callable[[int], date] = lambda n: context.today - timedelta(days=n)  # noqa: E731
    if op == "between":
        return _compare("last_visit_on", "between", (day(value[1]), day(value[0])))
    flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}[op]
    return _compare("last_visit_on", flipped, day(value))


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February in a year without one: the birthday is 1 March
        return today.replace(year=today.year - years, month=3, day=1)


def _age(condition: Condition, context: _Context) -> Q:
    """Age N ⇔ born after (today minus N+1 years), on or before (today minus N years)."""
    op, value = condition.op, condition.value
    today = context.today

    def at_least(n: int) -> Q:
        return _compare("birth_date", "lte", _years_before(today, n))

    def at_most(n: int) -> Q:
        return _compare("birth_date", "gt", _years_before(today, n + 1))

    if op == "between":
        return at_least(value[0]) & at_most(value[1])
    if op == "eq":
        return at_least(value) & at_most(value)
    if op == "ne":
        return at_least(value + 1) | at_most(value - 1) if value > 0 else at_least(1)
    return {
        "gte": lambda: at_least(value),
        "gt": lambda: at_least(value + 1),
        "lte": lambda: at_most(value),
        "lt": lambda: at_most(value - 1) if value > 0 else Q(pk__in=[]),
    }[op]()


def _spend(condition: Condition, context: _Context) -> Q:
    window = condition.window
    column = {"all": "spend_total", "365d": "spend_365d", "rfm": "window_spend"}.get(
        window if isinstance(window, str) else ""
    )
    if column is not None:
        return _compare(column, condition.op, condition.value)
    start, end = (context.today - timedelta(days=89), context.today) if window == "90d" else window
    # Spend in a window = the patient's issued, not void invoices in it (0 without any).
    # When 0 passes the test, patients are kept unless their sum fails it.
    sums = (
        Invoice.objects.filter(
            patient__organization=context.organization, issued_on__gte=start, issued_on__lte=end
        )
        .exclude(status=InvoiceStatus.VOID)
        .values("patient_id")
        .annotate(spent=Sum("total"))
    )
    test = _compare("spent", condition.op, condition.value)
    zero_passes = _passes(Decimal(0), condition.op, condition.value)
    if zero_passes:
        return ~Q(patient_id__in=sums.exclude(test).values("patient_id"))
    return Q(patient_id__in=sums.filter(test).values("patient_id"))


def _passes(amount: Decimal, op: str, value: Any) -> bool:
    if op == "between":
        return bool(value[0] <= amount <= value[1])
    return bool({
        "eq": amount == value, "ne": amount != value, "gt": amount > value,
        "gte": amount >= value, "lt": amount < value, "lte": amount <= value,
    }[op])  # fmt: skip


def _tags(condition: Condition, context: _Context) -> Q:
    through = Patient.tags.through.objects

    def having(tag_ids: list[int]) -> Q:
        return Q(patient_id__in=through.filter(tag_id__in=tag_ids).values("patient_id"))

    ids = list(condition.value)
    if condition.op == "any":
        return having(ids)
    if condition.op == "none":
        return ~having(ids)
    result = Q()
    for tag_id in ids:
        result &= having([tag_id])
    return result


def _consent_test(condition: Condition, context: _Context) -> Q:
    bit = consent_bit(*condition.value)
    granted = Q(Exact(F("consent_bits").bitand(bit), bit))
    return granted if condition.op == "granted" else ~granted


def _recall(condition: Condition, context: _Context) -> Q:
    op, value = condition.op, condition.value
    if op == "overdue":
        return _compare("recall_due_on", "lt" if value else "gte", context.today)
    if op == "within_days":
        return _compare(
            "recall_due_on", "between", (context.today, context.today + timedelta(days=value))
        )
    return _compare("recall_due_on", op, value)


def _future_booking(condition: Condition, context: _Context) -> Q:
    booked = Q(next_appointment_at__gte=context.now)
    return booked if condition.value else ~booked | Q(next_appointment_at__isnull=True)


_SPECIAL: dict[str, Callable[[Condition, _Context], Q]] = {
    "days_since_last_visit": _days_since,
    "age": _age,
    "spend": _spend,
    "tags": _tags,
    "consent": _consent_test,
    "recall_due": _recall,
    "has_future_booking": _future_booking,
}
