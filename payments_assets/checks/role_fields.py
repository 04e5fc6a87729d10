"""Role fields in the data: every field a role requires is a column of the raw table, with values.

Staging adds a mapped field the API never sent as a typed NULL, so a mart never fails on a
missing column; this check is what says so instead. A misnamed field (`occurred_at: booked_on`
where the API sends `booked`) would otherwise put every payment under a NULL day. It blocks: the
marts must not be built on a mapping the records do not carry.
"""

from __future__ import annotations

import dagster as dg

from ..specs import column_name
from ..specs.roles import ROLES, mapped_fields
from ..warehouse_sql import quote, table_ref
from .rules import Finding, Rule, Subject, listing


def _problems(subject: Subject, nested: str | None) -> tuple[int, list[str]]:
    """(required fields, problems) of the record itself or of the items of `nested` (dlt's child
    table; a list no record has an item in yet is not judged)."""
    view = subject.view
    table = view.table if nested is None else view.list_table(nested)
    if nested is not None and table not in subject.columns:
        return 0, []
    columns = subject.columns.get(table, {})
    inside = f"{nested}." if nested else ""
    required = {
        f"roles.{role}.{name} ({inside}{path})": column_name(path)
        for role, _, name, path in mapped_fields(view.roles, nested)
        if ROLES[role][name].required
    }
    absent = [key for key, column in required.items() if column not in columns]
    present = {key: column for key, column in required.items() if key not in absent}
    empty: list[str] = []
    if present:
        counts = ", ".join(f"count({quote(column)})" for column in present.values())
        [(rows, *filled)] = subject.rows(
            f"select count(*), {counts} from {table_ref(subject.dataset, table)}"
        )
        empty = [key for key, n in zip(present, filled, strict=True) if rows and not n]
    problems = [f"{key}: no such column" for key in absent]
    return len(required), problems + [f"{key}: no value in any row" for key in empty]


def _judge(subject: Subject) -> Finding:
    view = subject.view
    judged = [_problems(subject, nested) for nested in (None, *view.role_lists)]
    problems = [problem for _, found in judged for problem in found]
    if problems:
        return Finding(
            False,
            f"{view.provider} resources[{view.name}]: {listing(problems, 10)}; map the role "
            "to the field the API sends",
            {"role_fields": dg.MetadataValue.json(problems)},
        )
    return Finding(True, f"{sum(n for n, _ in judged)} required role field(s) present with values")


ROLE_FIELDS_PRESENT = Rule(
    name="role_fields_present",
    description="Every field a role of the resource requires is a column with values.",
    blocking=True,
    applies_to=lambda view: bool(view.roles),
    judge=_judge,
)
