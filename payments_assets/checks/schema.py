"""Schema changes: columns that appeared or vanished since the check last looked.

dlt evolves tables as the API changes (a new field becomes a new column, nested lists become
child tables `resource__child`); staging SQL reads those columns by name. The check records the
columns it saw, compares with what it recorded last time, and warns once per change.
"""

from __future__ import annotations

import dagster as dg

from .rules import Finding, Rule, Subject, listing

COLUMNS_KEY = "columns"
# dlt's bookkeeping columns say nothing about the provider's data.
DLT_COLUMNS = frozenset(
    {"_dlt_load_id", "_dlt_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_root_id"}
)


def _current(subject: Subject) -> list[str]:
    """`column` for the table itself, `child_table.column` for its child tables."""
    found = []
    for table, columns in subject.columns.items():
        prefix = "" if table == subject.view.table else f"{table}."
        found += [f"{prefix}{column}" for column in columns if column not in DLT_COLUMNS]
    return sorted(found)


def _recorded(subject: Subject) -> list[str] | None:
    """The columns this check recorded at its last completed evaluation, if any."""
    key = subject.check_key(SCHEMA_UNCHANGED.name)
    summary = subject.instance.event_log_storage.get_asset_check_summary_records([key]).get(key)
    record = summary.last_completed_check_execution_record if summary else None
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    value = evaluation.metadata.get(COLUMNS_KEY) if evaluation else None
    return list(value.value) if value is not None else None


def _judge(subject: Subject) -> Finding:
    current = _current(subject)
    metadata = {COLUMNS_KEY: dg.MetadataValue.json(current)}
    before = _recorded(subject)
    if before is None:
        return Finding(True, f"{len(current)} columns recorded as the baseline", metadata)
    new = sorted(set(current) - set(before))
    vanished = sorted(set(before) - set(current))
    if not new and not vanished:
        return Finding(True, f"{len(current)} columns, as before", metadata)
    changes = []
    if new:
        changes.append(f"new column(s): {listing(new, 10)}")
        metadata["new_columns"] = dg.MetadataValue.json(new)
    if vanished:
        changes.append(f"vanished column(s): {listing(vanished, 10)}")
        metadata["vanished_columns"] = dg.MetadataValue.json(vanished)
    return Finding(False, "; ".join(changes), metadata)


SCHEMA_UNCHANGED = Rule(
    name="schema_unchanged",
    description="No column appeared or vanished since the last evaluation (reported once).",
    blocking=False,
    applies_to=lambda view: True,
    judge=_judge,
)
