"""One full load of one provider's windowed resources by one path, timed; run as a child.

`ingest_throughput.py` starts the sandbox and runs this once per path and repeat, so each path
pays its own imports and its peak RSS is measured alone. Paths:

- `dagster`: this project — the provider's raw assets materialized through Dagster
  (`dg.materialize`, one single-run backfill over every day, as a backfill of the range runs).
- `dagster_unmasked`: the same with card-number masking switched off (here only: the project
  has no switch for it), so the two side by side say what masking costs.
- `dlt_tuned`: a plain dlt `rest_api_source` with the same YAML config (stock dlt auth, paginator,
  incremental) and dlt's own levers set: parallelized resources, parquet, larger buffers.
- `dlt_defaults`: the same plain config with dlt's out-of-the-box settings (DuckDB's default
  `insert_values` loader, no parallelism).
- `raw`: no dlt: a requests session per resource, orjson, Arrow tables of many pages, bulk
  inserts into DuckDB; resources in parallel threads.

Prints one JSON line: path, rows (root-table rows in the destination), seconds (the load alone,
after imports and definitions: those are bench/import_time.py's).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import harness

TUNED_DLT_CONFIG = {
    # dlt's own levers for a dict-yielding source that measured faster here (with
    # `parallelized=True` and parquet below): no gzip on intermediate files, two normalize
    # processes over files of 20k rows. Larger buffers and more extract workers: no gain.
    "data_writer.disable_compression": True,
    "data_writer.file_max_items": 20_000,
    "normalize.workers": 2,
}


def _spec(provider: str) -> Any:
    from payments_assets.specs import load_providers

    return next(spec for spec in load_providers() if spec.name == provider)


def _windowed(spec: Any) -> list[Any]:
    return list(spec.windowed)


def _window() -> Any:
    from payments_assets.sources import Window

    start = datetime.combine(harness.START, datetime.min.time(), tzinfo=timezone.utc)
    return Window(start, start + timedelta(days=harness.DAYS))


def _root_rows(database: Path, provider: str, tables: list[str]) -> int:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        return sum(
            connection.execute(f'select count(*) from {provider}."{table}"').fetchone()[0]
            for table in tables
        )


def run_dagster(provider: str, database: Path, workdir: Path) -> Callable[[], None]:
    import dagster as dg

    from payments_assets.assets.ingest import ingest_assets
    from payments_assets.resources import build_resources

    os.environ.update(
        PAYMENTS_DUCKDB_PATH=str(database),
        PAYMENTS_DLT_WORKDIR=str(workdir),
        PAYMENTS_DESTINATION="duckdb",
    )
    specs = [_spec(provider)]
    assets = [asset for asset in ingest_assets(specs, "duckdb") if asset.partitions_def is not None]
    resources = build_resources(specs, os.environ)
    instance = dg.DagsterInstance.ephemeral()  # a deployment's instance exists before its runs

    def materialize() -> None:
        result = dg.materialize(
            assets,
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": harness.FIRST_DAY,
                "dagster/asset_partition_range_end": harness.LAST_DAY,
            },
        )
        assert result.success

    return materialize


def without_masking() -> None:
    """Replace the masking steps of the load path by no-ops, in this process only."""
    from payments_assets.sources import arrow, build

    def unmasked(times: Any) -> Callable[[Any], Any]:
        return lambda item: item

    arrow.mask_strings = lambda array: array
    arrow.numbers_hold_card_number = lambda array: False
    arrow.record_masker = build.record_masker = unmasked


def plain_rest_api_config(spec: Any, environ: dict[str, str]) -> dict[str, Any]:
    """The provider YAML as a plain dlt `rest_api` config: dlt's own auth and response handling."""
    from payments_assets.sources import connection_from_environ
    from payments_assets.sources.windows import incremental_config
    from payments_assets.specs import (
        ApiKeyAuth,
        BasicAuth,
        BearerAuth,
        columns_config,
        endpoint_params,
        paginator_config,
    )

    connection = connection_from_environ(spec, environ)
    auth = spec.client.auth
    if isinstance(auth, ApiKeyAuth):
        dlt_auth = {
            "type": "api_key",
            "name": auth.name,
            "api_key": connection.secrets["api_key"],
            "location": auth.location,
        }
    elif isinstance(auth, BearerAuth):
        dlt_auth = {"type": "bearer", "token": connection.secrets["token"]}
    elif isinstance(auth, BasicAuth):
        dlt_auth = {"type": "http_basic", **connection.secrets}
    else:
        raise SystemExit(f"{spec.name}: the plain dlt paths cover api_key, bearer and basic auth")
    resources = []
    for view in _windowed(spec):
        resources.append(
            {
                "name": view.name,
                "primary_key": view.dlt_primary_key,
                "write_disposition": view.write_disposition,
                "columns": columns_config(view),
                "endpoint": {
                    "path": view.path.lstrip("/"),
                    "params": endpoint_params(view.endpoint),
                    "data_selector": view.data_selector,
                    "paginator": paginator_config(view.paginator),
                    "incremental": incremental_config(_window(), view.incremental),
                },
            }
        )
    base_url = connection.base_url.rstrip("/") + "/"
    return {"client": {"base_url": base_url, "auth": dlt_auth}, "resources": resources}


