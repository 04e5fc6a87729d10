"""dlt pipelines: one per provider and run, each in its own working directory.

Runs that share a pipeline name and working directory race each other (a backfill and a
schedule firing together), so every run gets a fresh directory; dlt restores schema and state
from the destination. Telemetry is off: the project runs offline.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.pipeline import Pipeline


def pipeline_name(provider: str) -> str:
    return f"payments_{provider}"


# dlt settings for the runs of these pipelines (environment variables still override them):
# the extract files of dict rows are read back once, locally, so gzipping them costs CPU and
# saves nothing (measured: +17% rows/s on billing, bench/RESULTS.md).
RUN_SETTINGS = {
    "data_writer.disable_compression": True,
    # Arrow rows get `_dlt_load_id` from dlt's extract and `_dlt_id` from `sources/arrow.py`
    # (dlt's own id generator), as dict rows get both from dlt's normalizer: with both present,
    # dlt imports the extracted parquet files instead of reading and rewriting each one.
    "normalize.parquet_normalizer.add_dlt_id": False,
    "normalize.parquet_normalizer.add_dlt_load_id": True,
}


@contextmanager
def run_pipeline(
    provider: str, destination: Any, dataset_name: str, workdir_root: Path | None = None
) -> Iterator[Pipeline]:
    """A pipeline in a private temporary working directory, removed afterwards."""
    root = Path(workdir_root) if workdir_root else None
    if root:
        root.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=f"dlt-{provider}-", dir=root)
    try:
        with dlt.config.values(RUN_SETTINGS), collector_tuned_for_load():
            yield dlt.pipeline(
                pipeline_name=pipeline_name(provider),
                pipelines_dir=workdir,
                destination=destination,
                dataset_name=dataset_name,
                progress=None,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# A load allocates millions of short-lived containers, so at Python's default of 2,000 the young
# generation is collected every few hundred rows; at 10,000 the collector's time in a 1.3M-row
# load fell from 2.7 s to about 1.8 s (bench/RESULTS.md).
YOUNG_OBJECTS_PER_COLLECTION = 10_000


@contextmanager
def collector_tuned_for_load() -> Iterator[None]:
    """Python's cyclic collector leaves the objects alive before the load alone while it runs.

    A load allocates millions of containers (parsed pages, rows), so the collector runs
    thousands of times, and each full pass walked every object alive: Dagster's and dlt's
    modules and the definitions, ~270k objects. At 1.3M rows its ~30 full passes took 5.3 s of
    a 52 s load (bench/RESULTS.md). Frozen (`gc.freeze`) they are skipped; unfrozen afterwards,
    so any garbage among them is collected as before, only later. The young generation is
    collected less often while the load runs, and the process's own thresholds come back after.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    if thresholds[0]:  # 0: the process's owner switched automatic collection off; keep it off
        gc.set_threshold(max(thresholds[0], YOUNG_OBJECTS_PER_COLLECTION), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


# DuckDB takes up to 80% of RAM by default, so a load's peak memory grew with its size (the
# staging merge of 1M rows: +450 MB); capped, it spills to `<database>.tmp/` and stays flat.
DUCKDB_SETTINGS = {"memory_limit": "256MB"}


def duckdb_destination(path: str | Path) -> Any:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    credentials = DuckDbCredentials(str(path), global_config=dict(DUCKDB_SETTINGS))
    return dlt.destinations.duckdb(credentials=credentials)


def postgres_destination(url: str) -> Any:
    return dlt.destinations.postgres(credentials=url)
