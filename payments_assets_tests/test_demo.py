"""What `make demo` starts, end to end: the sandbox, the webhook receiver, the history load and
`dg dev` — after which automation alone, with no run launched by hand, builds the marts and
exports. Bounded in time; every process of the demo is stopped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests
from dagster._core.instance.ref import InstanceRef

from payments_assets.loopback import free_port, stop_group

from .test_definitions import shape

pytestmark = pytest.mark.e2e  # subprocesses and servers: skipped by `-m "not e2e"`

ROOT = Path(__file__).parents[1]
DEADLINE_SECONDS = 420


def _built_by_automation(home: Path, keys: list[dg.AssetKey]) -> dict[str, str]:
    """Asset → the sensor whose run materialized it last (only those materialized so far)."""
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        found = {}
        for key, event in instance.get_latest_materialization_events(keys).items():
            if event is None:
                continue
            run = instance.get_run_by_id(event.run_id)
            found[key.to_user_string()] = run.tags.get("dagster/sensor_name", "") if run else ""
        return found


@pytest.mark.timeout(DEADLINE_SECONDS + 60)
def test_the_demo_builds_marts_and_exports_by_automation_alone(tmp_path):
    from payments_assets.definitions import defs

    downstream = [
        dg.AssetKey.from_user_string(key)
        for key in shape(defs)["assets"]
        if key.split("/")[0] in ("staging", "marts", "exports")
    ]
    home, port = tmp_path / "dagster_home", free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")},
        "DAGSTER_HOME": str(home),
        "PAYMENTS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "PAYMENTS_DLT_WORKDIR": str(tmp_path / "dlt"),
        "PAYMENTS_EXPORT_DIR": str(tmp_path / "exports"),
        "PAYMENTS_WEBHOOK_DB": str(tmp_path / "webhooks.sqlite"),
    }
    log = tmp_path / "demo.log"
    demo = [str(Path(sys.executable).parent / "payments-demo"), "--records", "40", "--days", "3"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*demo, "--ui-port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the demo's own children (sandbox, receiver, dg) with it
        )
    built: dict[str, str] = {}
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(5)
            if (home / "storage").exists():
                built = _built_by_automation(home, downstream)
            if len(built) == len(downstream):
                break
        answer = requests.get(f"http://127.0.0.1:{port}/server_info", timeout=10)
    finally:
        stop_group(process, timeout=30)
    output = log.read_text(errors="replace")
    assert answer.ok, output[-3000:]
    missing = sorted({key.to_user_string() for key in downstream} - set(built))
    assert not missing, f"never materialized: {missing}\n{output[-3000:]}"
    assert set(built.values()) == {"payments_automation"}, built
    # With DAGSTER_HOME set to another folder, as here, Dagster says (truly) that the project's
    # dagster.yaml is not read from the current folder: the demo copied it into that home. The
    # quiet default is `make demo`'s, whose home is the project folder (the test below).
    ignored = "Found a dagster instance configuration value"
    assert output.count(ignored) <= 1 and str(home) in output.split(ignored)[-1][:400]
    assert "SupersessionWarning" not in output and "Use 'dg dev' instead" not in output


def test_make_demo_runs_dg_dev_in_its_own_dagster_home(monkeypatch, tmp_path):
    """Dagster warns of an ignored dagster.yaml only when the folder `dg dev` runs in (the project
    folder) is not DAGSTER_HOME. With none set, `make demo`'s home is that folder, holding the
    versioned dagster.yaml; a home set elsewhere gets a copy of it."""
    from payments_assets import demo

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert demo._dagster_home() == ROOT.resolve() and (ROOT / "dagster.yaml").is_file()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    copied = demo._dagster_home() / "dagster.yaml"
    assert copied.read_text() == (ROOT / "dagster.yaml").read_text()
