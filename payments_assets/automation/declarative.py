"""Declarative automation for what is built from the raw layer, and the sensor that runs it.

Raw assets are polled on a clock with a lookback range (schedules.py): a condition cannot express
"re-read yesterday with today". Everything downstream materializes when its parents do, and never
on top of a parent whose blocking checks failed — even when that failure was in an earlier run.
"""

from __future__ import annotations

from functools import cache

import dagster as dg

from ..specs import load_providers


@cache
def _windowed_raw() -> dg.AssetSelection:
    keys = [
        dg.AssetKey([spec.name, resource.name])
        for spec in load_providers()
        for resource in spec.resources
        if spec.is_windowed(resource)
    ]
    return dg.AssetSelection.assets(*keys)


def parents_updated() -> dg.AutomationCondition:
    """`eager()` for an unpartitioned asset, with its "no parent missing" clause made to fit.

    Windowed raw partitions run up to the window still in progress, which schedules never load:
    as `eager()` has it, that clause would wait forever. Here it asks for every complete window
    of a windowed raw parent, and for any other parent to exist.
    """
    condition = dg.AutomationCondition
    absent = condition.missing() & ~condition.will_be_requested()
    parent_missing = (
        condition.any_deps_match(absent).ignore(_windowed_raw())
        | condition.any_deps_match(absent & ~condition.in_latest_time_window()).allow(
            _windowed_raw()
        )
    ).with_label("a parent (or a complete window of it) is missing")
    return (
        condition.in_latest_time_window()
        & (condition.newly_missing() | condition.any_deps_updated()).since_last_handled()
        & ~parent_missing
        & ~condition.any_deps_in_progress()
        & ~condition.in_progress()
    ).with_label("parents updated, none missing")


def downstream_condition() -> dg.AutomationCondition:
    """What is built from the raw layer: `parents_updated()`, once the parents' blocking checks
    pass — blocking checks stop downstream assets only within their own run."""
    return (
        parents_updated() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("parents updated and passing their blocking checks")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "payments_automation",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates every asset's automation condition (Dagster starts its own stopped).",
)
