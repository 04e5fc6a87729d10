"""How the layers are named: asset keys, groups, tags and the concurrency pools they run in.

Raw `[provider, resource]` → `staging/<provider>__<resource>` → `marts/<mart>` →
`exports/<mart>_export`. Every asset, check, job and sensor builds its keys, tags and pools here,
so a name is decided once.
"""

from __future__ import annotations

import dagster as dg

from .specs import ResourceView

LAYER_TAG = "payments/layer"
PROVIDER_TAG = "payments/provider"
TRIGGER_TAG = "payments/trigger"
WEBHOOK_ROWS_TAG = "payments/webhook_rows"
"""`first-last` row ids of the stored webhook events a sensor's run was asked for."""

RAW, STAGING, MARTS, EXPORTS = "raw", "staging", "marts", "exports"
BUILT_FROM_RAW = (STAGING, MARTS, EXPORTS)
"""The layers whose assets materialize by declarative automation (definitions applies it)."""

WEBHOOKS_GROUP = "webhooks"
"""Not the provider's group: that one holds its API resources, all partitioned alike, so
`--select group:<provider> --partition-range A...B` stays one single-run backfill."""


def raw_key(view: ResourceView) -> dg.AssetKey:
    return dg.AssetKey(list(view.key))


def staging_table(view: ResourceView) -> str:
    return f"{view.provider}__{view.name}"


def staging_key(view: ResourceView) -> dg.AssetKey:
    return dg.AssetKey([STAGING, staging_table(view)])


def staged_list_table(view: ResourceView, nested: str) -> str:
    """The staging table of the items of a nested list a role reads (`billing__invoices__lines`)."""
    return f"{staging_table(view)}__{nested}"


def staged_list_key(view: ResourceView, nested: str) -> dg.AssetKey:
    return dg.AssetKey([STAGING, staged_list_table(view, nested)])


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([MARTS, name])


def export_key(mart: str) -> dg.AssetKey:
    return dg.AssetKey([EXPORTS, f"{mart}_export"])


def webhook_events_key(provider: str) -> dg.AssetKey:
    return dg.AssetKey([provider, "webhook_events"])


def layer_tags(layer: str, provider: str | None = None) -> dict[str, str]:
    return {LAYER_TAG: layer, **({PROVIDER_TAG: provider} if provider else {})}


def provider_pool(destination_kind: str, provider: str) -> str | None:
    """The pool of a step that calls a provider's API and loads its rows: on a server warehouse
    one run per provider API at a time (`<provider>_api`). None on DuckDB, whose one-writer lock
    (`writer_lock.py`, held for the whole load) already admits one such step at a time, and is
    freed by the kernel when its holder dies, which a pool slot is not."""
    return None if destination_kind == "duckdb" else f"{provider}_api"
