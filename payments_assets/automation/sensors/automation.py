"""The sensor that evaluates every asset's automation condition, running by default as the
automation switch says (Dagster starts its own default automation sensor stopped)."""

import dagster as dg

from ..switch import ALWAYS_ON, AutomationSwitch


def build_automation_sensor(
    automation: AutomationSwitch = ALWAYS_ON,
) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "payments_automation",
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=30,
        default_status=automation.sensors,
        description=(
            "Evaluates every asset's automation condition (Dagster starts its own stopped)."
        ),
    )
