"""Tables built from SQL on the warehouse, the same way on DuckDB and on Postgres.

Staging, marts and exports share these few statements; the differences between the two engines
(parameter style, transactions, Arrow results) are handled here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pyarrow as pa

from ..resources import Warehouse

DUCKDB_WRITER_POOL = "duckdb_writer"
POSTGRES_NUMERIC = 1700  # the type oid psycopg2 reports for NUMERIC / DECIMAL columns


def writer_pool(destination_kind: str) -> str | None:
    """DuckDB takes one writer (one open read-write connection) at a time; Postgres takes many."""
    return DUCKDB_WRITER_POOL if destination_kind == "duckdb" else None


class WarehouseSession:
    """One DB-API connection (DuckDB or psycopg2) in UTC, with the statements the layers need."""

    def __init__(self, connection: Any, kind: str) -> None:
        self.connection = connection
        self.kind = kind
        self.rows("SET TIME ZONE 'UTC'")

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        if params:
            cursor.execute(sql.replace("?", "%s") if self.kind == "postgres" else sql, params)
        else:
            cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []

    def columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name → upper-case SQL type, in table order; empty when the table is absent."""
        found = self.rows(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            (schema, table),
        )
        return {name: str(data_type).upper() for name, data_type in found}

    def replace_table(self, schema: str, table: str, select_sql: str) -> None:
        """(Re)build `schema.table` from `select_sql` in one transaction: readers never see it
        half-built, and a failing query leaves the previous version in place."""
        statements = (
            f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
            f'DROP TABLE IF EXISTS "{schema}"."{table}"',
            f'CREATE TABLE "{schema}"."{table}" AS {select_sql}',
        )
        if self.kind == "duckdb":
            self.connection.begin()  # DuckDB's Python API autocommits; psycopg2 opens one itself
        try:
            cursor = self.connection.cursor()
            for statement in statements:
                cursor.execute(statement)
            self.connection.commit()
        except Exception:
            self.connection.rollback()
            raise

    def arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table (exact decimals, UTC timestamps)."""
        if self.kind == "duckdb":
            return self.connection.sql(sql).to_arrow_table()
        cursor = self.connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        arrays = []
        for index, column in enumerate(cursor.description):
            values = [row[index] for row in rows]
            # psycopg2 gives Decimals; keep the column's declared precision, not the values'.
            exact = column.type_code == POSTGRES_NUMERIC and column.precision
            arrays.append(
                pa.array(values, pa.decimal128(column.precision, column.scale) if exact else None)
            )
        return pa.Table.from_arrays(arrays, names=[column.name for column in cursor.description])

    def table_facts(self, schema: str, table: str) -> dict[str, Any]:
        """Row count, column schema and table name, as Dagster shows them on a materialization."""
        [(count,)] = self.rows(f'select count(*) from "{schema}"."{table}"')
        columns = [
            dg.TableColumn(name=name, type=data_type.lower())
            for name, data_type in self.columns(schema, table).items()
        ]
        return {
            "dagster/row_count": dg.MetadataValue.int(int(count)),
            "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns)),
            "dagster/table_name": dg.MetadataValue.text(f"{schema}.{table}"),
        }


@contextmanager
def warehouse_session(warehouse: Warehouse) -> Iterator[WarehouseSession]:
    with warehouse.connect() as connection:
        yield WarehouseSession(connection, warehouse.kind)
