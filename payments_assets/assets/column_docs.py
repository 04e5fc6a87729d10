"""Column descriptions for a raw table's schema in the UI: dagster-dlt lists a table's columns
and types only, so the descriptions come from the provider YAML (`columns.<name>.description`)
and, for the columns the project or dlt add, from what they mean here.
"""

from __future__ import annotations

import dagster as dg

from ..specs import ACCOUNT_COLUMN, ResourceView
from ..specs.resolved import DELETED_AT

ADDED_COLUMNS = {
    "_dlt_load_id": "The dlt load that last wrote the row (its load package, see `_dlt_loads`).",
    "_dlt_id": "dlt's unique row id; rows of nested tables point to it with `_dlt_parent_id`.",
    "_dlt_parent_id": "The `_dlt_id` of the parent row this nested row belongs to.",
    "_dlt_list_idx": "The position of this element in the parent row's list.",
    ACCOUNT_COLUMN: "The provider account the row came from (part of the merge key).",
    "_loaded_at": "When the snapshot load that wrote the row ran (UTC).",
    DELETED_AT: "When the provider deleted the record (UTC); empty while it exists.",
}


def _description(view: ResourceView, name: str) -> str | None:
    hint = view.columns.get(name)
    if hint is not None and getattr(hint, "description", None):
        return hint.description
    if name in ADDED_COLUMNS:
        return ADDED_COLUMNS[name]
    if name in view.quality.amount_columns:
        return "An amount in integer minor units of the row's currency (checked: whole numbers)."
    if name == view.quality.currency_column:
        return "The ISO 4217 currency code of the row's amounts (checked)."
    if name in view.primary_key:
        return f"Primary key of {view.provider} {view.name} (rows merge on it)."
    if name == view.cursor_column:
        return "The record's update time: which daily partition it belongs to."
    return None


def with_descriptions(schema: dg.TableSchema, view: ResourceView) -> dg.TableSchema:
    """`schema` with each column's description, and without dlt's hint names posing as
    constraints (dagster-dlt lists a column's other hints, `description` among them)."""
    columns = []
    for column in schema.columns:
        constraints = column.constraints
        other = [hint for hint in constraints.other if hint != "description"]
        columns.append(
            dg.TableColumn(
                name=column.name,
                type=column.type,
                description=_description(view, column.name) or column.description,
                constraints=dg.TableColumnConstraints(
                    nullable=constraints.nullable, unique=constraints.unique, other=other
                ),
                tags=column.tags,
            )
        )
    return dg.TableSchema(columns=columns, constraints=schema.constraints)
