"""A new user's first hour, the fast parts: what the demo does before and after its children run
(refusing to start beside another demo, its `.env`, stopping a whole process group), and what
the UI shows (webhook events that materialize). The demo itself, end to end, is in test_demo.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.metadata import normalize_metadata
from dotenv import dotenv_values

from payments_assets.assets.webhook_events import webhook_event_assets
from payments_assets.demo_children import ChildGroup, group_members
from payments_assets.demo_dotenv import remove_dotenv, write_dotenv
from payments_assets.demo_guard import DemoRecord, DemoRefused, refuse_if_busy
from payments_assets.loopback import free_port
from payments_assets.resources import Warehouse, WebhookEventStore
from payments_assets.specs import load_providers

from .warehouse_fixtures import query
from .webhook_fixtures import evaluate_sensor, make_event, post_event

SLEEPERS = "sleep 300 & sleep 300 & wait"
"""A child that spawns grandchildren, as `dg dev` spawns a webserver and a daemon."""


def test_stopping_the_demos_group_stops_grandchildren_too():
    group = ChildGroup()
    first = group.popen(["sh", "-c", SLEEPERS])
    second = group.popen(["sh", "-c", SLEEPERS])
    assert os.getpgid(second.pid) == first.pid == group.pgid
    time.sleep(0.3)
    assert len(group_members(first.pid)) == 6  # two shells, four sleeps
    started = time.monotonic()
    group.stop(timeout=5)
    assert group_members(first.pid) == []
    assert first.returncode is not None and second.returncode is not None
    assert time.monotonic() - started < 5


def test_a_group_that_ignores_sigterm_is_killed_after_the_timeout():
    group = ChildGroup()
    group.popen(["sh", "-c", "trap '' TERM; sleep 300 & wait"])
    time.sleep(0.3)
    group.stop(timeout=1)
    assert group_members(group.pgid or 0) == []


def test_a_running_demos_record_refuses_a_second_demo(tmp_path):
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    record = tmp_path / "demo.json"
    try:
        DemoRecord(pid=999_999_999, process_group=sleeper.pid, ui_port=3000).save(record)
        with pytest.raises(DemoRefused, match=f"kill -TERM -{sleeper.pid}"):
            refuse_if_busy(record, free_port())
    finally:
        sleeper.kill()
        sleeper.wait()
    refuse_if_busy(record, free_port())  # the demo and its group are gone: a stale record


def test_a_busy_ui_port_refuses_the_demo(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(DemoRefused, match=f"port {port} on 127.0.0.1 is busy"):
            refuse_if_busy(tmp_path / "demo.json", port)


def test_the_refusal_comes_before_anything_starts(tmp_path):
    """`payments-demo` with its UI port taken: exit 2 and one line, in well under a second of
    work (no sandbox, no receiver, no history)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "payments_assets.demo", "--ui-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DAGSTER_HOME": str(tmp_path / "home")},
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("payments-demo: not starting: port")
    assert not (tmp_path / "home").exists()


def test_the_demos_dotenv_is_written_and_removed_but_a_users_own_is_left_alone(tmp_path):
    dotenv = tmp_path / ".env"
    assert write_dotenv(dotenv, {"DAGSTER_HOME": "/x/home", "PAYMENTS_BILLING_API_KEY": "k=1 #2"})
    assert dotenv_values(dotenv) == {
        "DAGSTER_HOME": "/x/home",
        "PAYMENTS_BILLING_API_KEY": "k=1 #2",
    }
    assert dotenv.stat().st_mode & 0o077 == 0
    remove_dotenv(dotenv)
    assert not dotenv.exists()

    dotenv.write_text("PAYMENTS_BILLING_API_KEY=mine\n")
    assert not write_dotenv(dotenv, {"DAGSTER_HOME": "/x/home"})
    remove_dotenv(dotenv)
    assert dotenv.read_text() == "PAYMENTS_BILLING_API_KEY=mine\n"


def test_the_dotenv_is_ignored_by_git():
    root = Path(__file__).parents[1]
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=root)
    assert ignored.returncode == 0


