"""The sensor that evaluates every asset's automation condition, running by default (Dagster
starts its own default automation sensor stopped)."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "payments_automation",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates every asset's automation condition (Dagster starts its own stopped).",
)
