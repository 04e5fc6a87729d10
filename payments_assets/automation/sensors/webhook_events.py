"""The `[provider, webhook_events]` assets follow the inbox: a sensor per provider asks for a run
of its events asset whenever the receiver stored an event the last run did not see.

The webhook sensor loads the records an event names; this one copies the events themselves, so
the asset is never left "Never materialized" once a webhook arrived.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ...layers import webhook_events_key
from ...resources import WebhookEventStore
from ...specs import ProviderSpec
from ..switch import ALWAYS_ON, AutomationSwitch
from .webhooks import MIN_INTERVAL_SECONDS


def webhook_events_sensor(
    spec: ProviderSpec, automation: AutomationSwitch = ALWAYS_ON
) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{spec.name}_webhook_events_sensor",
        asset_selection=[webhook_events_key(spec.name)],
        minimum_interval_seconds=MIN_INTERVAL_SECONDS,
        default_status=automation.sensors,
        description=(
            f"Copies {spec.name}'s new webhook events into the warehouse: one run of "
            f"{webhook_events_key(spec.name).to_user_string()} when the inbox grew."
        ),
    )
    def copy_new_events(
        context: dg.SensorEvaluationContext, webhook_store: WebhookEventStore
    ) -> dg.SensorResult | dg.SkipReason:
        seen = int(context.cursor or 0)
        last = webhook_store.store().last_row_id(spec.name)
        if last == seen:
            return dg.SkipReason(f"no {spec.name} event after row {seen}")
        # A smaller last row: a new inbox; the asset then reloads it whole.
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"webhook_events:{spec.name}:{last}")],
            cursor=str(last),
        )

    return copy_new_events


def webhook_events_sensors(
    specs: Sequence[ProviderSpec], automation: AutomationSwitch = ALWAYS_ON
) -> list[dg.SensorDefinition]:
    return [webhook_events_sensor(spec, automation) for spec in specs if spec.webhooks.enabled]
