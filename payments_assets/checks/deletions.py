"""Deletions against their recent history: a sudden spike usually means an incident (a bulk
delete by mistake, a script cleaning up the wrong account), not the business.

Counted per day (the provider's partition windows) in the resource's deletion ledger, by when
each record was deleted, so hard deletes, whose rows are gone, count as much as soft ones. The
rule warns, never blocks; freshness does not look at deletions at all.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from statistics import median

import dagster as dg

from ..assets.deletions import LEDGER
from ..partitions import complete_partition_keys, partitions_for
from ..warehouse_sql import table_ref
from .rules import Finding, Rule, Subject

HISTORY = 7  # days the latest is compared with
MIN_HISTORY = 3
SPIKE_RATIO = 3.0


def is_sudden_spike(latest: int, history: list[int]) -> bool:
    """At least three times the median, and by more than counting noise (2·√median + 3)."""
    baseline = median(history)
    return latest >= SPIKE_RATIO * baseline and latest - baseline > 2 * math.sqrt(baseline) + 3


def _judge(subject: Subject, at: datetime | None = None) -> Finding:
    view = subject.view
    if not subject.session.table_exists(subject.dataset, LEDGER):
        return Finding(True, "no deletion recorded yet")
    partitions_def = partitions_for(view.spec)
    keys = complete_partition_keys(partitions_def, at or datetime.now(timezone.utc))
    chosen = keys[-(HISTORY + 1) :]
    if not chosen:
        return Finding(True, "no complete day yet")
    windows = [partitions_def.time_window_for_partition_key(key) for key in chosen]
    counting = "count(case when deleted_at >= ? and deleted_at < ? then 1 end)"
    counts = ", ".join(counting for _ in windows)
    params = tuple(bound for window in windows for bound in (window.start, window.end))
    [row] = subject.rows(
        f"select {counts} from {table_ref(subject.dataset, LEDGER)} where resource = ?",
        (*params, view.name),
    )
    per_day = list(zip(chosen, (int(n) for n in row), strict=True))
    (label, latest), history = per_day[-1], [n for _, n in per_day[:-1]]
    metadata = {
        "latest": label,
        "latest_deletions": latest,
        "history": dg.MetadataValue.json(dict(per_day[:-1])),
    }
    if len(history) < MIN_HISTORY:
        return Finding(True, f"{label}: {latest} deletion(s); too little history", metadata)
    baseline = median(history)
    metadata["history_median"] = float(baseline)
    if is_sudden_spike(latest, history):
        return Finding(
            False,
            f"{label}: {latest} records deleted against a median of {baseline:g} over the "
            f"{len(history)} days before — a bulk deletion at the provider?",
            metadata,
        )
    return Finding(True, f"{label}: {latest} deletion(s) (median before: {baseline:g})", metadata)


DELETIONS_VS_HISTORY = Rule(
    name="deletions_vs_history",
    description="The latest day's deletions show no sudden spike against the days before.",
    blocking=False,
    applies_to=lambda view: view.deletes is not None,
    judge=_judge,
)
