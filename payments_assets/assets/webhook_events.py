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
from ..layers import RAW, WEBHOOKS_GROUP, layer_tags, provider_pool, webhook_events_key
from ..resources import Warehouse, WebhookEventStore
from ..specs import ProviderSpec
from ..warehouse_sql import WarehouseSession, table_ref
from ..webhooks.store import StoredEvent

EVENTS_TABLE = "webhook_events"
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


def _last_loaded_row(session: WarehouseSession, dataset: str) -> int:
    if not session.table_exists(dataset, EVENTS_TABLE):
        return 0
    return int(
        session.value(f"select coalesce(max(row_id), 0) from {table_ref(dataset, EVENTS_TABLE)}")
    )


def _preview(events: Sequence[StoredEvent]) -> str:
    lines = ["| row | event | type | received (UTC) |", "| --- | --- | --- | --- |"]
    for stored in events[-PREVIEW_ROWS:]:
        received = (
            f"{datetime.fromtimestamp(stored.received_at, tz=timezone.utc):%Y-%m-%d %H:%M:%S}"
        )
        event_id, kind = mask_text(stored.event_id), mask_text(stored.type)
        lines.append(f"| {stored.row_id} | `{event_id}` | {kind} | {received} |")
    return "\n".join(lines)


def webhook_events_asset(spec: ProviderSpec, destination_kind: str) -> dg.AssetsDefinition:
    dataset = spec.name  # one events table per provider, whatever its accounts

    @dg.asset(
        key=webhook_events_key(spec.name),
        group_name=WEBHOOKS_GROUP,
        kinds={"sqlite", destination_kind},
        owners=list(spec.owners),
        tags=layer_tags(RAW, spec.name),
        pool=provider_pool(destination_kind, spec.name),
        metadata={"dagster/table_name": f"{dataset}.{EVENTS_TABLE}"},
        description=(
            f"Every signed webhook event {spec.name} sent, once each (card numbers masked), "
            "copied from the receiver's store; new events are appended on each materialization."
        ),
    )
    def webhook_events(
        context: dg.AssetExecutionContext, webhook_store: WebhookEventStore, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        store = webhook_store.store()
        with warehouse.session() as session:
            loaded = _last_loaded_row(session, dataset)
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
        with warehouse.session() as session:
            total = session.row_count(dataset, EVENTS_TABLE) or 0
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
    specs: Sequence[ProviderSpec], destination_kind: str
) -> list[dg.AssetsDefinition]:
    """One events asset per provider that sends webhooks, in the provider's pool."""
    return [webhook_events_asset(spec, destination_kind) for spec in specs if spec.webhooks.enabled]
