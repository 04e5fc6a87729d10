"""The sensor that evaluates every asset's automation condition, running by default as the
automation switch says (Dagster starts its own default automation sensor stopped).

It ticks every 30 s (Dagster's own default) unless `PAYMENTS_AUTOMATION_INTERVAL_SECONDS` says
otherwise. The demo asks for 5 s: each layer (staging, marts, exports) waits one tick for the
layer below it, so at 30 s a new user watched the marts appear a minute and a half after the UI
did; at 5 s they follow the runs that feed them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from ..switch import ALWAYS_ON, AutomationSwitch

INTERVAL_VARIABLE = "PAYMENTS_AUTOMATION_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 30


def automation_interval(environ: Mapping[str, str] | None = None) -> int:
    """Seconds between the automation sensor's ticks: the variable if set, else 30."""
    environ = os.environ if environ is None else environ
    given = environ.get(INTERVAL_VARIABLE, "").strip()
    if not given:
        return DEFAULT_INTERVAL_SECONDS
    if not given.isdigit() or int(given) < 1:
        raise ValueError(f"{INTERVAL_VARIABLE} must be whole seconds, 1 or more, not '{given}'")
    return int(given)


def build_automation_sensor(
    automation: AutomationSwitch = ALWAYS_ON, interval_seconds: int = DEFAULT_INTERVAL_SECONDS
) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "payments_automation",
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=interval_seconds,
        default_status=automation.sensors,
        description=(
            "Evaluates every asset's automation condition (Dagster starts its own stopped)."
        ),
    )
