"""The code location: one `Definitions`, read like a table of contents."""

from __future__ import annotations

import dagster as dg

from .assets.exports import export_assets, reporting_exports
from .assets.ingest import ingest_assets
from .assets.marts import mart_assets
from .assets.staging import staging_assets
from .assets.warehouse_sql import writer_pool
from .assets.webhook_events import webhook_event_assets
from .automation.alerts import check_failure_alert, run_failure_alert
from .automation.declarative import automation_sensor
from .automation.schedules import ingest_schedules
from .automation.webhooks import webhook_sensors
from .checks import (
    build_freshness_checks,
    build_freshness_sensor,
    build_quality_checks,
    with_freshness_policies,
)
from .notifier import alert_notifier
from .resources import build_resources, destination_kind
from .specs import load_providers
from .webhooks.resource import WEBHOOK_STORE_KEY, webhook_store

PROVIDERS = load_providers()
DESTINATION = destination_kind()


def _pool(provider: str) -> str:
    # DuckDB takes one writer at a time; a server warehouse takes one run per provider API.
    return "duckdb_writer" if DESTINATION == "duckdb" else f"{provider}_api"


defs = dg.Definitions(
    assets=[
        *with_freshness_policies(ingest_assets(PROVIDERS, DESTINATION, _pool), PROVIDERS),
        *staging_assets(PROVIDERS, DESTINATION),
        *mart_assets(DESTINATION),
        *export_assets(DESTINATION),
        *webhook_event_assets(PROVIDERS, DESTINATION, _pool),
    ],
    asset_checks=[
        *build_quality_checks(PROVIDERS, writer_pool(DESTINATION)),
        *build_freshness_checks(PROVIDERS),
    ],
    schedules=[*ingest_schedules(PROVIDERS)],
    sensors=[
        *webhook_sensors(PROVIDERS),
        build_freshness_sensor(PROVIDERS),
        run_failure_alert,
        check_failure_alert,
        automation_sensor,
    ],
    resources={
        **build_resources(PROVIDERS),
        "exports": reporting_exports(),
        WEBHOOK_STORE_KEY: webhook_store(),
        "notifier": alert_notifier(),
    },
)
