"""The code location: one `Definitions`, read like a table of contents."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from .assets.exports import export_assets
from .assets.ingest import ingest_assets
from .assets.marts import mart_assets, marts_for
from .assets.staging import staging_assets
from .assets.webhook_events import webhook_event_assets
from .automation.conditions import with_automation
from .automation.executor import payments_executor
from .automation.jobs import all_jobs, ingest_jobs
from .automation.schedules import ingest_schedules
from .automation.sensors.alerts import check_failure_alert, run_failure_alert
from .automation.sensors.automation import automation_interval, build_automation_sensor
from .automation.sensors.freshness import build_freshness_sensor
from .automation.sensors.webhook_events import webhook_events_sensors
from .automation.sensors.webhooks import webhook_sensors
from .automation.switch import automation_switch
from .checks import build_freshness_checks, build_quality_checks, with_freshness_policies
from .checks.reconciliation import build_reconciliation_checks
from .distributed import run_executor
from .resources import build_resources, destination_kind
from .run_console import run_loggers
from .specs import load_providers

PACKAGE = Path(__file__).parent
PROVIDERS = load_providers()
DESTINATION = destination_kind()
JOBS = ingest_jobs(PROVIDERS)
AUTOMATION = automation_switch()  # schedules and sensors running by default, or not
MARTS = marts_for(PROVIDERS)

# What `dg scaffold defs` adds under payments_assets/defs/ is merged into the one code location.
defs = dg.Definitions.merge(
    dg.Definitions(
        assets=[
            *with_freshness_policies(ingest_assets(PROVIDERS, DESTINATION), PROVIDERS),
            *webhook_event_assets(PROVIDERS, DESTINATION),
            *with_automation(
                [
                    *staging_assets(PROVIDERS, DESTINATION),
                    *mart_assets(DESTINATION, MARTS),
                    *export_assets(DESTINATION, MARTS),
                ],
                PROVIDERS,
            ),
        ],
        asset_checks=[
            *build_quality_checks(PROVIDERS),
            *build_freshness_checks(PROVIDERS),
            *build_reconciliation_checks(MARTS),
        ],
        jobs=all_jobs(JOBS),
        schedules=ingest_schedules(PROVIDERS, JOBS, AUTOMATION),
        sensors=[
            *webhook_sensors(PROVIDERS, JOBS, AUTOMATION),
            *webhook_events_sensors(PROVIDERS, AUTOMATION),
            build_freshness_sensor(PROVIDERS, automation=AUTOMATION),
            run_failure_alert,
            check_failure_alert,
            build_automation_sensor(AUTOMATION, automation_interval()),
        ],
        resources=build_resources(PROVIDERS),
        # Celery workers when a broker is set (distributed.py), else the project's own executor
        executor=run_executor() or payments_executor,
        loggers=run_loggers(),  # the demo's terminal: quiet unless VERBOSE=1
    ),
    dg.load_from_defs_folder(path_within_project=PACKAGE),
)
