"""Deletions against their recent history: a sudden spike usually means an incident (a bulk
delete by mistake, a script cleaning up the wrong account), not the business.

Counted per window (the provider's partitions) in the resource's deletion ledger, by when each
record was deleted, so hard deletes, whose rows are gone, count as much as soft ones. The window
judged is the latest load's, as the volume check does: no clock, so a backfill judges what it
loaded. The rule warns, never blocks; freshness does not look at deletions at all.
"""

from __future__ import annotations

import math
from statistics import median

import dagster as dg

from ..assets.deletions import LEDGER
from ..partitions import landed_windows, partitions_for
from ..warehouse_sql import table_ref
from .rules import Finding, Rule, Subject

HISTORY = 7  # days the latest is compared with
MIN_HISTORY = 3
SPIKE_RATIO = 3.0


def is_sudden_spike(latest: int, history: list[int]) -> bool:
    """At least three times the median, and by more than counting noise (2·√median + 3)."""
    baseline = median(history)
    return latest >= SPIKE_RATIO * baseline and latest - baseline > 2 * math.sqrt(baseline) + 3


def _latest_window(
    subject: Subject, partitions_def: dg.TimeWindowPartitionsDefinition
) -> str | None:
    """The window of the resource's latest load: its latest landed partition, or for a
    snapshot the window its latest load ran in (the volume check looks at the same)."""
    view = subject.view
    if view.windowed:
        by_account = landed_windows(
            view.spec, subject.instance.get_materialized_partitions(subject.key)
        )
        landed = {window for windows in by_account.values() for window in windows}
        return max(landed, default=None)  # ISO keys: the latest sorts last
    event = subject.instance.get_latest_materialization_event(subject.key)
    if event is None:
        return None
    return partitions_def.get_partition_key_for_timestamp(event.timestamp)


def deletions_vs_history(subject: Subject) -> Finding:
    """The deletions dated in the latest load's window against the windows before it."""
    view = subject.view
    if not subject.session.table_exists(subject.dataset, LEDGER):
        return Finding(True, "no deletion recorded yet")
    partitions_def = partitions_for(view.spec)
    latest_key = _latest_window(subject, partitions_def)
    if latest_key is None:
        return Finding(True, "nothing loaded yet")
    latest = partitions_def.time_window_for_partition_key(latest_key)
    windows = [latest]
    while len(windows) < HISTORY + 1:
        before = partitions_def.get_prev_partition_window(windows[0].start)
        if before is None:
            break
        windows.insert(0, before)
    keys = [partitions_def.get_partition_key_for_timestamp(w.start.timestamp()) for w in windows]
    counting = "count(case when deleted_at >= ? and deleted_at < ? then 1 end)"
    counts = ", ".join(counting for _ in windows)
    params = tuple(bound for window in windows for bound in (window.start, window.end))
    [row] = subject.rows(
        f"select {counts} from {table_ref(subject.dataset, LEDGER)} where resource = ?",
        (*params, view.name),
    )
    per_day = list(zip(keys, (int(n) for n in row), strict=True))
    (label, latest_count), history = per_day[-1], [n for _, n in per_day[:-1]]
    metadata = {
        "latest": label,
        "latest_deletions": latest_count,
        "history": dg.MetadataValue.json(dict(per_day[:-1])),
    }
    if len(history) < MIN_HISTORY:
        return Finding(True, f"{label}: {latest_count} deletion(s); too little history", metadata)
    baseline = median(history)
    metadata["history_median"] = float(baseline)
    if is_sudden_spike(latest_count, history):
        return Finding(
            False,
            f"{label}: {latest_count} records deleted against a median of {baseline:g} over "
            f"the {len(history)} windows before — a bulk deletion at the provider?",
            metadata,
        )
    return Finding(
        True, f"{label}: {latest_count} deletion(s) (median before: {baseline:g})", metadata
    )


DELETIONS_VS_HISTORY = Rule(
    name="deletions_vs_history",
    description="The latest day's deletions show no sudden spike against the days before.",
    blocking=False,
    applies_to=lambda view: view.deletes is not None,
    judge=deletions_vs_history,
)
