"""Time-window partitions per provider, from the `partitions` block of its YAML."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import dagster as dg

from .specs import ProviderSpec

_BY_GRANULARITY = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}


def partitions_for(spec: ProviderSpec) -> dg.TimeWindowPartitionsDefinition:
    """UTC windows from the YAML's start date, up to and including the window in progress.

    The window in progress exists so that a webhook about a record changed a minute ago can
    load it now; schedules load complete windows only (`complete_partition_keys`).
    """
    cls = _BY_GRANULARITY[spec.partitions.granularity]
    start = spec.partitions.start.isoformat()
    if spec.partitions.granularity == "hourly":
        start = f"{start}-00:00"
    return cls(start_date=start, timezone="UTC", end_offset=1)


def complete_partition_keys(
    partitions_def: dg.TimeWindowPartitionsDefinition, now: datetime
) -> list[str]:
    """Partition keys whose window has ended at `now` (the one in progress left out)."""
    return [
        key
        for key in partitions_def.get_partition_keys(current_time=now)
        if partitions_def.time_window_for_partition_key(key).end <= now
    ]


def asset_partitions(spec: ProviderSpec, windowed: bool) -> dg.PartitionsDefinition | None:
    """Windows for windowed resources; with several accounts, an account dimension too, so
    each account runs, fails and backfills on its own."""
    time = partitions_for(spec) if windowed else None
    if not spec.multi_account:
        return time
    accounts = dg.StaticPartitionsDefinition(list(spec.account_names))
    if time is None:
        return accounts
    return dg.MultiPartitionsDefinition({"account": accounts, "date": time})


def account_of(key: str | dg.MultiPartitionKey | None, spec: ProviderSpec) -> str:
    """The account a partition key belongs to (the only one for single-account providers)."""
    if not spec.multi_account or key is None:
        return spec.account_names[0]
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["account"]
    return key


def landed_windows(spec: ProviderSpec, landed: Iterable[str]) -> dict[str, dict[str, str]]:
    """Account → {time-window key: the asset's own partition key} of what has landed.

    With several accounts an asset's partition keys are `<account>|<window>`; freshness and
    volume reason about windows, account by account.
    """
    accounts: dict[str, dict[str, str]] = {account: {} for account in spec.account_names}
    if not spec.multi_account:
        accounts[spec.account_names[0]] = {key: key for key in landed}
        return accounts
    partitions_def = asset_partitions(spec, windowed=True)
    assert isinstance(partitions_def, dg.MultiPartitionsDefinition)
    for key in landed:
        parsed = partitions_def.get_partition_key_from_str(key).keys_by_dimension
        accounts.setdefault(parsed["account"], {})[parsed["date"]] = key
    return accounts
