"""Nested lists a role reads, staged: an invoice's lines, as a table of their own
(`staging.<provider>__<resource>__<list>`: `staging.billing__invoices__lines`).

dlt lands a list inside each record as a child table (`invoices__lines`) whose rows point at
their record's row with `_dlt_parent_id`. Only the items of a record's newest version are its
items now, so the staged table joins the child rows to the newest version of each record (the
version the record's own staging table keeps) and takes from that record its id
(`_parent_id`), currency (`_parent_currency`) and account; dlt gives the item's position
(`_position`). An item's amounts become exact decimals in the item's currency (the record's,
unless the role maps the item's own), with `<amount>_minor`, as in every staging table.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from ..layers import STAGING, raw_key, staged_list_key, staged_list_table
from ..specs import ACCOUNT_COLUMN, DEFAULT_ACCOUNT, ResourceView, column_name
from ..specs.roles import ROLES, mapped_fields
from ..warehouse_sql import TEXT_TYPES, WarehouseSession, literal, quote, table_ref
from .amounts import AMOUNT_TYPE, major_units_sql, minor_units_sql
from .staging import (
    HINT_TYPES,
    StagingError,
    declared_columns,
    latest_versions,
    raw_dataset,
    staging_spec,
)
from .table_facts import table_facts

PARENT_ID, PARENT_CURRENCY, POSITION = "_parent_id", "_parent_currency", "_position"
DLT_ID, DLT_PARENT_ID, DLT_LIST_INDEX = "_dlt_id", "_dlt_parent_id", "_dlt_list_idx"


def staged_list_spec(view: ResourceView, nested: str, destination_kind: str) -> dg.AssetSpec:
    """Its record's staging spec (group, kinds, owners, tags) with the list's key and tables."""
    return staging_spec(view, destination_kind).replace_attributes(
        key=staged_list_key(view, nested),
        deps=[raw_key(view)],
        description=(
            f"The items of `{nested}` in each {view.provider} {view.name} record, staged from "
            f"raw `{view.provider}.{view.list_table(nested)}` joined to the newest version "
            f"of its record: one row per item, with the record's id (`{PARENT_ID}`), currency "
            f"(`{PARENT_CURRENCY}`) and account, and the item's position (`{POSITION}`)."
        ),
        metadata={
            "dagster/table_name": f"{STAGING}.{staged_list_table(view, nested)}",
            "source_table": f"{', '.join(view.dataset_names)}.{view.list_table(nested)}",
            "primary_key": f"{PARENT_ID}, {POSITION}",
        },
    )


def _item_currency(view: ResourceView, nested: str) -> str | None:
    """The items' own currency column, when a role maps one."""
    for role, _, name, path in mapped_fields(view.roles, nested):
        if ROLES[role][name].kind == "currency":
            return column_name(path)
    return None


def list_select_sql(
    view: ResourceView,
    nested: str,
    parent: str,
    parent_columns: Mapping[str, str],
    child: str,
    child_columns: Mapping[str, str],
) -> str:
    """The staged items: `child` (dlt's child table) joined to the newest versions of `parent`."""
    if view.record_key is None:
        raise StagingError(f"{view.provider}/{view.name}: a nested list needs a one-column key")
    account = (
        f"parent.{quote(ACCOUNT_COLUMN)}"
        if ACCOUNT_COLUMN in parent_columns
        else literal(DEFAULT_ACCOUNT)
    )
    record_currency = view.currency_column
    parent_currency = (
        f"UPPER(CAST(parent.{quote(record_currency)} AS VARCHAR))"
        if record_currency and record_currency in parent_columns
        else "CAST(NULL AS VARCHAR)"
    )
    own = _item_currency(view, nested)
    currency = f"UPPER(child.{quote(own)})" if own and own in child_columns else parent_currency
    amounts = view.role_amounts(nested)
    expressions = [
        f'{account} AS "account"',
        f"CAST(parent.{quote(view.record_key)} AS VARCHAR) AS {quote(PARENT_ID)}",
        f"{parent_currency} AS {quote(PARENT_CURRENCY)}",
        f"CAST(child.{quote(DLT_LIST_INDEX)} AS BIGINT) AS {quote(POSITION)}",
    ]
    for name, hint in view.role_columns_of(nested).items():
        present = name in child_columns
        value = f"child.{quote(name)}" if present else f"CAST(NULL AS {HINT_TYPES[hint]})"
        if name in amounts and amounts[name] == "major":
            expressions += [
                f"CAST({value} AS {AMOUNT_TYPE}) AS {quote(name)}",
                f"{minor_units_sql(value, currency)} AS {quote(name + '_minor')}",
            ]
        elif name in amounts:
            expressions += [
                f"{major_units_sql(value, currency)} AS {quote(name)}",
                f"CAST({value} AS BIGINT) AS {quote(name + '_minor')}",
            ]
        elif name == own:
            expressions.append(f"{currency} AS {quote(name)}")
        elif present and child_columns[name] in TEXT_TYPES and hint == "timestamp":
            expressions.append(f"CAST({value} AS TIMESTAMP WITH TIME ZONE) AS {quote(name)}")
        else:
            expressions.append(f"{value} AS {quote(name)}")
    return (
        f"SELECT {', '.join(expressions)} FROM {child} AS child "
        f"JOIN ({latest_versions(view, parent, parent_columns)}) AS parent "
        f"ON child.{quote(DLT_PARENT_ID)} = parent.{quote(DLT_ID)}"
    )


def _typed_empty(columns: Mapping[str, str]) -> str:
    typed = ", ".join(f"CAST(NULL AS {kind}) AS {quote(name)}" for name, kind in columns.items())
    return f"(SELECT {typed} WHERE FALSE)"


def build_list_table(
    view: ResourceView, nested: str, session: WarehouseSession, loaded: bool = False
) -> dict[str, dg.MetadataValue]:
    """Rebuild the staged items of `nested`; its facts as materialization metadata. A record
    whose list is empty has no rows here; a raw table not there yet (the API sent no records,
    or no record had an item) gives an empty table, unless the raw asset never ran."""
    schema, name = raw_dataset(view), staged_list_table(view, nested)
    parent_columns = session.columns(schema, view.table)
    if not parent_columns and not loaded:
        raise StagingError(
            f"{staged_list_key(view, nested).to_user_string()}: raw table {schema}.{view.table} "
            f"is not in the warehouse; materialize {raw_key(view).to_user_string()} first."
        )
    parent = table_ref(schema, view.table)
    if not parent_columns:
        parent_columns = {**declared_columns(view), DLT_ID: "VARCHAR"}
        parent = f"{_typed_empty(parent_columns)} AS nothing_yet"
    child_columns = session.columns(schema, view.list_table(nested))
    child = table_ref(schema, view.list_table(nested))
    if not child_columns:
        child_columns = {DLT_PARENT_ID: "VARCHAR", DLT_LIST_INDEX: "BIGINT"}
        child = _typed_empty(child_columns)
    sql = list_select_sql(view, nested, parent, parent_columns, child, child_columns)
    session.replace_table(STAGING, name, sql)
    return table_facts(session, STAGING, name)
