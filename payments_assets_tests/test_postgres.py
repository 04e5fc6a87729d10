"""The production profile on a real PostgreSQL: the warehouse, Dagster's storage, the pools.

Tests run against the session's throwaway server (postgres_fixtures), each in fresh databases, with
Dagster's instance loaded from the shipped deploy/dagster.yaml; the last ones check that the deploy
files agree with each other and with the code location.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest
import yaml

import payments_assets
from payments_assets.automation.executor import HOST_TAG, PID_TAG
from payments_assets.checks.freshness import LATEST_PARTITION_LANDED
from payments_assets.resources import Warehouse
from payments_assets.sandbox import SandboxHandle, running_sandbox
from payments_assets.specs import load_providers

from .postgres_fixtures import PostgresServer
from .test_ingest import RECORDS
from .warehouse_fixtures import Loader, rows_in_sandbox, warehouse_rows

pytestmark = pytest.mark.e2e  # subprocesses and servers: skipped by `-m "not e2e"`

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
WEEK = ("2026-10-01", "2026-10-07")


@dataclass(frozen=True)
class Profile:
    """One isolated production profile: a warehouse database and a Dagster storage database."""

    env: dict[str, str]
    warehouse: Warehouse
    dagster_home: Path
    dagster_url: str


def production_profile(server: PostgresServer, sandbox: Any, folder: Path) -> Profile:
    """Fresh databases, a DAGSTER_HOME holding deploy/dagster.yaml, and the variables for both."""
    warehouse_db = server.create_database("warehouse")
    dagster_db = server.create_database("dagster")
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    env = {
        **sandbox.env,
        "PAYMENTS_DESTINATION": "postgres",
        "PAYMENTS_POSTGRES_URL": server.url(warehouse_db),
        "PAYMENTS_DLT_WORKDIR": str(folder / "dlt"),
        "DAGSTER_HOME": str(home),
        **server.dagster_env(dagster_db),
    }
    return Profile(
        env=env,
        warehouse=Warehouse(kind="postgres", postgres_url=server.url(warehouse_db)),
        dagster_home=home,
        dagster_url=server.url(dagster_db),
    )


@contextmanager
def production_instance(profile: Profile) -> Iterator[dg.DagsterInstance]:
    """The profile's variables set, and the instance that deploy/dagster.yaml describes."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in profile.env.items():
            patch.setenv(name, value)
        with dg.DagsterInstance.from_config(str(profile.dagster_home)) as instance:
            yield instance


def dagster_tables(profile: Profile, sql: str) -> list[tuple[Any, ...]]:
    """Read Dagster's own storage directly, as an operator with psql would."""
    connection = psycopg2.connect(profile.dagster_url)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        connection.close()


@dataclass(frozen=True)
class Landed:
    """A profile after two full loads, and the runs that loaded it."""

    profile: Profile
    runs: list[dg.ExecuteInProcessResult]


@pytest.fixture(scope="module")
def week_sandbox() -> Iterator[SandboxHandle]:
    """The session sandbox's records packed into one week: the same data, a quarter of the
    partitions (Dagster writes one event per asset and partition, to Postgres here)."""
    with running_sandbox(records=RECORDS, start=date(2026, 10, 1), days=7, seed=1) as handle:
        yield handle


@pytest.fixture(scope="module")
def landed(week_sandbox, postgres_server, tmp_path_factory) -> Iterator[Landed]:
    """Every provider loaded twice (all its days, then its snapshots) on Postgres."""
    folder = tmp_path_factory.mktemp("landed")
    profile = production_profile(postgres_server, week_sandbox, folder)
    with production_instance(profile) as instance:
        loader = Loader(load_providers(), instance)
        runs = []
        for _ in range(2):
            runs += [loader.partition_range(*WEEK), loader.snapshots()]
        yield Landed(profile, runs)


def test_every_resource_lands_exactly_once_on_postgres(week_sandbox, landed):
    counts = {}
    for spec in load_providers():
        for resource in spec.views:
            [key] = resource.primary_key
            [(rows, distinct)] = warehouse_rows(
                landed.profile.warehouse,
                f'select count(*), count(distinct "{key}") from "{spec.name}"."{resource.name}"',
            )
            counts[f"{spec.name}/{resource.name}"] = (rows, distinct)
    assert counts == rows_in_sandbox(week_sandbox, load_providers(), RECORDS)


def test_card_numbers_are_masked_on_postgres(landed):
    numbers = [
        row[0]
        for row in warehouse_rows(
            landed.profile.warehouse,
            "select card__number from gateway.transactions where card__number is not null",
        )
    ]
    assert numbers, "the sandbox serves card numbers on some transactions"
    assert all(set(number[6:-4]) == {"*"} for number in numbers)


