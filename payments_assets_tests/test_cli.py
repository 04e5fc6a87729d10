"""Both Dagster CLIs work on the code location, headless, against the sandbox: `dg` (Dagster's
current CLI, reading `[tool.dg]` in pyproject) and the classic `dagster` (reading workspace.yaml).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from payments_assets.specs import load_providers

from .warehouse_fixtures import query

pytestmark = pytest.mark.e2e  # subprocesses and servers: skipped by `-m "not e2e"`

BIN = Path(sys.executable).parent
MODULE = "payments_assets.definitions"


def _run(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).parents[1],
    )


def _materialize(
    selection: str, *partitions: str, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """`dagster asset materialize -m <definitions> --select selection [partition options]`."""
    args = [str(BIN / "dagster"), "asset", "materialize", "-m", MODULE, "--select", selection]
    return _run([*args, *partitions], env)


@pytest.fixture
def cli_env(sandbox, tmp_path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).parents[1] / "dagster.yaml").read_text())
    return {
        **os.environ,
        **sandbox.env,
        "DAGSTER_HOME": str(home),
        "PAYMENTS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "PAYMENTS_DLT_WORKDIR": str(tmp_path / "dlt"),
    }


def test_definitions_validate(cli_env):
    result = _run([str(BIN / "dagster"), "definitions", "validate", "-m", MODULE], cli_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful" in result.stdout + result.stderr


def test_definitions_import_makes_no_network_call(tmp_path):
    guard = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise RuntimeError(f'network call at import: {args}')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        f"import {MODULE} as d\n"
        "print(len(list(d.defs.resolve_asset_graph().get_all_asset_keys())))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env["PAYMENTS_DUCKDB_PATH"] = str(tmp_path / "never-created.duckdb")
    result = _run([sys.executable, "-c", guard], env, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) >= 16
    assert not (tmp_path / "never-created.duckdb").exists(), "no warehouse work at import"


def test_materialize_a_provider_group_for_one_partition(cli_env):
    result = _materialize("group:billing", "--partition", "2026-10-05", env=cli_env)
    assert result.returncode == 0, result.stderr[-3000:]
    [(rows,)] = query(Path(cli_env["PAYMENTS_DUCKDB_PATH"]), "select count(*) from billing.charges")
    assert rows > 0


def _runs(env: dict[str, str]) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        return list(instance.get_runs())


def test_materialize_a_partition_range_as_one_run(cli_env):
    # A provider's group over a range: the README's backfill command, classic CLI.
    result = _materialize(
        "group:direct_debit", "--partition-range", "2026-10-01...2026-10-03", env=cli_env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = _runs(cli_env)
    assert run.tags["dagster/asset_partition_range_start"] == "2026-10-01"
    assert run.tags["dagster/asset_partition_range_end"] == "2026-10-03"
    [(rows, first, last)] = query(
        Path(cli_env["PAYMENTS_DUCKDB_PATH"]),
        "select count(*), min(updated_at)::date, max(updated_at)::date from direct_debit.payments",
    )
    assert rows > 0
    assert (str(first), str(last)) >= ("2026-10-01", "2026-10-01")
    assert str(last) <= "2026-10-03"


def _dg(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run([str(BIN / "dg"), *args], env)


def test_dg_check_defs(cli_env):
    result = _dg(["check", "defs"], cli_env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_list_defs_shows_every_asset_job_schedule_and_sensor(cli_env):
    result = _dg(["list", "defs", "--json"], cli_env)
    assert result.returncode == 0, result.stderr[-3000:]
    listed = json.loads(result.stdout)
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert {"billing/charges", "staging/billing__charges", "marts/daily_revenue"} <= keys
    assert {"billing_windowed_job", "gateway_snapshot_job"} <= {j["name"] for j in listed["jobs"]}
    assert "billing_ingest_schedule" in {s["name"] for s in listed["schedules"]}
    assert "payments_automation" in {s["name"] for s in listed["sensors"]}


@pytest.mark.parametrize("provider", sorted(spec.name for spec in load_providers()))
def test_a_providers_whole_group_backfills_with_one_dg_launch(cli_env, provider):
    """`dg launch --assets group:<provider> --partition-range A...B`: one run, snapshots included
    (loaded once), every windowed resource read for exactly that range."""
    spec = next(spec for spec in load_providers() if spec.name == provider)
    result = _dg(
        ["launch", "--assets", f"group:{provider}", "--partition-range", "2026-10-01...2026-10-03"],
        cli_env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    [run] = _runs(cli_env)
    assert run.is_success
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(cli_env["DAGSTER_HOME"])) as instance:
        for view in spec.views:
            key = dg.AssetKey([provider, view.name])
            loads = instance.fetch_materializations(key, limit=10).records
            if view.windowed:
                partitions = sorted(record.partition_key for record in loads)
                assert partitions == ["2026-10-01", "2026-10-02", "2026-10-03"], key
            else:
                assert len(loads) == 1 and loads[0].partition_key is None, key
    database = Path(cli_env["PAYMENTS_DUCKDB_PATH"])
    for view in spec.windowed:
        [(first, last)] = query(
            database,
            f'select min("{view.cursor_column}"), max("{view.cursor_column}") '
            f'from {provider}."{view.name}"',
        )
        assert str(first)[:10] >= "2026-10-01" and str(last)[:10] <= "2026-10-03", view.name
