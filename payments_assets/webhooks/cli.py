"""`payments-webhooks`: serve the webhook receiver for every provider YAML.

Secrets come only from the environment (`PAYMENTS_<PROVIDER>_WEBHOOK_SECRET`): a command line
shows in `ps`. The inbox comes from `--db`, else the variable Dagster reads it from
(`PAYMENTS_WEBHOOK_DB`, or in the production profile the warehouse's `PAYMENTS_POSTGRES_URL`).
"""

from __future__ import annotations

import argparse
import logging
import os

from ..specs import load_providers
from .signing import DEFAULT_TOLERANCE_SECONDS, SCHEMES, secret_variable, secrets_from_environ
from .store import DEFAULT_WEBHOOK_DB, location_variable, open_store

DEFAULT_PORT = 8766
DEFAULT_HOST = "127.0.0.1"


def _default_location() -> str:
    variable = location_variable(os.environ)
    return os.environ[variable] if variable else DEFAULT_WEBHOOK_DB


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payments-webhooks",
        description="Receive signed provider webhooks at POST /webhooks/<provider> and store "
        "each event once, for the Dagster sensors to load the affected partitions.",
        epilog="Secrets: PAYMENTS_<PROVIDER>_WEBHOOK_SECRET (comma-separated while rotating).",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default loopback)")
    parser.add_argument(
        "--db",
        default=_default_location(),
        help="the inbox: a SQLite file or a postgresql:// URL (default: $PAYMENTS_WEBHOOK_DB; "
        "with PAYMENTS_DESTINATION=postgres, $PAYMENTS_POSTGRES_URL; else data/webhooks.sqlite)",
    )
    parser.add_argument(
        "--tolerance",
        type=int,
        default=DEFAULT_TOLERANCE_SECONDS,
        help="replay window: refuse signatures older or newer than this many seconds",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    specs = [spec for spec in load_providers() if spec.webhooks.enabled]
    providers = [spec.name for spec in specs]
    schemes = {spec.name: SCHEMES[spec.webhooks.signature] for spec in specs}
    secrets = secrets_from_environ(providers, os.environ)
    if not secrets:
        names = ", ".join(secret_variable(provider) for provider in providers)
        parser().error(f"no webhook secret is set; set at least one of {names}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("payments_assets.webhooks").info(
        "receiving webhooks for %s on http://%s:%d/webhooks/<provider>",
        ", ".join(sorted(secrets)),
        args.host,
        args.port,
    )
    # Imported here so `--help` and argument errors answer without loading the web stack.
    import uvicorn

    from ..never_land import event_keepers
    from .receiver import create_receiver

    keepers = event_keepers(specs)
    app = create_receiver(
        open_store(args.db), secrets, providers, args.tolerance, keepers, schemes=schemes
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
