"""Time-window partitions per provider, from the `partitions` block of its YAML."""

from __future__ import annotations

import dagster as dg

from .specs import ProviderSpec

_BY_GRANULARITY = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}


def partitions_for(spec: ProviderSpec) -> dg.TimeWindowPartitionsDefinition:
    """UTC windows from the YAML's start date; the last one is the latest complete window."""
    cls = _BY_GRANULARITY[spec.partitions.granularity]
    start = spec.partitions.start.isoformat()
    if spec.partitions.granularity == "hourly":
        start = f"{start}-00:00"
    return cls(start_date=start, timezone="UTC")
