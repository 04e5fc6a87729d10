"""The freshness sensor: runs each raw asset's freshness check as soon as it may have changed.

A freshness check (`checks/freshness.py`) knows when its asset can next turn stale
(`fresh_until`); this sensor runs, in a checks-only run, those never evaluated, past their
`fresh_until`, or failed but reloaded since by a run that left the check out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import dagster as dg

from ...checks.freshness import FRESH_UNTIL, Clock, freshness_check_keys, utc_now
from ...specs import ProviderSpec
from ..switch import ALWAYS_ON, AutomationSwitch


def build_freshness_sensor(
    specs: Sequence[ProviderSpec], now: Clock = utc_now, automation: AutomationSwitch = ALWAYS_ON
) -> dg.SensorDefinition:
    """Runs the freshness checks that may have changed: never run, or past their `fresh_until`."""
    keys = freshness_check_keys(specs)

    @dg.sensor(
        name="freshness_checks_sensor",
        target=dg.AssetSelection.checks(*keys),
        minimum_interval_seconds=300,
        default_status=automation.sensors,
        description=(
            "Runs each raw asset's freshness check when it may have turned stale; a failed check "
            "waits for the asset's next materialization, which runs the check again."
        ),
    )
    def freshness_checks_sensor(context: dg.SensorEvaluationContext) -> dg.SensorReturnTypesUnion:
        due = _due_checks(context.instance, keys, now())
        if not due:
            return dg.SkipReason("no freshness check can have changed since it last ran")
        return dg.RunRequest(asset_check_keys=due)

    return freshness_checks_sensor


def _due_checks(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey], at: datetime
) -> list[dg.AssetCheckKey]:
    summaries = instance.event_log_storage.get_asset_check_summary_records(list(keys))
    loads = instance.get_latest_materialization_events({key.asset_key for key in keys})
    due = []
    for key in keys:
        load = loads.get(key.asset_key)
        if load is None:
            continue  # never materialized: nothing to be fresh or stale about yet
        summary = summaries.get(key)
        last = summary.last_check_execution_record if summary else None
        if last is None or last.event is None:
            due.append(key)
            continue
        evaluation = last.event.asset_check_evaluation
        if evaluation is None:  # planned: its run may still be going
            run = instance.get_run_by_id(last.run_id)
            if run is not None and not run.is_finished:
                continue
        if evaluation is None or not evaluation.passed:
            # Failed, or its run ended without a result: the asset's next load runs it again;
            # only a load by a run that left the check out needs the sensor.
            if load.timestamp > last.event.timestamp:
                due.append(key)
            continue
        fresh_until = evaluation.metadata.get(FRESH_UNTIL)
        if fresh_until is None or fresh_until.value <= at.timestamp():
            due.append(key)
    return due
