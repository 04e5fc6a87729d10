"""`payments-demo`: the sandbox and the Dagster UI on one machine, with nothing to configure.

Starts the webhook receiver and the sandbox payments API (which signs and sends webhooks to the
receiver when records change) on free loopback ports, points every provider at the sandbox (the
same variables `payments-sandbox env` prints), loads the sandbox's history into the project's
local instance (the project folder, with its `dagster.yaml`), and runs `dg dev` on the code
location until you press Ctrl-C.
From there, declarative automation builds staging, marts and exports by itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests

from .automation.sensors.automation import INTERVAL_VARIABLE
from .demo_children import ChildGroup, DemoStopped, group_options, stopping_on_signals
from .demo_dotenv import remove_dotenv, write_dotenv
from .demo_guard import DemoRecord, DemoRefused, refuse_if_busy
from .loopback import HOST
from .run_console import LEVEL_VARIABLE
from .sandbox.credentials import WEBHOOK_SECRETS
from .sandbox.process import running_sandbox
from .webhooks.process import running_receiver

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_INSTANCE = PROJECT_ROOT
DEFAULT_UI_PORT = 3000
DOTENV = PROJECT_ROOT / ".env"
DEMO_RECORD = PROJECT_ROOT / "data" / "demo.json"
DEMO_AUTOMATION_SECONDS = "5"  # the automation sensor's tick in the demo (Dagster's is 30 s)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""The history runs' console: warnings and errors only (every event is in the UI's event log)."""


def _dagster_home() -> Path:
    """`$DAGSTER_HOME`, else the project folder (whose dagster.yaml is versioned): a home set
    elsewhere gets a copy of that file. `dg dev` runs from the project folder, so by default its
    dagster.yaml is the home's own and Dagster has no ignored file to warn about."""
    home = Path(os.environ.get("DAGSTER_HOME") or LOCAL_INSTANCE)
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        shutil.copy(LOCAL_INSTANCE / "dagster.yaml", instance_config)
    return home


def _load_history(env: dict[str, str], children: ChildGroup, keep: bool) -> None:
    """Backfill the history in a child process that sees the demo's environment at import."""
    print("loading the sandbox's history into the warehouse (skip with --no-history)...")
    command = [sys.executable, "-m", "payments_assets.demo", "--history-only"]
    command += ["--keep-history"] if keep else []
    children.popen(command, env=env, cwd=PROJECT_ROOT).wait()


