"""The little SQL the checks share, written once so it runs the same on DuckDB and Postgres.

Identifiers are double-quoted (both engines fold unquoted names differently from dlt's), and
parameters are written `?` and bound in each driver's own style.
"""

from __future__ import annotations

from typing import Any

from ..resources import Warehouse

# dlt's bookkeeping columns say nothing about the provider's data.
DLT_COLUMNS = frozenset(
    {"_dlt_load_id", "_dlt_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_root_id"}
)
INTEGER_TYPES = frozenset(
    {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT"}
)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_ref(warehouse: Warehouse, provider: str, table: str) -> str:
    return f"{quote(warehouse.dataset(provider))}.{quote(table)}"


def run(warehouse: Warehouse, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """`sql` with `?` placeholders, bound the way the warehouse's driver expects."""
    if warehouse.kind == "postgres":
        sql = sql.replace("?", "%s")
    return warehouse.query(sql, params or None)


def table_columns(warehouse: Warehouse, provider: str, table: str) -> dict[str, dict[str, str]]:
    """Column name → upper-cased type, for `table` and its child tables (`table__child`)."""
    rows = run(
        warehouse,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = ? order by table_name, ordinal_position",
        (warehouse.dataset(provider),),
    )
    found: dict[str, dict[str, str]] = {}
    for name, column, data_type in rows:
        if name == table or name.startswith(f"{table}__"):
            found.setdefault(name, {})[column] = str(data_type).upper()
    return found
