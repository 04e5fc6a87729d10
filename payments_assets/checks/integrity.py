"""Keys and required fields: a charge counted twice or a payment without an id must not flow on.

All three rules block: a failure stops the assets downstream of the table.
"""

from __future__ import annotations

import dagster as dg

from ..specs import ResourceView
from ..warehouse_sql import quote
from .rules import Finding, Rule, Subject, listing

SAMPLE = 5


def _missing(subject: Subject, columns: tuple[str, ...]) -> list[str]:
    return [column for column in columns if column not in subject.main_columns]


def _absent(columns: list[str]) -> Finding:
    # dlt creates a column on its first non-null value: absent means never received.
    return Finding(
        False,
        f"column(s) {listing(columns)} not in the table: the API never sent a value for them",
        {"absent_columns": dg.MetadataValue.json(columns)},
    )


def _judge_unique(subject: Subject) -> Finding:
    key = subject.view.key_columns
    if missing := _missing(subject, key):
        return _absent(missing)
    columns = ", ".join(quote(c) for c in key)
    present = " and ".join(f"{quote(c)} is not null" for c in key)
    grouped = (
        f"select {columns}, count(*) as n from {subject.ref} where {present} group by {columns}"
    )
    [(keys, rows)] = subject.rows(
        f"select count(*), coalesce(sum(n), 0) from ({grouped} having count(*) > 1) duplicated",
    )
    if not keys:
        return Finding(True, f"every {', '.join(key)} is unique", {"duplicated_keys": 0})
    sample = subject.rows(
        f"{grouped} having count(*) > 1 order by n desc, {columns} limit {SAMPLE}",
    )
    shown = [f"{'/'.join(str(v) for v in row[:-1])} ({row[-1]} rows)" for row in sample]
    return Finding(
        False,
        f"{keys} {'/'.join(key)} value(s) appear more than once ({rows} rows), "
        f"e.g. {listing(shown)}",
        {
            "duplicated_keys": int(keys),
            "rows_with_duplicated_keys": int(rows),
            "examples": dg.MetadataValue.json(shown),
        },
    )


def _judge_key_present(subject: Subject) -> Finding:
    key = subject.view.key_columns
    if missing := _missing(subject, key):
        return _absent(missing)
    absent = " or ".join(f"{quote(c)} is null" for c in key)
    [(nulls,)] = subject.rows(f"select count(*) from {subject.ref} where {absent}")
    if nulls:
        return Finding(False, f"{nulls} row(s) without a {'/'.join(key)}", {"null_keys": nulls})
    return Finding(True, f"every row has a {'/'.join(key)}", {"null_keys": 0})


def _judge_required(subject: Subject) -> Finding:
    required = tuple(dict.fromkeys(subject.view.required_columns))
    if missing := _missing(subject, required):
        return _absent(missing)
    counts = ", ".join(f"count({quote(c)})" for c in required)
    [(total, *filled)] = subject.rows(f"select count(*), {counts} from {subject.ref}")
    nulls = {column: total - count for column, count in zip(required, filled, strict=True)}
    empty = {column: n for column, n in nulls.items() if n}
    metadata = {"rows": total, "nulls": dg.MetadataValue.json(nulls)}
    if empty:
        found = listing(f"{column} ({n})" for column, n in empty.items())
        return Finding(False, f"required fields with nulls: {found}", metadata)
    return Finding(True, f"{', '.join(required)} filled on all {total} rows", metadata)


def _has_key(view: ResourceView) -> bool:
    return bool(view.key_columns)


PRIMARY_KEY_UNIQUE = Rule(
    name="primary_key_unique",
    description="No primary key value appears twice (a duplicate would double-count money).",
    blocking=True,
    applies_to=_has_key,
    judge=_judge_unique,
)
PRIMARY_KEY_NOT_NULL = Rule(
    name="primary_key_not_null",
    description="Every row has its primary key.",
    blocking=True,
    applies_to=_has_key,
    judge=_judge_key_present,
)
REQUIRED_FIELDS_NOT_NULL = Rule(
    name="required_fields_not_null",
    description="The fields the provider YAML lists under quality.required are never null.",
    blocking=True,
    applies_to=lambda view: bool(view.required_columns),
    judge=_judge_required,
)