def test_cursors_are_typed_as_timestamps_on_postgres(landed):
    types = dict(
        warehouse_rows(
            landed.profile.warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'commerce' and table_name in ('customers', 'charges') "
            "and column_name in ('first_seen', 'occurred', 'amount')",
        )
    )
    assert types == {
        "first_seen": "timestamp with time zone",
        "occurred": "timestamp with time zone",
        "amount": "bigint",
    }


def test_runs_and_events_are_stored_in_postgres(landed):
    run_ids = {run.run_id for run in landed.runs}
    stored = dagster_tables(landed.profile, "select run_id, status from runs")
    assert {run_id for run_id, _ in stored} == run_ids
    assert {status for _, status in stored} == {"SUCCESS"}
    materialized = dagster_tables(
        landed.profile,
        "select distinct asset_key from event_logs "
        "where dagster_event_type = 'ASSET_MATERIALIZATION'",
    )
    expected = {
        dg.AssetKey([spec.name, resource.name]).to_string()
        for spec in load_providers()
        for resource in spec.views
    }
    assert {key for (key,) in materialized} == expected


# --- Every asset and check of the code location, loaded with PAYMENTS_DESTINATION=postgres ---

EVERY_ASSET_DAYS = ("2026-10-03", "2026-10-05")


def definitions_loaded_fresh() -> dg.Definitions:
    """`payments_assets.definitions` executed anew, reading the environment as a new process would.

    The module reads PAYMENTS_DESTINATION at import (pools, kinds); the copy already imported by
    other tests stays untouched.
    """
    path = Path(payments_assets.__file__).parent / "definitions.py"
    spec = importlib.util.spec_from_file_location("payments_assets._definitions_on_postgres", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def _batches(graph: Any) -> list[tuple[Any, list[dg.AssetKey]]]:
    """Materializable keys grouped by partitions definition, each group after those it reads."""
    materializable = graph.materializable_asset_keys
    groups: list[tuple[Any, list[dg.AssetKey]]] = []
    for key in (k for k in graph.toposorted_asset_keys if k in materializable):
        partitions_def = graph.get(key).partitions_def
        group = next((g for g in groups if g[0] == partitions_def), None)
        if group is None:
            groups.append(group := (partitions_def, []))
        group[1].append(key)
    ordered: list[tuple[Any, list[dg.AssetKey]]] = []
    while groups:
        done = {key for _, keys in ordered for key in keys}
        ready = next(
            (
                group
                for group in groups
                if {p for k in group[1] for p in graph.get(k).parent_keys} & materializable
                <= done | set(group[1])
            ),
            None,
        )
        assert ready is not None, "partitioned and unpartitioned assets read each other"
        groups.remove(ready)
        ordered.append(ready)
    return ordered


def _runs_for(partitions_def: Any, graph: Any, keys: list[dg.AssetKey]) -> list[dict[str, str]]:
    """Run tags for the window: one run if every asset backfills in one run, else one per day."""
    if partitions_def is None:
        return [{}]
    first, last = EVERY_ASSET_DAYS
    in_window = [k for k in partitions_def.get_partition_keys() if first <= k[:10] <= last]
    single_run = all(
        (policy := graph.get(key).backfill_policy) is not None
        and policy.max_partitions_per_run is None
        for key in keys
    )
    if single_run:
        return [
            {
                "dagster/asset_partition_range_start": in_window[0],
                "dagster/asset_partition_range_end": in_window[-1],
            }
        ]
    return [{"dagster/partition": key} for key in in_window]


def test_every_asset_in_defs_materializes_on_postgres(sandbox, postgres_server, tmp_path):
    """Raw, staging, marts, exports and their checks: whatever the code location holds today.

    The warehouse is Postgres; Dagster's storage is in memory here (the other tests cover it).
    """
    profile = production_profile(postgres_server, sandbox, tmp_path)
    evaluations = []
    with pytest.MonkeyPatch.context() as patch:
        for name, value in profile.env.items():
            patch.setenv(name, value)
        patch.chdir(tmp_path)  # anything written to a relative path stays in the test's folder
        defs = definitions_loaded_fresh()
        graph = defs.resolve_asset_graph()
        with dg.DagsterInstance.ephemeral() as instance:
            for index, (partitions_def, keys) in enumerate(_batches(graph)):
                job = dg.define_asset_job(f"every_asset_{index}", selection=keys)
                merged = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
                for tags in _runs_for(partitions_def, graph, keys):
                    result = merged.resolve_job_def(job.name).execute_in_process(
                        instance=instance, tags=tags
                    )
                    evaluations += result.get_asset_check_evaluations()
            unmaterialized = [
                key.to_user_string()
                for key in graph.materializable_asset_keys
                if instance.get_latest_materialization_event(key) is None
            ]
    assert not unmaterialized
    assert {e.asset_check_key for e in evaluations} == set(graph.asset_check_keys)
    # "The latest partition landed" holds against the wall clock; this test loads early October.
    failed = [
        e.asset_check_key.to_user_string()
        for e in evaluations
        if not e.passed and e.asset_check_key.name != LATEST_PARTITION_LANDED
    ]
    assert not failed


# --- Pools: real runs (`dagster asset materialize` processes) against the Postgres instance ---

HOLDER_RUN = "pool-holder-run"  # stands for a run of the provider already in flight
RUN_TIMEOUT = 60.0


@dataclass
class CliRun:
    """One `dagster asset materialize` process, as a schedule's run worker would start it."""

    asset: str
    partition: str
    process: subprocess.Popen[str]
    log: Path

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as timeout:
            self.process.kill()
            message = f"{self.asset} {self.partition} still running:\n{self.output()}"
            raise AssertionError(message) from timeout

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def succeeded(self) -> bool:
        return self.wait() == 0


@contextmanager
def cli_runs(profile: Profile, folder: Path, *targets: tuple[str, str]) -> Iterator[list[CliRun]]:
    """Start one process per (asset, partition) at once; none outlives the block."""
    env = {**os.environ, **profile.env}
    runs = []
    try:
        for asset, partition in targets:
            log = folder / f"{asset.replace('/', '_')}-{partition}.log"
            command = [
                str(Path(sys.executable).parent / "dagster"),
                *("asset", "materialize", "-m", "payments_assets.definitions"),
                *("--select", asset, "--partition", partition),
                # one process per run, as a run worker; steps claim pool slots the same way
                *("--config-json", json.dumps({"execution": {"config": {"in_process": {}}}})),
            ]
            with log.open("w") as out:
                process = subprocess.Popen(
                    command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT, text=True
                )
            runs.append(CliRun(asset, partition, process, log))
        yield runs
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()


@contextmanager
def slot_held(instance: dg.DagsterInstance, pool: str) -> Iterator[Callable[[], None]]:
    """Take the pool's only slot (limit from deploy/dagster.yaml) for a live run; yields its
    release.

    The holder is a STARTED run of this test process on this host, as a run in flight is: the
    runs' pool watch frees slots of holders that are over or whose process is gone, so a holder
    with no run record would be freed within a second of the first run queueing behind it.
    """
    instance.add_run(
        dg.DagsterRun(
            job_name="pool_holder",
            run_id=HOLDER_RUN,
            status=dg.DagsterRunStatus.STARTED,
            tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
        )
    )
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(pool)
    assert storage.get_concurrency_info(pool).slot_count == 1
    assert storage.claim_concurrency_slot(pool, HOLDER_RUN, "holder").is_claimed
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            storage.free_concurrency_slot_for_step(HOLDER_RUN, "holder")

    try:
        yield release
    finally:
        release()
        instance.delete_run(HOLDER_RUN)


def wait_until_blocked(instance: dg.DagsterInstance, pool: str, runs: list[CliRun]) -> None:
    """Wait until the step of every run is queued on `pool`, waiting for a slot."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(instance.event_log_storage.get_concurrency_info(pool).pending_run_ids) < len(runs):
        for run in runs:
            assert run.process.poll() is None, f"{run.asset} ended early:\n{run.output()}"
        assert time.monotonic() < deadline, f"runs never queued on pool {pool}"
        time.sleep(0.5)


def step_window(instance: dg.DagsterInstance, partition: str, asset: str) -> tuple[float, float]:
    """When the step that materialized `asset` for `partition` started and finished."""
    key = dg.AssetKey.from_user_string(asset)
    [run] = [
        r
        for r in instance.get_runs()
        if r.tags.get("dagster/partition") == partition and key in (r.asset_selection or set())
    ]
    events = instance.all_logs(run.run_id)
    [step] = {
        e.step_key
        for e in events
        if e.dagster_event_type == "ASSET_MATERIALIZATION" and e.dagster_event.asset_key == key
    }
    times = {e.dagster_event_type: e.timestamp for e in events if e.step_key == step}
    return times["STEP_START"], times["STEP_SUCCESS"]


@dataclass(frozen=True)
class PoolScenario:
    """Two gateway runs and a billing run started together while a gateway run holds its slot."""

    profile: Profile
    gateway_windows: list[tuple[float, float]]
    billing_done_while_gateway_waited: bool
    released_at: float  # when the holder gave the slot back


@pytest.fixture(scope="module")
def pool_scenario(sandbox, postgres_server, tmp_path_factory) -> Iterator[PoolScenario]:
    folder = tmp_path_factory.mktemp("pools")
    profile = production_profile(postgres_server, sandbox, folder)
    gateway = [("gateway/transactions", "2026-10-05"), ("gateway/transactions", "2026-10-06")]
    billing = ("billing/invoices", "2026-10-05")
    with production_instance(profile) as instance:
        with (
            slot_held(instance, "gateway_api") as release,
            cli_runs(profile, folder, *gateway, billing) as (*gateway_runs, billing_run),
        ):
            wait_until_blocked(instance, "gateway_api", gateway_runs)
            assert billing_run.succeeded(), billing_run.output()
            waited = all(run.process.poll() is None for run in gateway_runs)
            released_at = time.time()
            release()  # the gateway runs now compete for the pool's one slot
            for run in gateway_runs:
                assert run.succeeded(), run.output()
        windows = [step_window(instance, partition, asset) for asset, partition in gateway]
        yield PoolScenario(profile, windows, waited, released_at)


def test_two_runs_of_one_provider_are_serialized_by_its_pool(pool_scenario):
    first, second = sorted(pool_scenario.gateway_windows)
    assert first[0] >= pool_scenario.released_at, "a gateway step ran while the slot was held"
    assert first[1] <= second[0], f"gateway steps overlapped: {first} and {second}"
    days = warehouse_rows(
        pool_scenario.profile.warehouse,
        "select count(distinct (updated_at at time zone 'UTC')::date) from gateway.transactions",
    )[0][0]
    assert days == 2


def test_runs_of_different_providers_overlap_and_both_land(pool_scenario):
    assert pool_scenario.billing_done_while_gateway_waited
    for table in ("gateway.transactions", "billing.invoices"):
        rows = warehouse_rows(pool_scenario.profile.warehouse, f"select count(*) from {table}")[0][
            0
        ]
        assert rows > 0, f"nothing landed in {table}"


# --- The shipped deploy files agree with each other and with the code location ---

REPO = DEPLOY.parent


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per Dockerfile instruction, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _workspace_module() -> str:
    [location] = _yaml(REPO / "workspace.yaml")["load_from"]
    return location["python_module"]


def test_production_instance_stores_in_postgres_queues_runs_and_pools_per_provider(
    sandbox, postgres_server, tmp_path
):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    with production_instance(production_profile(postgres_server, sandbox, tmp_path)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        pools = instance.event_log_storage.get_pool_config()
        assert (pools.default_pool_limit, pools.pool_granularity.value) == (1, "op")
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 8


def test_helm_values_mirror_the_production_instance():
    instance, values = _yaml(DEPLOY / "dagster.yaml"), _yaml(DEPLOY / "values.yaml")
    pools, runs = instance["concurrency"]["pools"], instance["concurrency"]["runs"]
    assert values["concurrency"] == {
        "enabled": True,
        "pools": {"defaultLimit": pools["default_limit"], "granularity": pools["granularity"]},
        "runs": {"maxConcurrentRuns": runs["max_concurrent_runs"]},
    }
    scheme = instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["postgresql"]["postgresqlScheme"] == scheme
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == instance["run_coordinator"]["class"]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", _workspace_module()]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["PAYMENTS_DESTINATION"] == "postgres"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_image_serves_the_code_location_the_workspaces_point_at():
    from dagster._core.workspace.config_schema import ensure_workspace_config

    instructions = _dockerfile()
    for name, arguments in instructions:
        if name == "COPY":
            *sources, _ = arguments.split()
            assert all((REPO / source).exists() for source in sources), arguments
    command = json.loads(next(args for name, args in instructions if name == "CMD"))
    assert command[command.index("-m") + 1] == _workspace_module()
    port = int(command[command.index("-p") + 1])
    assert ("EXPOSE", str(port)) in instructions
    deploy_workspace = _yaml(DEPLOY / "workspace.yaml")
    ensure_workspace_config(deploy_workspace, str(DEPLOY / "workspace.yaml"))
    [location] = deploy_workspace["load_from"]
    assert location["grpc_server"]["port"] == port


def test_image_build_context_packages_every_module_and_provider(tmp_path):
    """What the Dockerfile copies builds a wheel that holds the whole package (no file left out)."""
    context = tmp_path / "context"
    for name, arguments in _dockerfile():
        if name == "COPY" and not arguments.startswith("deploy/"):
            *sources, target = arguments.split()
            for source in sources:
                # Docker's rule: into a directory when the target ends in "/", else as the target
                destination = context / target
                if target.endswith("/"):
                    destination = destination / Path(source).name
                if (REPO / source).is_dir():
                    shutil.copytree(
                        REPO / source, destination, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(REPO / source, destination)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(context)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("payments_assets-*.whl")
    packaged = {
        name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("payments_assets/")
    }
    source = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "payments_assets").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert source <= packaged, sorted(source - packaged)
