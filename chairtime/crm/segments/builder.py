"""The filter builder's form: posted fields ⇄ the JSON definition.

The page shows a top-level all/any over groups, each an all/any over conditions (two
levels; the API allows three). Field names: `match`, `g-<i>-match`,
`g-<i>-c-<j>-field|op|value|value2|window|from|to|channel|purpose`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from chairtime.crm.choices import CustomerGroup
from chairtime.crm.segments.filters import FIELDS, MATCHES, OP_LABELS, SPEND_WINDOWS, FieldSpec
from chairtime.patients.choices import ConsentPurpose, ContactChannel

BOOL_OPS = ("is_set", "is", "overdue")


@dataclass
class Row:
    field: str
    op: str
    values: list[str] = dataclasses.field(default_factory=list)
    value2: str = ""
    window: str = "all"
    window_from: str = ""
    window_to: str = ""
    channel: str = ContactChannel.SMS
    purpose: str = ConsentPurpose.MARKETING
    errors: list[str] = dataclasses.field(default_factory=list)
    path: str = ""
    prefix: str = ""  # the form field prefix, set by prepare()
    position: str = ""  # "<group>:<row>", set by prepare()
    options: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    @property
    def spec(self) -> FieldSpec:
        return FIELDS[self.field]

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""

    @property
    def widget(self) -> str:
        """How the page asks for the value."""
        kind = self.spec.kind
        if self.op in BOOL_OPS:
            return "bool"
        if self.op == "within_days":
            return "number"
        if kind in ("choice", "ref", "tags"):
            return "ids" if self.field == "referred_by_patient" else "multiple"
        if kind == "consent":
            return "consent"
        if kind in ("date", "recall"):
            return "date_range" if self.op == "between" else "date"
        return "number_range" if self.op == "between" else "number"

    @property
    def op_choices(self) -> list[tuple[str, Any]]:
        return [(op, OP_LABELS[op]) for op in self.spec.ops]


@dataclass
class Group:
    match: str = "all"
    rows: list[Row] = dataclasses.field(default_factory=list)


@dataclass
class State:
    match: str = "all"
    groups: list[Group] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)  # not tied to a row


def new_row(field_name: str = "group") -> Row:
    return Row(field=field_name, op=FIELDS[field_name].ops[0])


def initial_state(group: str = CustomerGroup.LOYAL) -> State:
    """A fresh builder: one complete condition (a customer group, VIPs unless the link
    named another), so the page opens on a count rather than on an error."""
    row = new_row()
    row.values = [group if group in CustomerGroup.values else CustomerGroup.LOYAL]
    return State(groups=[Group(rows=[row])])


def state_from_post(data: QueryDict) -> State:
    state = State(match=_match(data.get("match")))
    i = 0
    while f"g-{i}-match" in data:
        group = Group(match=_match(data.get(f"g-{i}-match")))
        j = 0
        while f"g-{i}-c-{j}-field" in data:
            group.rows.append(_row_from_post(data, f"g-{i}-c-{j}-"))
            j += 1
        state.groups.append(group)
        i += 1
    return state


def _match(raw: str | None) -> str:
    return raw if raw in MATCHES else "all"


def _row_from_post(data: QueryDict, prefix: str) -> Row:
    name = data.get(prefix + "field", "")
    if name not in FIELDS:
        name = "group"
    spec = FIELDS[name]
    op = data.get(prefix + "op", "")
    if op not in spec.ops:
        op = spec.ops[0]
    return Row(
        field=name, op=op, values=[v for v in data.getlist(prefix + "value") if v != ""],
        value2=data.get(prefix + "value2", ""), window=data.get(prefix + "window", "all"),
        window_from=data.get(prefix + "from", ""), window_to=data.get(prefix + "to", ""),
        channel=data.get(prefix + "channel", ContactChannel.SMS),
        purpose=data.get(prefix + "purpose", ConsentPurpose.MARKETING),
    )  # fmt: skip


def apply_action(state: State, action: str) -> State:
    """Add or remove a condition or a group ("add_condition:0", "remove_group:1", …)."""
    verb, _sep, where = action.partition(":")
    numbers = [int(n) for n in where.split(":") if n.isdigit()]
    if verb == "add_group":
        state.groups.append(Group(rows=[new_row()]))
    elif verb == "add_condition" and numbers and numbers[0] < len(state.groups):
        state.groups[numbers[0]].rows.append(new_row())
    elif verb == "remove_group" and numbers and numbers[0] < len(state.groups):
        del state.groups[numbers[0]]
    elif verb == "remove_condition" and len(numbers) == 2 and numbers[0] < len(state.groups):
        rows = state.groups[numbers[0]].rows
        if numbers[1] < len(rows):
            del rows[numbers[1]]
        if not rows:
            del state.groups[numbers[0]]
    if not state.groups:
        state.groups.append(Group(rows=[new_row()]))
    return state


def definition_of(state: State) -> dict[str, Any]:
    """The JSON form (not yet validated: parse_definition names what is wrong)."""
    return {
        "match": state.match,
        "conditions": [
            {"match": group.match, "conditions": [_condition(row) for row in group.rows]}
            for group in state.groups
        ],
    }


def _number(text: str) -> Any:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text  # refused by the parser with the reason


def _condition(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"field": row.field, "op": row.op}
    widget, kind = row.widget, row.spec.kind
    if widget == "bool":
        out["value"] = row.value == "true"
    elif widget == "consent":
        out["value"] = {"channel": row.channel, "purpose": row.purpose}
    elif widget == "multiple":
        out["value"] = (
            [_number(v) for v in row.values]
            if kind in ("ref", "tags") or row.field == "birthday_month"
            else list(row.values)
        )
    elif widget == "ids":
        out["value"] = [_number(v) for v in row.value.replace(",", " ").split()]
    elif widget in ("number_range", "date_range"):
        convert = _number if kind == "int" else str.strip
        out["value"] = [convert(row.value), convert(row.value2)]
    elif widget == "number" and (kind == "int" or row.op == "within_days"):
        out["value"] = _number(row.value)
    else:
        out["value"] = row.value.strip()
    if row.field == "spend":
        out["window"] = (
            {"from": row.window_from, "to": row.window_to} if row.window == "range" else row.window
        )
    return out


def attach_errors(state: State, errors: dict[str, list[str]]) -> None:
    """Put the parser's messages beside the rows their paths name."""
    paths: dict[str, Row] = {}
    for i, group in enumerate(state.groups):
        for j, row in enumerate(group.rows):
            row.path = f"conditions[{i}].conditions[{j}]"
            paths[row.path] = row
    for path, messages in errors.items():
        key = path.removeprefix("definition.")
        owner = next((row for p, row in paths.items() if key.startswith(p + ".") or key == p), None)
        if owner is not None:
            owner.errors.extend(messages)
        else:
            state.errors.extend(messages)


