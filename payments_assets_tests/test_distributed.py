"""A real distributed executor: runs whose steps execute on two dagster-celery workers (Redis on
loopback as the broker), PostgreSQL as instance storage, warehouse and webhook inbox, and exports
in an S3 bucket (moto's server on loopback). Each worker and each run's orchestrator has its own
empty working dir, temp dir and home: they share only the databases, the broker and the bucket.

One scenario for the module: every provider's windowed raw assets over the sandbox month in one
run, a second gateway run at the same time (its pool admits one load), one worker's step process
killed mid-step (SIGKILL), then snapshots, webhook events, staging, marts and exports in a third
run. The tests read what it left behind.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec
import pyarrow.parquet
import pytest

from payments_assets.assets.marts import marts_for
from payments_assets.definitions import defs
from payments_assets.resources import Warehouse
from payments_assets.specs import load_providers

from .distributed_fixtures import CeleryWorker, Machine, celery_workers, run_cli
from .marts_fixtures import ALL_DAYS
from .test_ingest import RECORDS
from .warehouse_fixtures import rows_in_sandbox, warehouse_rows

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RUN_TIMEOUT = 240.0
KILLED_STEP = "billing__windowed"  # the longest load: six resources
WORKER_TAG = "Celery worker"


@dataclass
class Distributed:
    """What the scenario left: the instance, the warehouse, the bucket and every machine."""

    instance: dg.DagsterInstance
    warehouse: Warehouse
    bucket: str
    machines: list[Machine]
    workers: list[CeleryWorker]
    run_ids: dict[str, str] = field(default_factory=dict)
    killed_pid: int | None = None
    seconds: float = 0.0


def _keys(partitioned: bool) -> str:
    graph = defs.resolve_asset_graph()
    return ",".join(
        key.to_user_string()
        for key in sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
        if (graph.get(key).partitions_def is not None) == partitioned
    )


def _gateway_windowed() -> str:
    return ",".join(k for k in _keys(True).split(",") if k.startswith("gateway/"))


def _wait(process: Any, machine: Machine) -> None:
    try:
        code = process.wait(timeout=RUN_TIMEOUT)
    except Exception as error:
        process.kill()
        raise AssertionError(f"{machine.name} still running:\n{machine.output()}") from error
    assert code == 0, f"{machine.name} failed:\n{machine.output()}"


def _worker_of_step(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    """The workers that picked up `step`, in order (the Celery engine event of each pickup)."""
    return [
        e.dagster_event.engine_event_data.metadata[WORKER_TAG].value
        for e in instance.all_logs(run_id)
        if e.step_key == step
        and e.dagster_event is not None
        and e.dagster_event.is_engine_event
        and WORKER_TAG in (e.dagster_event.engine_event_data.metadata or {})
    ]


def _run_id(instance: dg.DagsterInstance, keys: str, started: float) -> str | None:
    wanted = {dg.AssetKey.from_user_string(k) for k in keys.split(",")}
    runs = [
        r
        for r in instance.get_runs()
        if set(r.asset_selection or ()) == wanted
        and (record := instance.get_run_record_by_id(r.run_id)) is not None
        and record.create_timestamp.timestamp() >= started - 1
    ]
    return runs[0].run_id if runs else None


def _kill_when_started(scenario: Distributed, run_id: str, process: Any) -> None:
    """SIGKILL the step process of the worker running KILLED_STEP, as soon as it began."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        workers = _worker_of_step(scenario.instance, run_id, KILLED_STEP)
        if workers:
            [worker] = [w for w in scenario.workers if workers[0].startswith(f"{w.name}@")]
            scenario.killed_pid = worker.kill_step_process()
            return
        time.sleep(0.1)
    raise AssertionError(f"{KILLED_STEP} never started")


