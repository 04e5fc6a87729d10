"""Where the data lands: DuckDB by default, Postgres by configuration; dlt pipelines and SQL on it.

The one door to the warehouse: dlt pipelines for loads (`pipeline()`), and a `WarehouseSession`
for SQL (`session()`), the same on both engines (`warehouse_sql.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from ..pipelines import duckdb_destination, postgres_destination, run_pipeline
from ..warehouse_sql import WarehouseSession, connect
from .environment import destination_kind, env_or

DEFAULT_DUCKDB_PATH = "data/payments.duckdb"
DEFAULT_DLT_WORKDIR = "data/dlt"


class Warehouse(dg.ConfigurableResource):
    """The warehouse: where pipelines load, and what SQL runs on."""

    kind: str = Field(default="duckdb", description="duckdb or postgres")
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_url: str | None = Field(default=None, description="postgresql://… (secret)")
    workdir: str = Field(default=DEFAULT_DLT_WORKDIR, description="Parent of dlt working dirs.")

    def dlt_destination(self) -> Any:
        if self.kind == "postgres":
            if not self.postgres_url:
                raise ValueError("PAYMENTS_DESTINATION=postgres needs PAYMENTS_POSTGRES_URL")
            return postgres_destination(self.postgres_url)
        return duckdb_destination(self.duckdb_path)

    @contextmanager
    def pipeline(self, name: str, dataset: str) -> Iterator[Any]:
        """A dlt pipeline `name` loading into `dataset`, in its own working directory."""
        with run_pipeline(name, self.dlt_destination(), dataset, Path(self.workdir)) as pipeline:
            yield pipeline

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """A SQL session on a new connection, closed (and on Postgres committed) afterwards."""
        kind = "postgres" if self.kind == "postgres" else "duckdb"
        with connect(kind, self.duckdb_path, self.postgres_url) as session:
            yield session


def warehouse(environ: Mapping[str, str] | None = None) -> Warehouse:
    return Warehouse(
        kind=destination_kind(environ),
        duckdb_path=env_or("PAYMENTS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH, environ),
        postgres_url=env_or("PAYMENTS_POSTGRES_URL", None, environ),
        workdir=env_or("PAYMENTS_DLT_WORKDIR", DEFAULT_DLT_WORKDIR, environ),
    )
