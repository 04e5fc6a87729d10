"""Partitioned incremental loads: windows ask the API for their window only, merge on keys,
re-run harmlessly, and add up to a full load; schedules pick the right range."""

import os
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from payments_assets.automation.jobs import ingest_jobs
from payments_assets.automation.schedules import ingest_schedules
from payments_assets.pipelines import duckdb_destination, run_pipeline
from payments_assets.sources import build_source, connection_from_environ
from payments_assets.specs import load_providers

from .warehouse_fixtures import (
    Loader,
    billing_charges_updated_on,
    point_env_at,
    query,
    rows_in_sandbox,
)

DAYS = [f"2026-10-{day:02d}" for day in range(1, 11)]


def _data_tables(database: Path) -> dict[str, list[tuple]]:
    """Every windowed top-level table, without dlt's bookkeeping columns, sorted by key."""
    tables = {}
    for spec in load_providers():
        for resource in spec.windowed:
            name = f'{spec.name}."{resource.name}"'
            [key] = resource.primary_key
            # Column order follows the order fields first appeared in: compare by name.
            columns = sorted(
                row[0]
                for row in query(database, f"describe {name}")
                if not row[0].startswith("_dlt_")
            )
            listed = ", ".join(f'"{column}"' for column in columns)
            rows = query(database, f'select {listed} from {name} order by "{key}"')
            tables[name] = [columns, *rows]
    return tables


def _full_load_without_windows(sandbox, database: Path) -> None:
    """The reference: each provider's source with no window, through a plain dlt pipeline."""
    for spec in load_providers():
        connection = connection_from_environ(spec, sandbox.env)
        windowed = [view.name for view in spec.windowed]
        with run_pipeline(spec.name, duckdb_destination(database), spec.name) as pipeline:
            pipeline.run(
                build_source(spec, connection, resources=windowed), loader_file_format="parquet"
            )


def test_backfill_of_every_day_equals_a_full_load(sandbox_factory, instance, tmp_path, monkeypatch):
    sandbox = sandbox_factory(records=150, days=10)
    backfill = point_env_at(monkeypatch, sandbox, tmp_path / "backfill")
    loader = Loader(load_providers(), instance)
    for day in DAYS:
        loader.partition(day)
    reference = tmp_path / "reference.duckdb"
    _full_load_without_windows(sandbox, reference)

    loaded, expected = _data_tables(backfill), _data_tables(reference)
    served = {  # 150 of each list; billing's events as many as its history has updates
        '{}."{}"'.format(*name.split("/")): rows
        for name, (rows, _) in rows_in_sandbox(sandbox, load_providers(), 150).items()
    }
    assert {name: len(rows) - 1 for name, rows in loaded.items()} == {
        name: served[name] for name in expected
    }
    assert loaded == expected


def test_one_day_asks_the_api_for_a_small_fraction_of_a_full_load(
    sandbox_factory, instance, tmp_path, monkeypatch
):
    sandbox = sandbox_factory(records=2000, days=30)
    point_env_at(monkeypatch, sandbox, tmp_path)
    loader = Loader(load_providers(), instance)

    sandbox.reset_stats()
    loader.partition("2026-10-15")
    one_day = sandbox.stats()["requests_total"]

    sandbox.reset_stats()
    loader.partition_range("2026-10-01", "2026-10-30")
    full = sandbox.stats()["requests_total"]

    print(f"requests: one day {one_day}, full load {full}, ratio {one_day / full:.3f}")
    assert one_day / full < 0.25


def test_rerunning_a_partition_changes_nothing(loader, warehouse_path):
    loader.partition("2026-10-07")
    before = _data_tables(warehouse_path)
    loader.partition("2026-10-07")
    assert _data_tables(warehouse_path) == before
    assert sum(len(rows) for rows in before.values()) > 0


def _first_record_created_on(sandbox, day: str) -> dict:
    """A billing charge created on `day` and not updated since, read over HTTP."""
    charges = billing_charges_updated_on(sandbox, day)
    return next(r for r in charges if r["created_at"] == r["updated_at"])


def _version(database: Path, charge_id: str) -> tuple:
    return query(
        database, f"select status, updated_at from billing.charges where id = '{charge_id}'"
    )[0]


def test_a_later_update_wins_whichever_partition_runs_first(
    sandbox_factory, instance, tmp_path, monkeypatch
):
    sandbox = sandbox_factory()
    loader = Loader([s for s in load_providers() if s.name == "billing"], instance)
    early = point_env_at(monkeypatch, sandbox, tmp_path / "early")
    record = _first_record_created_on(sandbox, "2026-10-03")

    loader.partition("2026-10-03")  # day 3 runs before the update happens
    old_status = _version(early, record["id"])[0]
    touched = sandbox.touch("billing", "charges", record["id"], "2026-10-20T12:00:00Z")
    assert touched["status"] != old_status
    loader.partition("2026-10-20")
    loader.partition("2026-10-03")  # a backfill of day 3 must not bring the old version back
    new_version = (touched["status"], datetime(2026, 10, 20, 12, tzinfo=timezone.utc))
    assert _version(early, record["id"]) == new_version

    late = point_env_at(monkeypatch, sandbox, tmp_path / "late")
    loader.partition("2026-10-20")
    loader.partition("2026-10-03")
    assert _version(late, record["id"]) == new_version


def _schedule(name: str) -> dg.ScheduleDefinition:
    specs = load_providers()
    [schedule] = [s for s in ingest_schedules(specs, ingest_jobs(specs)) if s.name == name]
    return schedule


def test_schedule_loads_the_latest_complete_day_with_one_day_of_lookback():
    schedule = _schedule("billing_ingest_schedule")
    tick = datetime(2026, 11, 30, 0, 15, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        [request] = list(schedule.evaluate_tick(context).run_requests)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-28"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-29"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_scheduled_range_runs_as_one_run_over_its_windows(loader, sandbox, warehouse_path):
    schedule = _schedule("direct_debit_ingest_schedule")
    tick = datetime(2026, 10, 12, 0, 15, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        [request] = list(schedule.evaluate_tick(context).run_requests)
    first = request.tags["dagster/asset_partition_range_start"]
    last = request.tags["dagster/asset_partition_range_end"]
    assert (first, last) == ("2026-10-10", "2026-10-11")
    result = loader.partition_range(first, last, providers=["direct_debit"])
    assert result.success
    [(earliest, latest)] = query(
        warehouse_path, "select min(updated_at), max(updated_at) from direct_debit.payments"
    )
    assert earliest >= datetime(2026, 10, 10, tzinfo=timezone.utc)
    assert latest < datetime(2026, 10, 12, tzinfo=timezone.utc)


def test_snapshots_are_unpartitioned_and_stamped_with_their_load_time(loader, warehouse_path):
    loader.snapshots(providers=["gateway"])
    loader.snapshots(providers=["gateway"])
    [(rows, stamps, ids)] = query(
        warehouse_path,
        "select count(*), count(distinct _loaded_at), count(distinct id) from gateway.balances",
    )
    assert rows == ids > 0 and stamps == 1, "replaced whole on each load, one load time"
    assert os.environ["PAYMENTS_DUCKDB_PATH"] == str(warehouse_path)