def test_a_webhook_makes_its_providers_events_asset_materialize(
    instance, receiver, receiver_store, tmp_path
):
    """`<provider>/webhook_events` is not left "Never materialized": its sensor asks for a run
    once the inbox holds an event it has not seen, and only then."""
    sensor = "direct_debit_webhook_events_sensor"
    event = make_event("direct_debit", "payments", {"id": "pm_newcomer", "amount": 100})
    assert post_event(receiver, "direct_debit", event).status_code == 200
    first = evaluate_sensor(instance, sensor, receiver_store.path)
    [request] = first.run_requests
    assert request.asset_selection == [dg.AssetKey(["direct_debit", "webhook_events"])]
    assert first.cursor == str(receiver_store.last_row_id("direct_debit"))
    idle = evaluate_sensor(instance, sensor, receiver_store.path, cursor=first.cursor)
    assert idle.run_requests == [] and "no direct_debit event after row" in idle.skip_message

    [asset] = [
        a
        for a in webhook_event_assets(load_providers(), "duckdb")
        if a.key == request.asset_selection[0]
    ]
    database = tmp_path / "warehouse.duckdb"
    resources = {
        "warehouse": Warehouse(duckdb_path=str(database), workdir=str(tmp_path / "dlt")),
        "webhook_store": WebhookEventStore(path=str(receiver_store.path)),
    }
    assert dg.materialize([asset], resources=resources, instance=instance).success
    [(rows,)] = query(database, "select count(*) from direct_debit.webhook_events")
    assert rows == receiver_store.count("direct_debit") >= 1


def test_raw_asset_metadata_holds_only_values_the_ui_can_show():
    """No `dagster_dlt/source: (unserializable)`, no `dagster_dlt/pipeline: null`."""
    from payments_assets.definitions import defs

    for spec in defs.resolve_all_asset_specs():
        normalized = normalize_metadata(spec.metadata)  # raises on an unserializable value
        assert not [key for key in normalized if key.startswith("dagster_dlt/")], spec.key
        assert not [k for k, v in normalized.items() if v.value is None], spec.key


def test_a_raw_materialization_shows_its_columns_described_and_no_working_files(loader):
    """The run's metadata: no `jobs` list of deleted dlt files; every column of billing's
    invoices described, from the YAML, the dialect (amounts, currency, keys) or dlt's own."""
    result = loader.partition("2026-10-05", providers=["billing"])
    [invoices] = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["billing", "invoices"])
    ]
    metadata = invoices.materialization.metadata
    assert "jobs" not in metadata and metadata["rows_loaded"].value > 0
    columns = {c.name: c for c in metadata["dagster/column_schema"].value.columns}
    assert columns["amount_due"].description == (
        "What the customer owes on the invoice, in minor units."
    )
    assert "ISO 4217" in columns["currency"].description
    assert columns["id"].description == "Primary key of billing invoices (rows merge on it)."
    assert columns["_dlt_load_id"].description.startswith("The dlt load")
    assert not [c for c in columns.values() if "description" in c.constraints.other]


@pytest.mark.e2e
def test_dg_scaffold_defs_adds_an_asset_to_a_copy_of_the_project(tmp_path):
    """The standard way to add a Dagster object to a dg project works here: the new file lands
    in payments_assets/defs/, and `dg check defs` and `dg list defs` see it."""
    root = Path(__file__).parents[1]
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if name.startswith(("payments_assets/", "pyproject.toml", "dagster.yaml")):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes((root / name).read_bytes())
    dg_cli = str(Path(sys.executable).parent / "dg")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [dg_cli, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    scaffolded = run("scaffold", "defs", "dagster.asset", "probe.py")
    assert scaffolded.returncode == 0, scaffolded.stderr[-2000:]
    assert (tmp_path / "payments_assets" / "defs" / "probe.py").is_file()
    checked = run("check", "defs")
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = run("list", "defs", "--json")
    keys = {asset["asset_key"] for asset in json.loads(listed.stdout)["assets"]}
    assert {"probe", "billing/charges"} <= keys
