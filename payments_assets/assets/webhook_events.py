"""Webhook events as an asset per provider: `[provider, "webhook_events"]` in the warehouse.

The receiver's SQLite store is the durable inbox; this copies a provider's events next to its
data (card numbers already masked), so they can be queried beside the records they announced,
and replayed by moving that provider's webhook sensor cursor back (docs/webhooks.md).
"""

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import dagster as dg
import dlt

from ..card_numbers import mask_card_numbers, mask_text
from ..resources import Warehouse
from ..specs import ProviderSpec
from ..webhooks.resource import WebhookEventStore
from ..webhooks.store import StoredEvent

EVENTS_TABLE = "webhook_events"
WEBHOOKS_GROUP = "webhooks"
"""Not the provider's group: that one holds its API resources, all partitioned alike, so
`--select group:<provider> --partition-range A...B` stays one single-run backfill."""
PREVIEW_ROWS = 10


def _rows(events: Sequence[StoredEvent]) -> Iterator[dict[str, Any]]:
    # Masked again: a store written by an older receiver (or by hand) may hold card numbers.
    for stored in events:
        yield {
            "row_id": stored.row_id,
            "event_id": mask_text(stored.event_id),
            "type": mask_text(stored.type),
            "resource": mask_text(stored.event.resource),
            "created": None
            if stored.created is None
            else datetime.fromtimestamp(stored.created, tz=timezone.utc),
            "received_at": datetime.fromtimestamp(stored.received_at, tz=timezone.utc),
            "payload": mask_card_numbers(stored.payload),
        }


def _last_loaded_row(warehouse: Warehouse, dataset: str) -> int:
    if not warehouse.table_exists(dataset, EVENTS_TABLE):
        return 0
    rows = warehouse.query(f'select coalesce(max(row_id), 0) from "{dataset}"."{EVENTS_TABLE}"')
    return int(rows[0][0])


def _preview(events: Sequence[StoredEvent]) -> str:
    lines = ["| row | event | type | received (UTC) |", "| --- | --- | --- | --- |"]
    for stored in events[-PREVIEW_ROWS:]:
        received = (
            f"{datetime.fromtimestamp(stored.received_at, tz=timezone.utc):%Y-%m-%d %H:%M:%S}"
        )
        event_id, kind = mask_text(stored.event_id), mask_text(stored.type)
        lines.append(f"| {stored.row_id} | `{event_id}` | {kind} | {received} |")
    return "\n".join(lines)


def webhook_events_asset(
    spec: ProviderSpec, destination_kind: str, pool: str
) -> dg.AssetsDefinition:
    @dg.asset(
        key=[spec.name, EVENTS_TABLE],
        group_name=WEBHOOKS_GROUP,
        kinds={"sqlite", destination_kind},
        owners=list(spec.owners),
        tags={"payments/layer": "raw", "payments/provider": spec.name},
        pool=pool,
        description=(
            f"Every signed webhook event {spec.name} sent, once each (card numbers masked), "
            "copied from the receiver's store; new events are appended on each materialization."
        ),
    )
    def webhook_events(
        context: dg.AssetExecutionContext, webhook_store: WebhookEventStore, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        store, dataset = webhook_store.store(), warehouse.dataset(spec.name)
        loaded = _last_loaded_row(warehouse, dataset)
        if loaded > store.last_row_id(spec.name):
            context.log.warning(f"{store.path} is newer than the copy: loading it whole")
            loaded = 0  # merging on event_id keeps one row per event
        events = store.after(spec.name, loaded)
        if events:
            rows = dlt.resource(
                _rows(events),
                name=EVENTS_TABLE,
                write_disposition="merge",
                primary_key="event_id",
                columns={"payload": {"data_type": "json"}},
            )
            with warehouse.pipeline(f"{spec.name}_webhooks", dataset) as pipeline:
                pipeline.run(rows)
        # None: an empty inbox before the first event, nothing loaded yet
        total = warehouse.row_count(dataset, EVENTS_TABLE) or 0
        return dg.MaterializeResult(
            metadata={
                "rows_loaded": len(events),
                "dagster/row_count": int(total),
                "last_row_id": events[-1].row_id if events else loaded,
                "new_events": dg.MetadataValue.md(_preview(events)),
            }
        )

    return webhook_events


def webhook_event_assets(
    specs: Sequence[ProviderSpec], destination_kind: str, pool_for: Any
) -> list[dg.AssetsDefinition]:
    """One events asset per provider; `pool_for(provider)` names its concurrency pool."""
    return [webhook_events_asset(spec, destination_kind, pool_for(spec.name)) for spec in specs]