def prepare(state: State, options: dict[str, list[tuple[int, str]]]) -> State:
    """Number the rows for the form and give each the organisation's choices it offers."""
    for i, group in enumerate(state.groups):
        for j, row in enumerate(group.rows):
            row.prefix, row.position = f"g-{i}-c-{j}-", f"{i}:{j}"
            row.options = options.get(row.field, [])
    return state


def state_from_definition(definition: dict[str, Any]) -> State | None:
    """The builder's view of a stored definition; None when deeper than the page shows."""
    state = State(match=_match(definition.get("match")))
    loose: list[Row] = []
    for item in definition.get("conditions", []):
        if "conditions" in item:
            group = Group(match=_match(item.get("match")))
            for inner in item["conditions"]:
                if "conditions" in inner:
                    return None
                group.rows.append(_row_from_json(inner))
            state.groups.append(group)
        else:
            loose.append(_row_from_json(item))
    # A condition at the top level is a group of its own (the same meaning).
    state.groups.extend(Group(rows=[row]) for row in loose)
    return state if state.groups else initial_state()


def _row_from_json(item: dict[str, Any]) -> Row:
    row = Row(field=item["field"], op=item["op"])
    value: Any = item["value"]
    if row.widget == "bool":
        row.values = ["true" if value else "false"]
    elif row.widget == "consent":
        row.channel, row.purpose = value["channel"], value["purpose"]
    elif row.widget == "ids":
        row.values = [" ".join(str(v) for v in value)]
    elif isinstance(value, list) and row.widget in ("number_range", "date_range"):
        row.values, row.value2 = [str(value[0])], str(value[1])
    elif isinstance(value, list):
        row.values = [str(v) for v in value]
    else:
        row.values = [str(value)]
    window = item.get("window")
    if isinstance(window, dict):
        row.window, row.window_from, row.window_to = "range", window["from"], window["to"]
    elif isinstance(window, str):
        row.window = window
    return row


WINDOW_CHOICES = (*SPEND_WINDOWS, "range")
