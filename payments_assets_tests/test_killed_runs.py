"""A killed run never blocks the next one: `dagster asset materialize` killed with SIGKILL (an OOM
kill, a lost VM, a closed laptop) during the extract, the load into DuckDB or the staging SQL; the
rerun holds the warehouse's writer within seconds, says nothing about waiting, and ends with the
tables of a clean run. And a run that does wait on the writer says for whom, within seconds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from payments_assets.assets.ingest import ingest_assets
from payments_assets.sandbox import SandboxHandle, running_sandbox
from payments_assets.specs import ProviderSpec, load_providers
from payments_assets.writer_lock import Holder, lock_path, read_holder, writer_lock

from .conftest import SANDBOX_DEFAULTS
from .test_postgres import Profile, production_instance, production_profile
from .warehouse_fixtures import query, rows_in_sandbox, warehouse_rows

DAGSTER = Path(sys.executable).parent / "dagster"
ROOT = Path(__file__).parents[1]
RANGE = "2026-10-01...2026-10-30"
RUN_TIMEOUT = 180.0
RERUN_HOLDS_WRITER_WITHIN = 30.0  # the CLI's own start (imports, definitions) is most of it
WAITING = "Waiting"


def _billing() -> ProviderSpec:
    return next(spec for spec in load_providers() if spec.name == "billing")


RAW = ",".join(f"billing/{view.name}" for view in _billing().windowed)
STAGING = ",".join(f"staging/billing__{view.name}" for view in _billing().windowed)


@dataclass
class Home:
    """A Dagster home (the project's dagster.yaml) and one warehouse, as a user's machine."""

    folder: Path
    sandbox: SandboxHandle
    database: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.sandbox.env,
            "DAGSTER_HOME": str(self.folder / "home"),
            "PAYMENTS_DESTINATION": "duckdb",
            "PAYMENTS_DUCKDB_PATH": str(self.database),
            "PAYMENTS_DLT_WORKDIR": str(self.folder / "dlt"),
            "PAYMENTS_WEBHOOK_DB": str(self.folder / "webhooks.sqlite"),
        }

    def materialize(self, select: str, name: str, partitioned: bool = True) -> subprocess.Popen:
        """`dagster asset materialize` in one process (its own process group), logged to a file."""
        args = [str(DAGSTER), "asset", "materialize", "-m", "payments_assets.definitions"]
        args += ["--select", select, *(["--partition-range", RANGE] if partitioned else [])]
        args += ["--config-json", '{"execution": {"config": {"in_process": {}}}}']
        with (self.folder / f"{name}.log").open("ab") as sink:
            return subprocess.Popen(
                args,
                env=self.env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def finish(self, process: subprocess.Popen, name: str) -> None:
        try:
            code = process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"{name} still running:\n{self.log(name)[-3000:]}") from None
        assert code == 0, self.log(name)[-3000:]


def _home(folder: Path, sandbox: SandboxHandle) -> Home:
    (folder / "home").mkdir(parents=True)
    (folder / "home" / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    return Home(folder, sandbox, folder / "warehouse.duckdb")


def _tables(database: Path, schema: str, names: list[str]) -> dict[str, list[tuple]]:
    """Every row of each table, without dlt's load bookkeeping, in a stable order."""
    tables = {}
    for name in names:
        columns = sorted(
            row[0]
            for row in query(database, f'describe {schema}."{name}"')
            if row[0] not in ("_dlt_id", "_dlt_load_id", "_loaded_at", "_staged_at")
        )
        listed = ", ".join(f'"{column}"' for column in columns)
        tables[name] = query(database, f'select {listed} from {schema}."{name}" order by all')
    return tables


def _raw(database: Path) -> dict[str, list[tuple]]:
    """Billing's windowed tables, and each invoice's lines keyed by the invoice's id."""
    tables = _tables(database, "billing", [view.name for view in _billing().windowed])
    tables["invoices__lines"] = query(
        database,
        "select i.id, l._dlt_list_idx, l.description, l.amount from billing.invoices__lines l "
        "join billing.invoices i on l._dlt_parent_id = i._dlt_id order by 1, 2",
    )
    return tables


def _staged(database: Path) -> dict[str, list[tuple]]:
    return _tables(database, "staging", [f"billing__{view.name}" for view in _billing().windowed])


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[SandboxHandle]:
    """1,500 records a resource, 0.1 s a page: a billing load takes seconds, long enough to kill
    it in each phase."""
    with running_sandbox(**{**SANDBOX_DEFAULTS, "records": 1500, "latency_ms": 100}) as handle:
        yield handle


@pytest.fixture(scope="module")
def clean(slow_sandbox, tmp_path_factory) -> Home:
    """Billing loaded and staged by runs nobody killed: the tables every rerun must end with."""
    home = _home(tmp_path_factory.mktemp("clean"), slow_sandbox)
    home.finish(home.materialize(RAW, "raw"), "raw")
    home.finish(home.materialize(STAGING, "staging", partitioned=False), "staging")
    return home


def _kill_when(process: subprocess.Popen, happened: Callable[[], bool]) -> None:
    """SIGKILL the run's whole process group the moment `happened()` (polled every 10 ms)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while not happened():
        assert process.poll() is None, "the run ended before the moment to kill it"
        assert time.monotonic() < deadline, "the moment to kill the run never came"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def _seconds_until_holding(home: Home, process: subprocess.Popen) -> float:
    """How long after its start the rerun's process holds the warehouse's writer."""
    started = time.monotonic()
    while (holder := read_holder(lock_path(home.database))) is None or holder.pid != process.pid:
        assert process.poll() is None, "the rerun ended without taking the writer"
        assert time.monotonic() - started < RUN_TIMEOUT
        time.sleep(0.05)
    return time.monotonic() - started


def _loading(home: Home) -> Callable[[], bool]:
    """True once dlt has loaded at least one file of the package into DuckDB."""
    return lambda: any((home.folder / "dlt").glob("*/*/load/normalized/*/completed_jobs/*.*"))


def _rerun_is_exact(home: Home, clean: Home, select: str, partitioned: bool = True) -> None:
    rerun = home.materialize(select, "rerun", partitioned)
    waited = _seconds_until_holding(home, rerun)
    home.finish(rerun, "rerun")
    assert waited < RERUN_HOLDS_WRITER_WITHIN, f"the rerun took {waited:.1f} s to start"
    assert WAITING not in home.log("rerun"), "the killed run's lock was freed by the kernel"
    assert _raw(home.database) == _raw(clean.database)


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_killed_run_during_extract_does_not_block_the_rerun_which_ends_exact(
    slow_sandbox, clean, tmp_path
):
    home = _home(tmp_path, slow_sandbox)
    slow_sandbox.reset_stats()
    killed = home.materialize(RAW, "killed")
    _kill_when(killed, lambda: slow_sandbox.stats()["requests_total"] >= 30)
    assert not (tmp_path / "warehouse.duckdb").exists() or not _loading(home)()

    _rerun_is_exact(home, clean, RAW)


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_killed_run_during_load_into_duckdb_does_not_block_the_rerun_which_ends_exact(
    slow_sandbox, clean, tmp_path
):
    home = _home(tmp_path, slow_sandbox)
    killed = home.materialize(RAW, "killed")
    _kill_when(killed, _loading(home))
    assert "STEP_SUCCESS" not in home.log("killed")

    _rerun_is_exact(home, clean, RAW)


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_killed_run_during_staging_sql_does_not_block_the_rerun_which_ends_exact(
    slow_sandbox, clean, tmp_path
):
    home = _home(tmp_path, slow_sandbox)
    home.finish(home.materialize(RAW, "raw"), "raw")
    killed = home.materialize(STAGING, "killed", partitioned=False)

    def staging_holds_the_writer() -> bool:
        holder = read_holder(lock_path(home.database))
        return holder is not None and holder.pid == killed.pid

    _kill_when(killed, staging_holds_the_writer)
    assert "STEP_SUCCESS" not in home.log("killed")

    _rerun_is_exact(home, clean, STAGING, partitioned=False)
    assert _staged(home.database) == _staged(clean.database)


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_a_run_waiting_on_the_writer_says_who_holds_it_within_seconds(sandbox, tmp_path):
    home = _home(tmp_path, sandbox)
    holder_code = (
        "import sys, time\n"
        "from payments_assets.writer_lock import writer_lock\n"
        "with writer_lock(sys.argv[1], 'holder-run', print):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(float(sys.argv[2]))\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, str(home.database), "600"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = home.materialize("billing/invoices", "waiting")
        noticed = threading.Event()

        def watch() -> None:
            while waiting.poll() is None and not noticed.is_set():
                if WAITING in home.log("waiting"):
                    noticed.set()
                time.sleep(0.1)

        started = time.monotonic()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert noticed.wait(timeout=60), home.log("waiting")[-3000:]
        said_within = time.monotonic() - started
        assert waiting.poll() is None, "the run waits while the writer is held"
    finally:
        holder.kill()
        holder.wait()
    home.finish(waiting, "waiting")

    log = home.log("waiting")
    assert f"held by run holder-run (pid {holder.pid} on " in log
    assert f"`kill {holder.pid}`" in log
    assert said_within < 30, "the CLI's start and the first notice, 2 s after it waits"
    [(rows,)] = query(home.database, "select count(*) from billing.invoices")
    assert rows > 0


# --- The Postgres profile: pools `<provider>_api` in Dagster's Postgres storage ---

GATEWAY = "gateway/transactions,gateway/list_payments"


def _gateway_counts(profile: Profile) -> dict[str, tuple[int, int]]:
    return {
        f"gateway/{name}": tuple(
            warehouse_rows(
                profile.warehouse, f"select count(*), count(distinct id) from gateway.{name}"
            )[0]
        )
        for name in ("transactions", "list_payments")
    }


@pytest.mark.e2e
@pytest.mark.timeout(420)
@pytest.mark.parametrize("phase", ["extract", "load"])
def test_killed_run_on_postgres_frees_its_pool_slot_for_the_rerun_which_ends_exact(
    slow_sandbox, postgres_server, tmp_path, phase
):
    profile = production_profile(postgres_server, slow_sandbox, tmp_path)
    home = Home(tmp_path, slow_sandbox, tmp_path / "unused.duckdb")
    env = {**os.environ, **profile.env}

    def materialize(name: str) -> subprocess.Popen:
        args = [str(DAGSTER), "asset", "materialize", "-m", "payments_assets.definitions"]
        args += ["--select", GATEWAY, "--partition-range", RANGE]
        args += ["--config-json", '{"execution": {"config": {"in_process": {}}}}']
        with (tmp_path / f"{name}.log").open("ab") as sink:
            return subprocess.Popen(
                args, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip

    slow_sandbox.reset_stats()
    killed = materialize("killed")
    if phase == "extract":
        _kill_when(killed, lambda: slow_sandbox.stats()["requests_total"] >= 10)
    else:
        _kill_when(killed, _loading(home))

    with production_instance(profile) as instance:
        [dead] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        holding = instance.event_log_storage.get_concurrency_info("gateway_api").active_run_ids
        assert dead.run_id in holding, "the killed run kept its pool slot"

        slow_sandbox.reset_stats()
        started = time.monotonic()
        rerun = materialize("rerun")
        while slow_sandbox.stats()["requests_total"] == 0:
            assert rerun.poll() is None, home.log("rerun")[-3000:]
            assert time.monotonic() - started < RUN_TIMEOUT
            time.sleep(0.05)
        first_request = time.monotonic() - started
        home.finish(rerun, "rerun")

        assert first_request < RERUN_HOLDS_WRITER_WITHIN, f"the rerun took {first_request:.1f} s"
        assert f"Freed pool gateway_api's slots held by run {dead.run_id}" in home.log("rerun")
        dead = instance.get_run_by_id(dead.run_id)
        assert dead is not None and dead.status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("gateway_api").active_run_ids
    expected = rows_in_sandbox(slow_sandbox, load_providers(), 1500)
    assert _gateway_counts(profile) == {name: expected[name] for name in _gateway_counts(profile)}


# --- The lock itself, and which steps use what ---


def test_killed_run_holding_the_writer_lock_frees_it_at_once(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    holder_code = (
        "import sys, time\n"
        "from payments_assets.writer_lock import writer_lock\n"
        "with writer_lock(sys.argv[1], 'doomed-run', print):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, str(database)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    assert read_holder(lock_path(database)) == Holder(
        "doomed-run", holder.pid, socket.gethostname(), read_holder(lock_path(database)).since
    )
    notices: list[str] = []
    killer = threading.Timer(3.0, lambda: os.kill(holder.pid, signal.SIGKILL))
    killer.start()
    started = time.monotonic()
    with writer_lock(database, "next-run", notices.append), writer_lock(database, None, print):
        waited = time.monotonic() - started  # nested: the same process holds it once
        assert read_holder(lock_path(database)).run_id == "next-run"
    holder.wait()
    assert 3.0 <= waited < 5.0, "taken within a poll of the holder's death"
    assert len(notices) == 1 and f"held by run doomed-run (pid {holder.pid} on " in notices[0]


def test_on_duckdb_no_step_waits_on_a_pool_and_on_postgres_each_provider_has_its_own():
    specs = load_providers()
    on_duckdb = [asset.op.pool for asset in ingest_assets(specs, "duckdb")]
    on_postgres = {asset.op.pool for asset in ingest_assets(specs, "postgres")}
    assert on_duckdb == [None] * len(on_duckdb)
    assert on_postgres == {f"{spec.name}_api" for spec in specs}


# Run monitoring: a killed run gives back its place in the run queue ----------------------------


@pytest.fixture
def project_instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """An instance from the project's own dagster.yaml (its run launcher and monitoring)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).parents[1] / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.kill()
    child.wait()
    return child.pid


def test_killed_run_is_failed_by_run_monitoring_and_frees_its_queue_place(project_instance):
    """A STARTED run whose process is gone (what SIGKILL leaves) is failed by the monitoring
    daemon's check, so it no longer counts against `max_concurrent_runs`; a live run, a run on
    another host and a run that has not tagged its process yet are left alone."""
    import logging

    from dagster._core.launcher.base import WorkerStatus
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, RunsFilter
    from dagster._core.test_utils import create_run_for_test
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    from payments_assets.automation.executor import HOST_TAG, PID_TAG
    from payments_assets.automation.run_launcher import LocalRunLauncher

    instance = project_instance
    assert isinstance(instance.run_launcher, LocalRunLauncher)
    assert instance.run_monitoring_enabled
    here, dead = socket.gethostname(), _dead_pid()
    tags = {
        "killed": {PID_TAG: str(dead), HOST_TAG: here},
        "alive": {PID_TAG: str(os.getpid()), HOST_TAG: here},
        "elsewhere": {PID_TAG: str(dead), HOST_TAG: here + "-other"},
        "untagged": {},
    }
    runs = {
        name: create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED, tags=run_tags)
        for name, run_tags in tags.items()
    }
    in_progress = RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)
    assert instance.get_runs_count(in_progress) == 4
    health = {
        name: instance.run_launcher.check_run_worker_health(run) for name, run in runs.items()
    }
    assert health["killed"].status == WorkerStatus.FAILED
    assert {health[name].status for name in ("alive", "elsewhere", "untagged")} == {
        WorkerStatus.RUNNING
    }

    for run in runs.values():
        record = instance.get_run_record_by_id(run.run_id)
        monitor_started_run(instance, None, record, logging.getLogger("monitoring"))
    statuses = {name: instance.get_run_by_id(run.run_id).status for name, run in runs.items()}
    assert statuses == {
        "killed": dg.DagsterRunStatus.FAILURE,
        "alive": dg.DagsterRunStatus.STARTED,
        "elsewhere": dg.DagsterRunStatus.STARTED,
        "untagged": dg.DagsterRunStatus.STARTED,
    }
    assert instance.get_runs_count(in_progress) == 3
    [failure] = instance.all_logs(runs["killed"].run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert f"({dead} on {here}) is gone" in failure.message
