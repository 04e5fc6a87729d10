"""Row counts against their recent history: a sudden drop usually means the API, not the business.

Windowed tables are counted per partition window in the table itself (by the cursor column), so
ranges loaded in one run count right; the raw assets' per-partition metadata cannot, since a
single-run backfill copies one result to every partition. Snapshots are replaced whole, so their
history is the `dagster/row_count` of earlier materializations. The rule warns, never blocks.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from statistics import median

import dagster as dg

from ..partitions import complete_partition_keys, landed_windows, partitions_for
from ..warehouse_sql import quote
from .rules import Finding, Rule, Subject

HISTORY = 7  # partitions (or snapshot loads) the latest is compared with
MIN_HISTORY = 3
DROP_RATIO = 0.5


def is_sudden_drop(latest: int, history: list[int]) -> bool:
    """Below half the median, and by more than counting noise (2·√median) explains."""
    baseline = median(history)
    return latest < DROP_RATIO * baseline and baseline - latest > 2 * math.sqrt(baseline)


def _judge(subject: Subject) -> Finding:
    partitions_def = partitions_for(subject.view.spec) if subject.view.windowed else None
    latest, history = (
        _partition_counts(subject, partitions_def) if partitions_def else _snapshot_counts(subject)
    )
    if latest is None:
        return Finding(True, "nothing loaded yet")
    label, rows = latest
    metadata = {
        "latest": label,
        "latest_rows": rows,
        "history": dg.MetadataValue.json(dict(history)),
    }
    counts = [n for _, n in history]
    if len(counts) < MIN_HISTORY:
        return Finding(True, f"{label}: {rows} rows; too little history to compare", metadata)
    baseline = median(counts)
    metadata["history_median"] = float(baseline)
    if is_sudden_drop(rows, counts):
        return Finding(
            False,
            f"{label}: {rows} rows against a median of {baseline:g} over the {len(counts)} "
            "before it — did the API return everything?",
            metadata,
        )
    return Finding(True, f"{label}: {rows} rows (median before: {baseline:g})", metadata)


Counted = tuple[tuple[str, int] | None, list[tuple[str, int]]]


def _partition_counts(
    subject: Subject, partitions_def: dg.TimeWindowPartitionsDefinition
) -> Counted:
    # A window still in progress (webhooks load it early) is partial: never judge it.
    keys = complete_partition_keys(partitions_def, datetime.now(timezone.utc))
    by_account = landed_windows(
        subject.view.spec, subject.instance.get_materialized_partitions(subject.key)
    )
    landed = {window for windows in by_account.values() for window in windows}
    indexes = [i for i, key in enumerate(keys) if key in landed]
    cursor = subject.view.cursor_column
    if not indexes or cursor is None or cursor not in subject.main_columns:
        return None, []
    last = indexes[-1]
    chosen = [keys[i] for i in indexes if last - HISTORY <= i <= last]
    windows = [partitions_def.time_window_for_partition_key(key) for key in chosen]
    column = quote(cursor)
    counts = ", ".join(
        f"count(case when {column} >= ? and {column} < ? then 1 end)" for _ in windows
    )
    params = tuple(bound for window in windows for bound in (window.start, window.end))
    [row] = subject.rows(
        f"select {counts} from {subject.ref} where {column} >= ? and {column} < ?",
        (*params, windows[0].start, windows[-1].end),
    )
    pairs = list(zip(chosen, (int(n) for n in row), strict=True))
    return pairs[-1], pairs[:-1]


def _snapshot_counts(subject: Subject) -> Counted:
    records = subject.instance.fetch_materializations(subject.key, limit=HISTORY + 1)
    counts = []
    for record in records.records:
        materialization = record.asset_materialization
        value = materialization.metadata.get("dagster/row_count") if materialization else None
        if value is not None:
            loaded = datetime.fromtimestamp(record.timestamp, tz=timezone.utc)
            counts.append((f"load of {loaded:%Y-%m-%d %H:%M:%S} UTC", int(value.value)))
    if not counts:
        return None, []
    return counts[0], counts[1:]


ROW_COUNT_VS_HISTORY = Rule(
    name="row_count_vs_history",
    description=(
        "The latest partition (or snapshot) has no sudden drop in rows against the ones before."
    ),
    blocking=False,
    applies_to=lambda view: True,
    judge=_judge,
)
