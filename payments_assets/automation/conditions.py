"""Declarative automation for what is built from the raw layer, applied in `definitions.py`.

Raw assets are polled on a clock with a lookback range (schedules.py): a condition cannot express
"re-read yesterday with today". Everything downstream materializes when its parents do — or when
it is missing and its parents are there — and never on top of a parent whose blocking checks
failed, even when that failure was in an earlier run.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ..layers import BUILT_FROM_RAW, LAYER_TAG, raw_key
from ..specs import ProviderSpec


def windowed_raw(specs: Sequence[ProviderSpec]) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(raw_key(view) for spec in specs for view in spec.windowed))


def parents_updated(windowed: dg.AssetSelection) -> dg.AutomationCondition:
    """`eager()` for an unpartitioned asset, with two of its clauses made to fit.

    Its "no parent missing" clause: windowed raw partitions run up to the window still in
    progress, which schedules never load; as `eager()` has it, that clause would wait forever.
    Here it asks for every complete window of a windowed raw parent (`windowed`), and for any
    other parent to exist.

    Its trigger: `eager()` resets on `initial_evaluation()`, which on the sensor's first tick
    cancels `newly_missing()` in the same tick; an asset already missing then (the demo loads
    the history before `dagster dev` starts, a deploy adds a mart over loaded tables) would wait
    for the next parent update. Here the trigger holds until the asset is requested or updated.
    """
    condition = dg.AutomationCondition
    absent = condition.missing() & ~condition.will_be_requested()
    parent_missing = (
        condition.any_deps_match(absent).ignore(windowed)
        | condition.any_deps_match(absent & ~condition.in_latest_time_window()).allow(windowed)
    ).with_label("a parent (or a complete window of it) is missing")
    handled = (condition.newly_requested() | condition.newly_updated()).with_label("handled")
    return (
        condition.in_latest_time_window()
        & (condition.newly_missing() | condition.any_deps_updated()).since(handled)
        & ~parent_missing
        & ~condition.any_deps_in_progress()
        & ~condition.in_progress()
    ).with_label("parents updated, none missing")


def downstream_condition(windowed: dg.AssetSelection) -> dg.AutomationCondition:
    """What is built from the raw layer: `parents_updated()`, once the parents' blocking checks
    pass — blocking checks stop downstream assets only within their own run."""
    return (
        parents_updated(windowed) & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("parents updated and passing their blocking checks")


def with_automation(
    assets: Sequence[dg.AssetsDefinition], specs: Sequence[ProviderSpec]
) -> list[dg.AssetsDefinition]:
    """The assets, those of the layers built from raw (by their layer tag) with the condition."""
    condition = downstream_condition(windowed_raw(specs))

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.tags.get(LAYER_TAG) in BUILT_FROM_RAW:
            return spec.replace_attributes(automation_condition=condition)
        return spec

    return list(dg.map_asset_specs(apply, assets))
