"""Where the data lands: DuckDB by default, Postgres by configuration; dlt pipelines and SQL on it.

The one door to the warehouse: dlt pipelines for loads (`pipeline()`), and a `WarehouseSession`
for SQL (`session()`), the same on both engines (`warehouse_sql.py`). On DuckDB both hold the
file's one-writer lock (`writer_lock.py`), which the kernel frees when the holding process dies.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from ..pipelines import duckdb_destination, postgres_destination, run_pipeline
from ..warehouse_sql import WarehouseSession, connect
from ..writer_lock import writer_lock
from .environment import destination_kind, env_or

_LOG = logging.getLogger(__name__)
DEFAULT_DUCKDB_PATH = "data/payments.duckdb"
DEFAULT_DLT_WORKDIR = "data/dlt"


class Warehouse(dg.ConfigurableResource):
    """The warehouse: where pipelines load, and what SQL runs on."""

    kind: str = Field(default="duckdb", description="duckdb or postgres")
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_url: str | None = Field(default=None, description="postgresql://… (secret)")
    workdir: str = Field(default=DEFAULT_DLT_WORKDIR, description="Parent of dlt working dirs.")
    _run_id: str | None = PrivateAttr(default=None)
    _log: logging.Logger | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run's warehouse names the run in the writer lock and says in its log when it waits."""
        self._run_id = context.run.run_id if context.run is not None else None
        self._log = context.log

    def dlt_destination(self) -> Any:
        if self.kind == "postgres":
            if not self.postgres_url:
                raise ValueError("PAYMENTS_DESTINATION=postgres needs PAYMENTS_POSTGRES_URL")
            return postgres_destination(self.postgres_url)
        return duckdb_destination(self.duckdb_path)

    @contextmanager
    def writer(self) -> Iterator[None]:
        """On DuckDB, the file's one writer for as long as inside (re-entrant; a no-op on a
        server warehouse). A step holds it across its sessions and pipeline so no other writer
        comes between them; while it waits, the run's log says for whom, within seconds."""
        if self.kind == "postgres":
            yield
            return
        with writer_lock(self.duckdb_path, self._run_id, (self._log or _LOG).warning):
            yield

    @contextmanager
    def pipeline(self, name: str, dataset: str) -> Iterator[Any]:
        """A dlt pipeline `name` loading into `dataset`, in its own working directory."""
        with (
            self.writer(),
            run_pipeline(name, self.dlt_destination(), dataset, Path(self.workdir)) as pipeline,
        ):
            yield pipeline

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """A SQL session on a new connection, closed (and on Postgres committed) afterwards."""
        kind = "postgres" if self.kind == "postgres" else "duckdb"
        with self.writer(), connect(kind, self.duckdb_path, self.postgres_url) as session:
            yield session


def holding_the_writer(
    body: Callable[[dg.AssetExecutionContext], Iterator[Any]],
) -> Callable[[dg.AssetExecutionContext], Iterator[Any]]:
    """A step body (a generator) that holds the warehouse's writer from first to last statement,
    so no other run writes between its read of the tables, its load and its bookkeeping."""

    @functools.wraps(body)
    def step(context: dg.AssetExecutionContext) -> Iterator[Any]:
        warehouse: Warehouse = context.resources.warehouse
        with warehouse.writer():
            yield from body(context)

    return step


def warehouse(environ: Mapping[str, str] | None = None) -> Warehouse:
    return Warehouse(
        kind=destination_kind(environ),
        duckdb_path=env_or("PAYMENTS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH, environ),
        postgres_url=env_or("PAYMENTS_POSTGRES_URL", None, environ),
        workdir=env_or("PAYMENTS_DLT_WORKDIR", DEFAULT_DLT_WORKDIR, environ),
    )
