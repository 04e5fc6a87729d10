"""What `make demo` starts, end to end: the sandbox, the webhook receiver, the history load and
`dg dev` — after which automation alone, with no run launched by hand, builds the marts and
exports — and how it stops: a signal, at any moment, leaves no child alive; a second demo is
refused before it loads anything; a second terminal reaches the demo through its `.env`.
Bounded in time; every process of the demo is stopped at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests
from dagster._core.instance.ref import InstanceRef
from dotenv import dotenv_values

from payments_assets.loopback import free_port, stop_group
from payments_assets.sandbox.credentials import BILLING_API_KEY

from .test_definitions import shape

pytestmark = pytest.mark.e2e  # subprocesses and servers: skipped by `-m "not e2e"`

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
DEADLINE_SECONDS = 420


def git_ignores(path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0


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


class Demo:
    """A `payments-demo` started as `make demo` would, with its instance and warehouse in a
    temporary folder; its own session, so the test can tell its processes from its own."""

    def __init__(self, folder: Path, port: int, *extra: str) -> None:
        self.folder, self.port = folder, port
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")},
            "DAGSTER_HOME": str(folder / "dagster_home"),
            "PAYMENTS_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
            "PAYMENTS_DLT_WORKDIR": str(folder / "dlt"),
            "PAYMENTS_EXPORT_DIR": str(folder / "exports"),
            "PAYMENTS_WEBHOOK_DB": str(folder / "webhooks.sqlite"),
        }
        self.log = folder / "demo.log"
        command = [str(BIN / "payments-demo"), "--records", "40", "--days", "3"]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [*command, "--ui-port", str(port), *extra],
                env=self.env,
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, self.output()[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in time:\n{self.output()[-3000:]}"
            time.sleep(0.2)

    def processes(self) -> set[int]:
        """The demo and every process under it (children, dg's webserver, daemon, code servers)."""
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
        found, grown = {self.process.pid}, True
        while grown:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            found |= more
            grown = bool(more)
        return found

    def signal_and_wait(self, signum: int, timeout: float = 60) -> set[int]:
        """Signal the demo alone (not its group, as `kill <pid>` does); the processes it had."""
        had = self.processes()
        os.kill(self.process.pid, signum)
        self.process.wait(timeout)
        return had - {self.process.pid}

    def stop(self) -> None:
        stop_group(self.process, timeout=30)


def _alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie waiting for its reaper holds nothing)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    """One demo with its UI up, shared by the tests that look at it while it runs."""
    running = Demo(tmp_path_factory.mktemp("demo"), free_port())
    try:
        running.wait_for("Dagster UI on")
        yield running
    finally:
        running.stop()


