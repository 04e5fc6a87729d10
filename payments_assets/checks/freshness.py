"""Freshness of the raw layer: a policy the UI shows, checks that can alert, a sensor to run them.

`FreshnessPolicy.time_window` is Dagster 1.13's current freshness API: the freshness daemon
(part of `dagster dev`) turns it into each raw asset's Fresh/Stale state, from the provider's
`freshness.max_lag_hours`. A policy only knows when an asset last materialized, not which
partition landed, and it alerts no one; so every raw asset also gets a freshness check, which the
freshness sensor runs as soon as it may have gone stale, and whose failures the alert sensor sees.
"""

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg

from ..partitions import complete_partition_keys
from ..specs import ProviderSpec
from .rules import Finding
from .targets import RawTable, raw_tables

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


def check_name(target: RawTable) -> str:
    return LATEST_PARTITION_LANDED if target.partitions_def else REFRESHED_WITHIN_MAX_LAG


def build_freshness_checks(
    specs: Sequence[ProviderSpec], now: Clock = utc_now
) -> list[dg.AssetChecksDefinition]:
    """One freshness check per raw asset (a multi-check per provider); `now` is the clock."""
    return [_provider_checks(spec, now) for spec in specs]


def _provider_checks(spec: ProviderSpec, now: Clock) -> dg.AssetChecksDefinition:
    targets = {target.key: target for target in raw_tables([spec])}
    hours = f"{spec.freshness.max_lag_hours:g} h"

    @dg.multi_asset_check(
        name=f"{spec.name}__freshness",
        specs=[
            dg.AssetCheckSpec(
                check_name(target),
                asset=target.key,
                description=(
                    f"The latest partition landed, and its window ended at most {hours} ago."
                    if target.partitions_def
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
    instance: dg.DagsterInstance, target: RawTable, at: datetime
) -> dg.AssetCheckResult:
    partitions_def = target.partitions_def
    finding = (
        _landed(instance, target, partitions_def, at)
        if partitions_def
        else _refreshed(instance, target, at)
    )
    return dg.AssetCheckResult(
        asset_key=target.key,
        check_name=check_name(target),
        passed=finding.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=finding.description,
        metadata=dict(finding.metadata),
    )


def _facts(target: RawTable, at: datetime, data_time: datetime) -> dict[str, object]:
    return {
        "lag_hours": round((at - data_time).total_seconds() / 3600, 1),
        "max_lag_hours": target.spec.freshness.max_lag_hours,
        FRESH_UNTIL: dg.MetadataValue.timestamp(data_time + target.max_lag),
    }


def _landed(
    instance: dg.DagsterInstance,
    target: RawTable,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    at: datetime,
) -> Finding:
    landed = instance.get_materialized_partitions(target.key)
    expected = next(reversed(complete_partition_keys(partitions_def, at)), None)
    if not landed:
        return Finding(False, f"no partition has landed yet (expected {expected})")
    latest = max(landed, key=lambda key: partitions_def.time_window_for_partition_key(key).start)
    data_time = _data_time(instance, target.key, partitions_def, latest)
    metadata = {
        "latest_partition": latest,
        "expected_partition": expected or "",
        **_facts(target, at, data_time),
    }
    lag = f"{metadata['lag_hours']} h old (limit {metadata['max_lag_hours']:g} h)"
    if at <= data_time + target.max_lag:
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
    partition: str,
) -> datetime:
    """How far a landed partition's data reaches: its window's end, or, for a window still in
    progress (webhooks load it early), the time it was loaded."""
    end = partitions_def.time_window_for_partition_key(partition).end
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    loaded = datetime.fromtimestamp(records[0].timestamp, tz=timezone.utc) if records else end
    return min(end, loaded)


def _refreshed(instance: dg.DagsterInstance, target: RawTable, at: datetime) -> Finding:
    event = instance.get_latest_materialization_event(target.key)
    if event is None:
        return Finding(False, "never materialized")
    loaded = datetime.fromtimestamp(event.timestamp, tz=timezone.utc)
    metadata = {"loaded_at": dg.MetadataValue.timestamp(loaded), **_facts(target, at, loaded)}
    lag = f"{metadata['lag_hours']} h ago (limit {metadata['max_lag_hours']:g} h)"
    if at <= loaded + target.max_lag:
        return Finding(True, f"reloaded {lag}", metadata)
    return Finding(False, f"stale: last reloaded {lag}", metadata)


def build_freshness_sensor(
    specs: Sequence[ProviderSpec], now: Clock = utc_now
) -> dg.SensorDefinition:
    """Runs the freshness checks that may have changed: never run, or past their `fresh_until`."""
    keys = [dg.AssetCheckKey(target.key, check_name(target)) for target in raw_tables(specs)]

    @dg.sensor(
        name="freshness_checks_sensor",
        target=dg.AssetSelection.checks(*keys),
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
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
