"""Freshness of the raw layer: a policy the UI shows, checks that can alert, a sensor to run them.

`FreshnessPolicy.time_window` is Dagster 1.13's current freshness API: the freshness daemon
(part of `dagster dev`) turns it into each raw asset's Fresh/Stale state, from the provider's
`freshness.max_lag_hours`. A policy only knows when an asset last materialized, not which
partition landed, and it alerts no one; so every raw asset also gets a freshness check, which the
freshness sensor (`automation/sensors/freshness.py`) runs as soon as it may have gone stale, and
whose failures the alert sensor sees.
"""

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg

from ..layers import raw_key
from ..partitions import complete_partition_keys, landed_windows, partitions_for
from ..specs import ProviderSpec, ResourceView
from .rules import Finding

LATEST_PARTITION_LANDED = "latest_partition_landed"
REFRESHED_WITHIN_MAX_LAG = "refreshed_within_max_lag"
FRESH_UNTIL = "fresh_until"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def freshness_policy(spec: ProviderSpec) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=spec.freshness.max_lag_hours))


def with_freshness_policies(
    assets: Sequence[dg.AssetsDefinition], specs: Sequence[ProviderSpec]
) -> list[dg.AssetsDefinition]:
    """The raw assets, each with its provider's freshness policy (keys are `[provider, …]`)."""
    policies = {spec.name: freshness_policy(spec) for spec in specs}

    def apply(asset: dg.AssetSpec) -> dg.AssetSpec:
        policy = policies.get(asset.key.path[0])
        return asset.replace_attributes(freshness_policy=policy) if policy else asset

    return list(dg.map_asset_specs(apply, assets))


def check_name(view: ResourceView) -> str:
    return LATEST_PARTITION_LANDED if view.windowed else REFRESHED_WITHIN_MAX_LAG


def freshness_check_keys(specs: Sequence[ProviderSpec]) -> list[dg.AssetCheckKey]:
    """The freshness check of every raw asset (what the freshness sensor runs)."""
    return [
        dg.AssetCheckKey(raw_key(view), check_name(view)) for spec in specs for view in spec.views
    ]


def max_lag(view: ResourceView) -> timedelta:
    return timedelta(hours=view.spec.freshness.max_lag_hours)


def build_freshness_checks(
    specs: Sequence[ProviderSpec], now: Clock = utc_now
) -> list[dg.AssetChecksDefinition]:
    """One freshness check per raw asset (a multi-check per provider); `now` is the clock."""
    return [_provider_checks(spec, now) for spec in specs]


def _provider_checks(spec: ProviderSpec, now: Clock) -> dg.AssetChecksDefinition:
    targets = {raw_key(view): view for view in spec.views}
    hours = f"{spec.freshness.max_lag_hours:g} h"

    @dg.multi_asset_check(
        name=f"{spec.name}__freshness",
        specs=[
            dg.AssetCheckSpec(
                check_name(target),
                asset=raw_key(target),
                description=(
                    f"The latest partition landed, and its window ended at most {hours} ago."
                    if target.windowed
                    else f"Reloaded at most {hours} ago."
                ),
            )
            for target in targets.values()
        ],
        can_subset=True,
        description=f"Freshness of {spec.name}'s raw assets (freshness.max_lag_hours: {hours}).",
    )
    def freshness(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        at = now()
        for key in context.selected_asset_check_keys:
            yield judge_freshness(context.instance, targets[key.asset_key], at)

    return freshness


def judge_freshness(
    instance: dg.DagsterInstance, target: ResourceView, at: datetime
) -> dg.AssetCheckResult:
    finding = (
        _landed(instance, target, partitions_for(target.spec), at)
        if target.windowed
        else _refreshed(instance, target, at)
    )
    return dg.AssetCheckResult(
        asset_key=raw_key(target),
        check_name=check_name(target),
        passed=finding.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=finding.description,
        metadata=dict(finding.metadata),
    )


def _facts(target: ResourceView, at: datetime, data_time: datetime) -> dict[str, object]:
    return {
        "lag_hours": round((at - data_time).total_seconds() / 3600, 1),
        "max_lag_hours": target.spec.freshness.max_lag_hours,
        FRESH_UNTIL: dg.MetadataValue.timestamp(data_time + max_lag(target)),
    }


def _landed(
    instance: dg.DagsterInstance,
    target: ResourceView,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    at: datetime,
) -> Finding:
    """Every account's latest landed window ended within the lag (one account stale is stale)."""
    expected = next(reversed(complete_partition_keys(partitions_def, at)), None)
    landed = landed_windows(target.spec, instance.get_materialized_partitions(raw_key(target)))
    judged = {
        account: _account_landed(instance, target, partitions_def, windows, expected, at)
        for account, windows in landed.items()
    }
    if len(judged) == 1:
        return next(iter(judged.values()))
    # The stalest account's facts (an account with nothing landed is the stalest of all).
    stalest = max(judged.values(), key=lambda f: f.metadata.get("lag_hours", float("inf")))
    return Finding(
        all(finding.passed for finding in judged.values()),
        "; ".join(f"{account}: {finding.description}" for account, finding in judged.items()),
        stalest.metadata,
    )


def _account_landed(
    instance: dg.DagsterInstance,
    target: ResourceView,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    windows: dict[str, str],
    expected: str | None,
    at: datetime,
) -> Finding:
    if not windows:
        return Finding(False, f"no partition has landed yet (expected {expected})")
    latest = max(windows, key=lambda key: partitions_def.time_window_for_partition_key(key).start)
    data_time = _data_time(instance, raw_key(target), partitions_def, latest, windows[latest])
    metadata = {
        "latest_partition": latest,
        "expected_partition": expected or "",
        **_facts(target, at, data_time),
    }
    lag = f"{metadata['lag_hours']} h old (limit {metadata['max_lag_hours']:g} h)"
    if at <= data_time + max_lag(target):
        return Finding(True, f"{latest} landed; its data is {lag}", metadata)
    return Finding(
        False,
        f"stale: the latest partition landed is {latest}, {lag}; expected {expected}",
        metadata,
    )


def _data_time(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    window: str,
    partition: str,
) -> datetime:
    """How far a landed partition's data reaches: its window's end, or, for a window still in
    progress (webhooks load it early), the time it was loaded."""
    end = partitions_def.time_window_for_partition_key(window).end
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    loaded = datetime.fromtimestamp(records[0].timestamp, tz=timezone.utc) if records else end
    return min(end, loaded)


def _refreshed(instance: dg.DagsterInstance, target: ResourceView, at: datetime) -> Finding:
    event = instance.get_latest_materialization_event(raw_key(target))
    if event is None:
        return Finding(False, "never materialized")
    loaded = datetime.fromtimestamp(event.timestamp, tz=timezone.utc)
    metadata = {"loaded_at": dg.MetadataValue.timestamp(loaded), **_facts(target, at, loaded)}
    lag = f"{metadata['lag_hours']} h ago (limit {metadata['max_lag_hours']:g} h)"
    if at <= loaded + max_lag(target):
        return Finding(True, f"reloaded {lag}", metadata)
    return Finding(False, f"stale: last reloaded {lag}", metadata)