def load_history(keep: bool = False) -> None:
    """Every provider from its partitions' start to today: one run per provider for the windowed
    resources (a single-run range) and one for the snapshots, recorded in the demo instance, so
    the marts build on their own once the UI's automation sensor ticks. With `keep`, a job
    whose assets the instance already holds (and the warehouse file is there) is not run again:
    the sandbox serves the same records for a day's restarts."""
    import dagster as dg

    from .automation.jobs import snapshot_job_name, windowed_job_name
    from .definitions import PROVIDERS, defs
    from .layers import raw_key
    from .partitions import partitions_for

    repository = defs.get_repository_def()
    warehouse = Path(os.environ.get("PAYMENTS_DUCKDB_PATH", "data/payments.duckdb"))
    with dg.DagsterInstance.get() as instance:
        for spec in PROVIDERS:
            keys = partitions_for(spec).get_partition_keys()
            span = {
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            }
            for name, tags, views in (
                (windowed_job_name(spec.name), span, spec.windowed),
                (snapshot_job_name(spec.name), {}, spec.snapshots),
            ):
                if not repository.has_job(name):
                    continue
                loaded = instance.get_latest_materialization_events([raw_key(v) for v in views])
                if keep and warehouse.exists() and all(loaded.values()):
                    print(f"  {name}: kept from the last demo (FRESH=1 reloads it)", flush=True)
                    continue
                result = repository.get_job(name).execute_in_process(
                    instance=instance, tags=tags, raise_on_error=False, run_config=QUIET
                )
                print(
                    f"  {name}: {'loaded' if result.success else 'FAILED (see the UI)'}", flush=True
                )


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="payments-demo", description=__doc__)
    parser.add_argument(
        "--ui-port",
        type=int,
        default=int(os.environ.get("PAYMENTS_UI_PORT") or DEFAULT_UI_PORT),
        help="the Dagster UI's port (default: $PAYMENTS_UI_PORT, else 3000)",
    )
    parser.add_argument("--records", type=int, default=2000, help="records per resource")
    parser.add_argument("--days", type=int, default=30, help="days of history in the sandbox")
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="start with an empty warehouse instead of backfilling the sandbox's history",
    )
    parser.add_argument(
        "--keep-history",
        action="store_true",
        help="skip the history a previous demo loaded into this instance (make demo FRESH=0)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="the daemon's and every run's INFO and DEBUG lines too (make demo VERBOSE=1)",
    )
    parser.add_argument("--history-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress, live
    if args.history_only:
        load_history(keep=args.keep_history)
        return 0
    try:
        refuse_if_busy(DEMO_RECORD, args.ui_port)
    except DemoRefused as refusal:
        print(f"payments-demo: not starting: {refusal}", file=sys.stderr)
        return 2
    children = ChildGroup()
    DemoRecord(os.getpid(), None, args.ui_port).save(DEMO_RECORD)
    try:
        with stopping_on_signals():
            return _run(args, children)
    except DemoStopped as stopped:
        print(f"payments-demo: {stopped}; stopping the UI, daemon, sandbox and receiver...")
        return 0
    finally:
        children.stop()
        remove_dotenv(DOTENV)
        DEMO_RECORD.unlink(missing_ok=True)


def _run(args: argparse.Namespace, children: ChildGroup) -> int:
    """Everything the demo runs, each child in `children`'s process group."""
    webhook_db = os.environ.get(
        "PAYMENTS_WEBHOOK_DB", str(PROJECT_ROOT / "data" / "webhooks.sqlite")
    )
    with running_receiver(
        webhook_db, WEBHOOK_SECRETS, popen_options=group_options(children.process_group)
    ) as receiver:
        children.adopt(receiver.process)
        DemoRecord(os.getpid(), children.pgid, args.ui_port).save(DEMO_RECORD)
        with running_sandbox(
            popen_options=group_options(children.process_group),
            records=args.records,
            start=_today() - timedelta(days=args.days),  # the history ends today, whatever --days
            days=args.days,
            webhook_url=receiver.base_url,
        ) as sandbox:
            children.adopt(sandbox.process)
            variables = _variables(sandbox.env, webhook_db)
            print(f"sandbox payments API on {sandbox.base_url} (stats: {sandbox.base_url}/__stats)")
            print(f"webhook receiver on {receiver.base_url}/<provider>")
            quiet = {} if args.verbose else {LEVEL_VARIABLE: "WARNING"}
            # Staging, marts and exports follow the loaded history within seconds, not minutes.
            ticks = {INTERVAL_VARIABLE: os.environ.get(INTERVAL_VARIABLE, DEMO_AUTOMATION_SECONDS)}
            env = {**os.environ, **variables, **quiet, **ticks}
            if not args.no_history:
                _load_history(env, children, keep=args.keep_history)
            _announce_second_terminal(variables)
            return _serve_ui(args.ui_port, env, children, args.verbose)


def _variables(sandbox_env: dict[str, str], webhook_db: str) -> dict[str, str]:
    """What the demo adds to its children's environment: the sandbox's provider variables and
    the local instance and warehouse, as absolute paths so every process agrees on them."""
    data = PROJECT_ROOT / "data"
    return {
        **sandbox_env,
        "PAYMENTS_WEBHOOK_DB": webhook_db,
        "DAGSTER_HOME": str(_dagster_home()),
        "PAYMENTS_DUCKDB_PATH": os.environ.get(
            "PAYMENTS_DUCKDB_PATH", str(data / "payments.duckdb")
        ),
        "PAYMENTS_DLT_WORKDIR": os.environ.get("PAYMENTS_DLT_WORKDIR", str(data / "dlt")),
        "PAYMENTS_EXPORT_DIR": os.environ.get("PAYMENTS_EXPORT_DIR", str(data / "exports")),
    }


def _announce_second_terminal(variables: dict[str, str]) -> None:
    """Write `.env` for `dg`/`dagster` in another terminal, and print commands that load rows."""
    if not write_dotenv(DOTENV, variables):
        print(f"{DOTENV} is your own, left as it is: dg in another terminal will not see the demo")
        return
    yesterday = _today() - timedelta(days=1)
    week = f"{yesterday - timedelta(days=6)}...{yesterday}"
    print(f"dg and dagster in another terminal, in {PROJECT_ROOT}, read the demo's {DOTENV.name}:")
    print(f"  .venv/bin/dg launch --assets 'group:billing' --partition {yesterday}")
    print(f"  .venv/bin/dg launch --assets 'group:gateway' --partition-range {week}")


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _serve_ui(port: int, env: dict[str, str], children: ChildGroup, verbose: bool) -> int:
    """Run `dg dev`; say where the UI is once it answers (not before: a port taken meanwhile
    would make the address a lie)."""
    command = [str(Path(sys.executable).parent / "dg"), "dev", "--host", HOST, "--port", str(port)]
    command += ["--log-level", "info" if verbose else "warning"]
    server = children.popen(command, env=env, cwd=PROJECT_ROOT)
    url = f"http://{HOST}:{port}"
    while server.poll() is None:
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                print(f"Dagster UI on {url}  (Ctrl-C stops the demo)", flush=True)
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    code = server.wait()
    print(f"payments-demo: dg dev exited with code {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