@pytest.fixture(scope="module")
def distributed(
    sandbox, postgres_server, s3_server, redis_server, tmp_path_factory
) -> Iterator[Distributed]:
    folder = tmp_path_factory.mktemp("distributed")
    instance_yaml = folder / "dagster.yaml"
    shutil.copy(DEPLOY / "dagster.yaml", instance_yaml)
    warehouse_url = postgres_server.url(postgres_server.create_database("warehouse"))
    dagster_db = postgres_server.create_database("dagster")
    bucket = s3_server.create_bucket("exports")
    shared = {
        **sandbox.env,
        **postgres_server.dagster_env(dagster_db),
        **s3_server.env,
        "PAYMENTS_DESTINATION": "postgres",
        "PAYMENTS_POSTGRES_URL": warehouse_url,  # the webhook inbox lives there too
        "PAYMENTS_EXPORT_DIR": f"s3://{bucket}/exports",
        "PAYMENTS_CELERY_BROKER": redis_server.database(0),
        "PAYMENTS_CELERY_BACKEND": redis_server.database(1),
    }
    machines = [
        Machine(folder, name, instance_yaml) for name in ("run-windowed", "run-gateway", "run-rest")
    ]
    home = Machine(folder, "observer", instance_yaml)
    with (
        pytest.MonkeyPatch.context() as patch,
        celery_workers(folder, 2, instance_yaml, shared, redis_server) as workers,
    ):
        for name, value in home.env(shared).items():
            patch.setenv(name, value)
        with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
            scenario = Distributed(
                instance, Warehouse(kind="postgres", postgres_url=warehouse_url), bucket,
                machines, workers,
            )  # fmt: skip
            started = time.time()
            windowed, gateway, rest = machines
            window = f"{ALL_DAYS[0]}...{ALL_DAYS[1]}"
            first = run_cli(windowed, shared, "--select", _keys(True), "--partition-range", window)
            second = run_cli(
                gateway, shared, "--select", _gateway_windowed(), "--partition-range", window
            )
            run_id = None
            while run_id is None:
                assert first.poll() is None, windowed.output()
                run_id = _run_id(instance, _keys(True), started)
                time.sleep(0.1)
            _kill_when_started(scenario, run_id, first)
            _wait(first, windowed)
            _wait(second, gateway)
            _wait(run_cli(rest, shared, "--select", _keys(False)), rest)
            scenario.seconds = time.time() - started
            scenario.run_ids = {
                "windowed": run_id,
                "gateway": _run_id(instance, _gateway_windowed(), started) or "",
                "rest": _run_id(instance, _keys(False), started) or "",
            }
            yield scenario


def test_distributed_steps_ran_on_different_workers(distributed):
    hosts = {
        worker.split("@")[0]
        for run_id in distributed.run_ids.values()
        for step in {e.step_key for e in distributed.instance.all_logs(run_id) if e.step_key}
        for worker in _worker_of_step(distributed.instance, run_id, step)
    }
    assert hosts == {"worker1", "worker2"}
    statuses = {distributed.instance.get_run_by_id(r).status for r in distributed.run_ids.values()}
    assert statuses == {dg.DagsterRunStatus.SUCCESS}
    print(f"distributed scenario: {distributed.seconds:.0f} s")


def test_distributed_killed_step_ran_again_and_nothing_half_written(distributed, sandbox):
    assert distributed.killed_pid is not None
    pickups = _worker_of_step(distributed.instance, distributed.run_ids["windowed"], KILLED_STEP)
    assert len(pickups) >= 2, f"{KILLED_STEP} was not handed out again: {pickups}"
    billing = [spec for spec in load_providers() if spec.name == "billing"]
    expected = rows_in_sandbox(sandbox, billing, RECORDS)
    landed = {}
    for name in expected:
        provider, resource = name.split("/")
        [view] = [v for v in billing[0].views if v.name == resource]
        [key] = view.primary_key
        [(rows, distinct)] = warehouse_rows(
            distributed.warehouse,
            f'select count(*), count(distinct "{key}") from "{provider}"."{resource}"',
        )
        landed[name] = (rows, distinct)
    assert landed == expected


def test_distributed_pool_keeps_one_gateway_load_at_a_time(distributed):
    windows = []
    for run in ("windowed", "gateway"):
        events = distributed.instance.all_logs(distributed.run_ids[run])
        times = {
            e.dagster_event_type: e.timestamp
            for e in events
            if e.step_key == "gateway__windowed"
            and e.dagster_event_type in ("STEP_START", "STEP_SUCCESS")
        }
        windows.append((times["STEP_START"], times["STEP_SUCCESS"]))
    first, second = sorted(windows)
    assert first[1] <= second[0], f"gateway loads overlapped: {first} and {second}"


def test_distributed_exports_and_inbox_touch_no_local_folder(distributed):
    filesystem, root = fsspec.core.url_to_fs(f"s3://{distributed.bucket}/exports")
    in_bucket = {path.rsplit("/", 1)[-1] for path in filesystem.ls(root, detail=False)}
    assert {f"{mart.name}.parquet" for mart in marts_for(load_providers())} <= in_bucket
    for machine in [*distributed.machines, *distributed.workers]:
        local = {
            name
            for name in machine.files()
            if name.endswith((".parquet", ".csv", ".sqlite", ".duckdb")) and "dlt" not in name
        }
        assert not local, f"{machine.name} wrote {sorted(local)}"
    first = marts_for(load_providers())[0].name
    with fsspec.open(f"s3://{distributed.bucket}/exports/{first}.parquet", "rb") as f:
        assert pyarrow.parquet.read_table(f).num_rows > 0
