"""SQL on the warehouse, the same on DuckDB and on Postgres: the project's one SQL layer.

Every layer that reads or writes tables by SQL (ingest's row facts, staging, marts, exports,
checks, webhook events) goes through a `WarehouseSession`. The two engines differ in three ways
and only here: identifiers are quoted by `quote()` (both fold unquoted names differently from
dlt's); parameters are written `?` and bound in the driver's own style; and DuckDB's Python API
autocommits where psycopg2 opens a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

Kind = Literal["duckdb", "postgres"]
POSTGRES_NUMERIC = 1700  # the type oid psycopg2 reports for NUMERIC / DECIMAL columns
INTEGER_TYPES = frozenset(
    {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT"}
)
TEXT_TYPES = frozenset({"VARCHAR", "TEXT", "CHARACTER VARYING", "STRING"})


def quote(name: str) -> str:
    """An identifier as SQL, double-quoted with its own quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def table_ref(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


def literal(value: str) -> str:
    """A string constant as SQL, for the few places a statement cannot take a parameter."""
    return "'" + value.replace("'", "''") + "'"


class WarehouseSession:
    """One DB-API connection (DuckDB or psycopg2) in UTC, with the statements the layers need."""

    def __init__(self, connection: Any, kind: Kind) -> None:
        self.connection = connection
        self.kind = kind
        self.rows("SET TIME ZONE 'UTC'")

    def _bound(self, sql: str) -> str:
        # The one placeholder rule: `?` in our SQL; psycopg2 wants `%s`, and a literal `%`
        # doubled. (No statement of ours has a `?` or `%` inside a string constant.)
        return sql.replace("%", "%%").replace("?", "%s") if self.kind == "postgres" else sql

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        if params:
            cursor.execute(self._bound(sql), params)
        else:
            cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row."""
        [(first, *_)] = self.rows(sql, params)[:1] or [(None,)]
        return first

    def columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name → upper-case SQL type, in table order; empty when the table is absent."""
        found = self.rows(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            (schema, table),
        )
        return {name: str(data_type).upper() for name, data_type in found}

    def family(self, schema: str, table: str) -> dict[str, dict[str, str]]:
        """Column → type for `table` and each of its dlt child tables (`table__child`)."""
        found: dict[str, dict[str, str]] = {}
        for name, column, data_type in self.rows(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position",
            (schema,),
        ):
            if name == table or name.startswith(f"{table}__"):
                found.setdefault(name, {})[column] = str(data_type).upper()
        return found

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(
            self.value(
                "select count(*) from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                (schema, table),
            )
        )

    def row_count(
        self, schema: str, table: str, where: tuple[str, Any] | None = None
    ) -> int | None:
        """Rows of `schema.table` (those whose column `where[0]` equals `where[1]`), or None when
        the table does not exist yet."""
        if not self.table_exists(schema, table):
            return None
        sql, params = f"select count(*) from {table_ref(schema, table)}", ()
        if where is not None:
            sql, params = f"{sql} where {quote(where[0])} = ?", (where[1],)
        return int(self.value(sql, params))

    def replace_table(self, schema: str, table: str, select_sql: str) -> None:
        """(Re)build `schema.table` from `select_sql` in one transaction: readers never see it
        half-built, and a failing query leaves the previous version in place."""
        self.transaction(
            f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}",
            f"DROP TABLE IF EXISTS {table_ref(schema, table)}",
            f"CREATE TABLE {table_ref(schema, table)} AS {select_sql}",
        )

    def transaction(self, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
        """Run `statements` (SQL, or SQL with parameters) as one transaction."""
        if self.kind == "duckdb":
            self.connection.begin()  # DuckDB's Python API autocommits; psycopg2 opens one itself
        try:
            cursor = self.connection.cursor()
            for statement in statements:
                sql, params = statement if isinstance(statement, tuple) else (statement, ())
                cursor.execute(self._bound(sql), params) if params else cursor.execute(sql)
            self.connection.commit()
        except Exception:
            self.connection.rollback()
            raise

    def arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table (exact decimals, UTC timestamps)."""
        import pyarrow as pa

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


@contextmanager
def connect(kind: Kind, duckdb_path: str, postgres_url: str | None) -> Iterator[WarehouseSession]:
    """A session on a new connection to the warehouse, closed afterwards."""
    if kind == "postgres":
        import psycopg2

        connection = psycopg2.connect(postgres_url)
        try:
            yield WarehouseSession(connection, kind)
            connection.commit()
        finally:
            connection.close()
        return
    import duckdb

    Path(duckdb_path).parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(duckdb_path)
    try:
        yield WarehouseSession(connection, kind)
    finally:
        connection.close()
