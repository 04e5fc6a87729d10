"""Jobs and schedules per provider: the latest complete window, re-read with a lookback.

Late-arriving updates land in windows that already ran, so each tick loads the latest complete
partition together with the `lookback` windows before it, as one run over that range (the raw
assets have a single-run backfill policy, so the API is asked once for the whole range). Merging
on primary keys makes the re-read harmless. Snapshots are reloaded on the same cadence.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ..partitions import complete_partition_keys, partitions_for
from ..specs import ProviderSpec
from .jobs import ProviderJobs
from .switch import ALWAYS_ON, AutomationSwitch

_CRON = {
    "hourly": "10 * * * *",
    "daily": "15 0 * * *",
    "weekly": "30 0 * * 1",
    "monthly": "45 0 1 * *",
}


def _windowed_schedule(
    spec: ProviderSpec, job: Any, automation: AutomationSwitch
) -> dg.ScheduleDefinition:
    partitions_def = partitions_for(spec)

    @dg.schedule(
        name=f"{spec.name}_ingest_schedule",
        cron_schedule=_CRON[spec.partitions.granularity],
        job=job,
        execution_timezone="UTC",
        default_status=automation.schedules,
        description=(
            f"Loads the latest complete {spec.partitions.granularity} window of {spec.name}, "
            f"re-reading the {spec.partitions.lookback} before it for late updates."
        ),
    )
    def ingest(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        now = context.scheduled_execution_time
        keys = complete_partition_keys(partitions_def, now)
        if not keys:
            return
        recent = keys[max(0, len(keys) - 1 - spec.partitions.lookback) :]
        if spec.multi_account:
            # One run per account and window: accounts load, fail and retry independently.
            for account in spec.account_names:
                for day in recent:
                    key = dg.MultiPartitionKey({"account": account, "date": day})
                    yield dg.RunRequest(run_key=str(key), partition_key=key)
            return
        first, last = recent[0], recent[-1]
        yield dg.RunRequest(
            run_key=f"{first}...{last}",
            tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        )

    return ingest


def _snapshot_schedule(
    spec: ProviderSpec, job: Any, automation: AutomationSwitch
) -> dg.ScheduleDefinition:
    if spec.multi_account:
        return _per_account_snapshot_schedule(spec, job, automation)
    return dg.ScheduleDefinition(
        name=f"{spec.name}_snapshot_schedule",
        cron_schedule=_CRON[spec.partitions.granularity],
        job=job,
        execution_timezone="UTC",
        default_status=automation.schedules,
        description=f"Reloads {spec.name}'s snapshots (replaced whole) on the ingest cadence.",
    )


def _per_account_snapshot_schedule(
    spec: ProviderSpec, job: Any, automation: AutomationSwitch
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{spec.name}_snapshot_schedule",
        cron_schedule=_CRON[spec.partitions.granularity],
        job=job,
        execution_timezone="UTC",
        default_status=automation.schedules,
        description=f"Reloads {spec.name}'s snapshots, one run per account.",
    )
    def snapshots(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        tick = context.scheduled_execution_time.isoformat()
        for account in spec.account_names:
            yield dg.RunRequest(run_key=f"{account}@{tick}", partition_key=account)

    return snapshots


def ingest_schedules(
    specs: Sequence[ProviderSpec],
    jobs: Mapping[str, ProviderJobs],
    automation: AutomationSwitch = ALWAYS_ON,
) -> list[dg.ScheduleDefinition]:
    """Per provider, a schedule for its windowed job and one for its snapshot job; running by
    default as `automation` says (`switch.py`)."""
    schedules = []
    for spec in specs:
        provider = jobs[spec.name]
        if provider.windowed is not None:
            schedules.append(_windowed_schedule(spec, provider.windowed, automation))
        if provider.snapshots is not None:
            schedules.append(_snapshot_schedule(spec, provider.snapshots, automation))
    return schedules