def run_dlt(provider: str, database: Path, workdir: Path, tuned: bool) -> Callable[[], None]:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    spec = _spec(provider)
    config = plain_rest_api_config(spec, dict(os.environ))

    def load() -> None:
        pipeline = dlt.pipeline(
            pipeline_name=f"bench_{provider}",
            pipelines_dir=str(workdir),
            destination=dlt.destinations.duckdb(credentials=str(database)),
            dataset_name=provider,
        )
        if tuned:
            with dlt.config.values(TUNED_DLT_CONFIG):
                source = rest_api_source(config, name=provider, parallelized=True)
                pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()
        else:
            pipeline.run(rest_api_source(config, name=provider)).raise_on_failed_jobs()
        print(pipeline.last_trace, file=sys.stderr)

    return load


def run_raw(provider: str, database: Path) -> Callable[[], None]:
    """requests + orjson + Arrow + DuckDB: the floor any framework overhead is measured from."""
    import duckdb
    import orjson
    import pyarrow as pa
    import requests

    from payments_assets.sources import connection_from_environ
    from payments_assets.sources.windows import incremental_config
    from payments_assets.specs import ApiKeyAuth, BasicAuth, BearerAuth, CursorPaginator

    spec = _spec(provider)
    connection = connection_from_environ(spec, dict(os.environ))
    auth = spec.client.auth
    connection_db = duckdb.connect(str(database))

    def session() -> requests.Session:
        http = requests.Session()
        if isinstance(auth, ApiKeyAuth):
            http.params = {auth.name: connection.secrets["api_key"]}
        elif isinstance(auth, BearerAuth):
            http.headers["Authorization"] = f"Bearer {connection.secrets['token']}"
        elif isinstance(auth, BasicAuth):
            http.auth = (connection.secrets["username"], connection.secrets["password"])
        return http

    def load(resource: Any) -> None:
        endpoint = resource.endpoint
        paginator = endpoint.paginator
        url = connection.base_url.rstrip("/") + "/" + endpoint.path.lstrip("/")
        http, cursor_db = session(), connection_db.cursor()
        params: dict[str, Any] = {"limit": paginator.limit or 100}
        if endpoint.incremental and endpoint.incremental.start_param:
            # The same window, and so the same requests, as the other paths send.
            bounds = incremental_config(_window(), endpoint.incremental)
            params[endpoint.incremental.start_param] = bounds["initial_value"]
            params[endpoint.incremental.end_param] = bounds["end_value"]
        offset, rows, created = 0, [], False

        def flush() -> None:
            nonlocal rows, created
            if not rows:
                return
            batch = pa.Table.from_pylist(rows)  # noqa: F841 - read by DuckDB's replacement scan
            target = f'{provider}."{resource.name}"'
            if created:
                cursor_db.execute(f"insert into {target} by name select * from batch")
            else:
                cursor_db.execute(f"create or replace table {target} as select * from batch")
                created = True
            rows = []

        while True:
            page = orjson.loads(http.get(url, params=params, timeout=60).content)
            records = page[endpoint.data_selector]
            rows.extend(records)
            if len(rows) >= 10_000:
                flush()
            if isinstance(paginator, CursorPaginator):
                node: Any = page
                for part in paginator.cursor_path.split("."):
                    node = node[part]
                if not node:
                    break
                params[paginator.cursor_param] = node
            else:
                offset += paginator.limit
                params[paginator.offset_param] = offset
                if len(records) < paginator.limit or offset >= page.get("total", sys.maxsize):
                    break
        flush()

    def load_all() -> None:
        connection_db.execute(f"create schema if not exists {provider}")
        resources = _windowed(spec)
        with ThreadPoolExecutor(len(resources)) as pool:
            list(pool.map(load, resources))
        connection_db.close()

    return load_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", choices=["dagster", "dagster_unmasked", "dlt_tuned", "dlt_defaults", "raw"]
    )
    parser.add_argument("--provider", default="billing")
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    database, workdir = args.folder / "warehouse.duckdb", args.folder / "dlt"
    args.folder.mkdir(parents=True, exist_ok=True)
    # Imports and definitions first: their cost is bench/import_time.py's, not a load's.
    if args.path.startswith("dagster"):
        if args.path == "dagster_unmasked":
            without_masking()
        load = run_dagster(args.provider, database, workdir)
    elif args.path == "raw":
        load = run_raw(args.provider, database)
    else:
        load = run_dlt(args.provider, database, workdir, tuned=args.path == "dlt_tuned")
    started = time.perf_counter()
    load()
    seconds = time.perf_counter() - started
    tables = [resource.name for resource in _windowed(_spec(args.provider))]
    rows = _root_rows(database, args.provider, tables)
    harness.emit({"path": args.path, "rows": rows, "seconds": seconds})


if __name__ == "__main__":
    main()
