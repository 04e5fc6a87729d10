"""What Dagster shows of a table built by SQL: its row count, column schema and qualified name."""

from __future__ import annotations

from typing import Any

import dagster as dg

from ..warehouse_sql import WarehouseSession, table_ref


def table_facts(session: WarehouseSession, schema: str, table: str) -> dict[str, Any]:
    """Row count, column schema and `schema.table`, as materialization metadata."""
    count = session.value(f"select count(*) from {table_ref(schema, table)}")
    columns = [
        dg.TableColumn(name=name, type=data_type.lower())
        for name, data_type in session.columns(schema, table).items()
    ]
    return {
        "dagster/row_count": dg.MetadataValue.int(int(count)),
        "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns)),
        "dagster/table_name": dg.MetadataValue.text(f"{schema}.{table}"),
    }
