"""`payments-demo`: the sandbox and the Dagster UI on one machine, with nothing to configure.

Starts the webhook receiver and the sandbox payments API (which signs and sends webhooks to the
receiver when records change) on free loopback ports, points every provider at the sandbox (the
same variables `payments-sandbox env` prints), gives Dagster a local instance under `data/`, and
runs `dagster dev` on the code location until you press Ctrl-C.
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


def _dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / "data" / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", instance_config)
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payments-demo", description=__doc__)
    parser.add_argument("--ui-port", type=int, default=3000)
    parser.add_argument("--records", type=int, default=2000, help="records per resource")
    parser.add_argument("--days", type=int, default=30, help="days of history in the sandbox")
    args = parser.parse_args(argv)

    webhook_db = os.environ.get(
        "PAYMENTS_WEBHOOK_DB", str(PROJECT_ROOT / "data" / "webhooks.sqlite")
    )
    with (
        running_receiver(webhook_db, WEBHOOK_SECRETS) as receiver,
        running_sandbox(
            records=args.records, days=args.days, webhook_url=receiver.base_url
        ) as sandbox,
    ):
        env = {
            **os.environ,
            **sandbox.env,
            "PAYMENTS_WEBHOOK_DB": webhook_db,
            "DAGSTER_HOME": str(_dagster_home()),
            "PAYMENTS_DUCKDB_PATH": os.environ.get(
                "PAYMENTS_DUCKDB_PATH", str(PROJECT_ROOT / "data" / "payments.duckdb")
            ),
        }
        print(f"sandbox payments API on {sandbox.base_url} (stats: {sandbox.base_url}/__stats)")
        print(f"webhook receiver on {receiver.base_url}/<provider>")
        print(f"Dagster UI on http://127.0.0.1:{args.ui_port}")
        command = [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-m",
            "payments_assets.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(args.ui_port),
        ]
        try:
            return subprocess.call(command, env=env, cwd=PROJECT_ROOT)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