def test_a_second_demo_is_refused_before_it_loads_anything(demo, tmp_path):
    started = time.monotonic()
    second = subprocess.run(
        [str(BIN / "payments-demo"), "--ui-port", str(free_port())],
        env={**demo.env, "DAGSTER_HOME": str(tmp_path / "home")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2, second.stdout + second.stderr
    assert "a previous demo is still running" in second.stderr
    assert f"pid {demo.process.pid}" in second.stderr
    assert second.stdout == "" and not (tmp_path / "home").exists()  # nothing started or loaded
    assert time.monotonic() - started < 20


def test_a_demo_is_refused_when_its_ui_port_is_taken(demo, tmp_path):
    """The running demo's UI port, as a previous demo's orphaned UI would hold it."""
    record = ROOT / "data" / "demo.json"
    saved = record.read_text()
    record.unlink()  # as if the UI were someone else's
    try:
        second = subprocess.run(
            [str(BIN / "payments-demo"), "--ui-port", str(demo.port)],
            env={**demo.env, "DAGSTER_HOME": str(tmp_path / "home")},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        record.write_text(saved)
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"port {demo.port} on 127.0.0.1 is busy" in second.stderr
    assert f"UI_PORT={demo.port + 1}" in second.stderr


def test_the_demo_writes_its_variables_to_dotenv_for_a_second_terminal(demo):
    written = dotenv_values(ROOT / ".env")
    assert written["DAGSTER_HOME"] == demo.env["DAGSTER_HOME"]
    assert written["PAYMENTS_DUCKDB_PATH"] == demo.env["PAYMENTS_DUCKDB_PATH"]
    assert written["PAYMENTS_BILLING_API_KEY"] == BILLING_API_KEY
    assert written["PAYMENTS_BILLING_BASE_URL"].startswith("http://127.0.0.1:")
    assert (ROOT / ".env").stat().st_mode & 0o077 == 0
    assert git_ignores(ROOT / ".env")


def test_readmes_dg_launch_from_a_fresh_shell_loads_the_sandboxs_rows(demo):
    """The command the demo prints (and the README shows), from a shell that has only the
    project folder: no PAYMENTS_ variable, no DAGSTER_HOME."""
    printed = next(line.strip() for line in demo.output().splitlines() if "--partition " in line)
    assert printed.startswith(".venv/bin/dg launch --assets 'group:billing' --partition ")
    day = printed.rsplit(" ", 1)[1]
    fresh = {k: v for k, v in demo.env.items() if not k.startswith(("PAYMENTS_", "DAGSTER_"))}
    result = subprocess.run(
        [str(BIN / "dg"), "launch", "--assets", "group:billing", "--partition", day],
        env=fresh,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    written = dotenv_values(ROOT / ".env")
    truth = _billing_charges_in_window(written, day)
    assert truth, "the example's day holds data"
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(demo.env["DAGSTER_HOME"])) as instance:
        [load] = [
            record
            for record in instance.fetch_materializations(
                dg.AssetKey(["billing", "charges"]), limit=50
            ).records
            if record.partition_key == day
            and instance.get_run_by_id(record.run_id).tags.get("dagster/partition") == day
        ]
        loaded = load.asset_materialization.metadata["rows_loaded"].value
    assert loaded == len(truth)


def _billing_charges_in_window(env: dict[str, str | None], day: str) -> list[dict]:
    """The sandbox's billing charges whose update time is inside `day`'s partition window."""
    after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    response = requests.get(
        f"{env['PAYMENTS_BILLING_BASE_URL']}/v1/charges",
        params={
            "api_key": env["PAYMENTS_BILLING_API_KEY"],
            "updated_gte": f"{day}T00:00:00Z",
            "updated_lt": f"{after}T00:00:00Z",
            "limit": 100,
        },
        timeout=10,
    )
    response.raise_for_status()
    body = response.json()
    assert not body.get("has_more"), "one page holds the day"
    return body["data"]


def test_sigint_to_the_demo_stops_every_child_and_removes_its_dotenv(demo):
    """Last of the shared demo's tests: Ctrl-C, as a terminal sends it to the demo."""
    children = demo.signal_and_wait(signal.SIGINT)
    assert len(children) >= 6, children  # receiver, sandbox, dg, webserver, daemon, code server
    assert demo.process.returncode == 0, demo.output()[-3000:]
    assert not _alive(children), demo.output()[-3000:]
    assert not (ROOT / ".env").exists() and not (ROOT / "data" / "demo.json").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{demo.port}/server_info", timeout=5)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_demo_loads_history_leaves_no_child_alive(tmp_path, signum):
    demo = Demo(tmp_path, free_port(), "--records", "2000")
    try:
        demo.wait_for("loading the sandbox's history")
        time.sleep(2)  # the history loader is importing or loading
        children = demo.signal_and_wait(signum)
    finally:
        demo.stop()
    assert len(children) >= 3, children  # receiver, sandbox, the history loader
    assert not _alive(children), demo.output()[-3000:]
    assert "Dagster UI on" not in demo.output()
    assert not (ROOT / ".env").exists() and not (ROOT / "data" / "demo.json").exists()
