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
import subprocess
import sys
from pathlib import Path

from .sandbox.credentials import WEBHOOK_SECRETS
from .sandbox.process import running_sandbox
from .webhooks.process import running_receiver

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_INSTANCE = PROJECT_ROOT
DEFAULT_UI_PORT = 3000
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


def _load_history(env: dict[str, str]) -> None:
    """Backfill the history in a child process that sees the demo's environment at import."""
    print("loading the sandbox's history into the warehouse (skip with --no-history)...")
    command = [sys.executable, "-m", "payments_assets.demo", "--history-only"]
    subprocess.call(command, env=env, cwd=PROJECT_ROOT)


def load_history() -> None:
    """Every provider from its partitions' start to today: one run per provider for the windowed
    resources (a single-run range) and one for the snapshots, recorded in the demo instance, so
    the marts build on their own once the UI's automation sensor ticks."""
    import dagster as dg

    from .automation.jobs import snapshot_job_name, windowed_job_name
    from .definitions import PROVIDERS, defs
    from .partitions import partitions_for

    repository = defs.get_repository_def()
    with dg.DagsterInstance.get() as instance:
        for spec in PROVIDERS:
            keys = partitions_for(spec).get_partition_keys()
            span = {
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            }
            for name, tags in (
                (windowed_job_name(spec.name), span),
                (snapshot_job_name(spec.name), {}),
            ):
                if not repository.has_job(name):
                    continue
                result = repository.get_job(name).execute_in_process(
                    instance=instance, tags=tags, raise_on_error=False, run_config=QUIET
                )
                print(
                    f"  {name}: {'loaded' if result.success else 'FAILED (see the UI)'}", flush=True
                )


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("--history-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.history_only:
        load_history()
        return 0

    webhook_db = os.environ.get(
        "PAYMENTS_WEBHOOK_DB", str(PROJECT_ROOT / "data" / "webhooks.sqlite")
    )
    with (
        running_receiver(webhook_db, WEBHOOK_SECRETS) as receiver,
        running_sandbox(
            records=args.records, days=args.days, webhook_url=receiver.base_url
        ) as sandbox,
    ):
        data = PROJECT_ROOT / "data"
        env = {
            **os.environ,
            **sandbox.env,
            "PAYMENTS_WEBHOOK_DB": webhook_db,
            "DAGSTER_HOME": str(_dagster_home()),
            # Absolute, so the UI, the daemon and every run worker agree whatever their cwd.
            "PAYMENTS_DUCKDB_PATH": os.environ.get(
                "PAYMENTS_DUCKDB_PATH", str(data / "payments.duckdb")
            ),
            "PAYMENTS_DLT_WORKDIR": os.environ.get("PAYMENTS_DLT_WORKDIR", str(data / "dlt")),
            "PAYMENTS_EXPORT_DIR": os.environ.get("PAYMENTS_EXPORT_DIR", str(data / "exports")),
        }
        print(f"sandbox payments API on {sandbox.base_url} (stats: {sandbox.base_url}/__stats)")
        print(f"webhook receiver on {receiver.base_url}/<provider>")
        if not args.no_history:
            _load_history(env)
        print(f"Dagster UI on http://127.0.0.1:{args.ui_port}")
        command = [
            str(Path(sys.executable).parent / "dg"),
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.ui_port),
        ]
        try:
            return subprocess.call(command, env=env, cwd=PROJECT_ROOT)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
