"""The standard Dagster CLI works on the code location, headless, against the sandbox."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .warehouse_fixtures import query

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


def test_materialize_a_partition_range_as_one_run(cli_env):
    # A provider's group over a range: the README's backfill command.
    result = _materialize(
        "group:direct_debit", "--partition-range", "2026-10-01...2026-10-03", env=cli_env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [(rows, first, last)] = query(
        Path(cli_env["PAYMENTS_DUCKDB_PATH"]),
        "select count(*), min(updated_at)::date, max(updated_at)::date from direct_debit.payments",
    )
    assert rows > 0
    assert (str(first), str(last)) >= ("2026-10-01", "2026-10-01")
    assert str(last) <= "2026-10-03"
