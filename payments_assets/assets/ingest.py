"""Raw layer: every resource of every provider YAML becomes an asset `[provider, resource]`.

One factory for all providers (providers are data). Per provider, windowed resources share one
partitioned multi-asset and snapshot resources (no time cursor) one unpartitioned multi-asset,
since a multi-asset has one partitions definition. Specs come from the resources' shape alone
(names, no HTTP client: nothing to resolve, request or import at definitions load); the real
source is built in the run, from the credentials resource and the partition window.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.common.schema import Schema
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from ..layers import RAW, layer_tags, provider_pool, raw_key
from ..partitions import account_of, asset_partitions
from ..resources import WEBHOOK_STORE_KEY, Warehouse, credentials_key, holding_the_writer
from ..sources import Connection, Window, redacted_errors
from ..sources.deletions import DeletionNotes
from ..sources.event_updates import EventStates
from ..specs import ACCOUNT_COLUMN, ProviderSpec, ResourceView
from ..warehouse_sql import WarehouseSession
from .column_docs import with_descriptions
from .deletions import deleted_rows, keep_ledger, snapshot_keys, tracks_absence
from .event_updates import merge_event_states, webhook_states_of

DLT_META = "dagster_dlt/"
COLUMN_SCHEMA = "dagster/column_schema"


class PaymentsDltTranslator(DagsterDltTranslator):
    """Keys `[provider, resource]`, a group per provider, and what the YAML says of each."""

    def __init__(self, spec: ProviderSpec, destination_kind: str) -> None:
        self.spec = spec
        self.destination_kind = destination_kind

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        default = super().get_asset_spec(data)
        view = self.spec.view(data.resource.name)
        return default.replace_attributes(
            key=raw_key(view),
            # A dependent resource is fetched for its parent's records: lineage shows it.
            deps=[raw_key(self.spec.view(view.parent.resource))] if view.parent else [],
            group_name=self.spec.name,
            description=view.description,
            owners=list(self.spec.owners),
            kinds={"dlt", self.destination_kind},
            tags=layer_tags(RAW, self.spec.name),
            metadata={
                **default.metadata,
                **view.metadata(),
                # Schema-qualified: an unqualified `charges` would link billing's and commerce's.
                "dagster/table_name": _table_name(view.dataset_names, view.table),
            },
        )


def _table_name(datasets: Sequence[str], table: str) -> str:
    """`billing.charges`; with one dataset per account, `{billing_eu,billing_us}.charges`."""
    if len(datasets) == 1:
        return f"{datasets[0]}.{table}"
    return f"{{{','.join(datasets)}}}.{table}"


def _resource_shapes(spec: ProviderSpec, names: Sequence[str]) -> DltSource:
    """The provider's resources as dlt names them, with no rows and no client behind them: all
    `build_dlt_asset_specs` reads of a source (the translator takes the rest from the YAML)."""
    resources = [DltResource.from_data([], name=name) for name in names]
    return DltSource(Schema(spec.name), spec.name, resources)


def _with_row_facts(
    event: dg.MaterializeResult,
    window: Window | None,
    session: WarehouseSession,
    dataset: str,
    account: str | None,
) -> dg.MaterializeResult:
    """Zero rows is said out loud, and the table's (or the account's) row count is attached."""
    metadata = dict(event.metadata or {})
    table = event.asset_key.path[-1]
    if "rows_loaded" not in metadata:
        metadata["rows_loaded"] = dg.MetadataValue.int(0)
        where = f"in window {window}" if window else "on this load"
        metadata["note"] = dg.MetadataValue.text(f"The API returned no records {where}.")
    if window is not None:
        metadata["window"] = dg.MetadataValue.text(str(window))
    if account is not None:
        metadata["account"] = dg.MetadataValue.text(account)
    of_account = (ACCOUNT_COLUMN, account) if account is not None else None
    count = session.row_count(dataset, table, of_account)
    if count is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(count)
    metadata["dagster/table_name"] = dg.MetadataValue.text(f"{dataset}.{table}")
    return event._replace(metadata=metadata)  # type: ignore[attr-defined]


def _tidied(event: dg.MaterializeResult, view: ResourceView) -> dg.MaterializeResult:
    """dlt's load facts without its `jobs` list (paths of working files deleted after the run),
    and the table's columns with their descriptions."""
    metadata = {k: v for k, v in (event.metadata or {}).items() if k != "jobs"}
    schema = metadata.get(COLUMN_SCHEMA)
    if isinstance(schema, dg.TableSchemaMetadataValue):
        schema = schema.schema
    if isinstance(schema, dg.TableSchema):
        metadata[COLUMN_SCHEMA] = dg.MetadataValue.table_schema(with_descriptions(schema, view))
    return event._replace(metadata=metadata)  # type: ignore[attr-defined]


def _with_deletions(
    event: dg.MaterializeResult,
    kept: tuple[int, int],
    session: WarehouseSession,
    view: ResourceView,
    account: str | None,
) -> dg.MaterializeResult:
    """What the deletion ledger did on this load, beside the row facts."""
    recorded, applied = kept
    metadata = {
        **(event.metadata or {}),
        "deletions_recorded": dg.MetadataValue.int(recorded),
        "deletions_applied": dg.MetadataValue.int(applied),
    }
    marked = deleted_rows(session, view, account)
    if marked is not None:
        metadata["deleted_rows"] = dg.MetadataValue.int(marked)
    return event._replace(metadata=metadata)  # type: ignore[attr-defined]


def _with_updates(event: dg.MaterializeResult, merged: dict[str, int]) -> dg.MaterializeResult:
    """What the event feed changed: per resource, the records whose newer state was merged."""
    metadata = {
        **(event.metadata or {}),
        "records_updated": dg.MetadataValue.int(sum(merged.values())),
        "records_updated_by_resource": dg.MetadataValue.json(merged),
    }
    return event._replace(metadata=metadata)  # type: ignore[attr-defined]


def _provider_multi_asset(
    spec: ProviderSpec,
    resource_names: Sequence[str],
    partitioned: bool,
    destination_kind: str,
) -> dg.AssetsDefinition:
    translator = PaymentsDltTranslator(spec, destination_kind)
    specs = build_dlt_asset_specs(
        dlt_source=_resource_shapes(spec, resource_names),
        dlt_pipeline=None,  # type: ignore[arg-type]  # kinds come from our translator
        dagster_dlt_translator=translator,
    )
    # dagster-dlt adds the Python objects it would run (source, translator, pipeline) to each
    # spec's metadata: the UI can only show them as "(unserializable)" or null, and every run
    # here passes its own to `dlt.run`.
    specs = [
        spec.replace_attributes(
            metadata={k: v for k, v in spec.metadata.items() if not k.startswith(DLT_META)}
        )
        for spec in specs
    ]
    partitions_def = asset_partitions(spec, windowed=partitioned)
    creds_keys = {account: credentials_key(spec.name, account) for account in spec.account_names}
    views = [spec.view(name) for name in resource_names]
    # Deletions arriving by webhook are read from the receiver's store after each load.
    webhook_deletes = any(view.deletes and view.deletes.webhooks for view in views)
    # So are the object states webhooks carry, for resources an event feed updates.
    webhook_states = spec.event_feed is not None and partitioned
    reads_store = webhook_deletes or webhook_states
    extra_keys = {WEBHOOK_STORE_KEY} if reads_store else set()
    if spec.multi_account:
        backfill_policy = dg.BackfillPolicy.multi_run(1)  # one run per account and window
    else:
        # One run, one window for a whole backfill range: requests scale with the range. On the
        # snapshots too, so `group:<provider> --partition-range` is one command (CLI and UI):
        # they load once per backfill.
        backfill_policy = dg.BackfillPolicy.single_run()

    @dg.multi_asset(
        name=f"{spec.name}__{'windowed' if partitioned else 'snapshots'}",
        specs=specs,
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        required_resource_keys={"dlt", "warehouse", *creds_keys.values(), *extra_keys},
        pool=provider_pool(destination_kind, spec.name),
        op_tags=layer_tags(RAW, spec.name),
    )
    @holding_the_writer
    def load(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        account = account_of(context.partition_key if spec.multi_account else None, spec)
        creds = getattr(context.resources, creds_keys[account])
        connection: Connection = creds.connection(spec, account)
        warehouse: Warehouse = context.resources.warehouse
        dlt: DagsterDltResource = context.resources.dlt
        window = Window(*context.partition_time_window) if partitioned else None
        selected = [key.path[-1] for key in context.selected_asset_keys]
        context.log.info(
            f"{spec.name}: loading {', '.join(selected)}"
            + (f" of account {account}" if spec.multi_account else "")
            + (f" for {window}" if window else "")
        )
        dataset = spec.dataset_of(account)
        shared = account if spec.accounts_share_tables else None
        # Imported in the run: it brings requests and dlt's REST client, which loading the
        # definitions does not need.
        from ..sources.build import build_source

        loaded_at, notes = datetime.now(timezone.utc), DeletionNotes()
        feed = spec.event_feed
        store = context.resources.webhook_store.store() if reads_store else None
        delivered = webhook_states_of(context.run.tags, store, spec) if webhook_states else []
        feeding = feed is not None and (feed.resource in selected or bool(delivered))
        states = EventStates(spec) if feeding else None
        if states is not None:
            for payload in delivered:
                states.add(payload)
        with warehouse.session() as session:  # what each absence-tracked snapshot held
            before = {
                name: snapshot_keys(session, spec.view(name), account)
                for name in selected
                if tracks_absence(spec.view(name))
            }
        with redacted_errors(connection.redactor, f"{spec.name} load"):
            source = build_source(
                spec,
                connection,
                window,
                selected,
                loaded_at,
                account,
                deletions=notes,
                event_states=states,
            )
            with warehouse.pipeline(spec.name, dataset) as pipeline:
                events = list(
                    dlt.run(
                        context=context,
                        dlt_source=source,
                        dlt_pipeline=pipeline,
                        dagster_dlt_translator=translator,
                        loader_file_format="parquet",
                    )
                )
            updated = (
                merge_event_states(warehouse, spec, account, states, loaded_at) if states else {}
            )
            with warehouse.session() as session:
                loaded = [spec.view(name) for name in selected]
                kept = keep_ledger(
                    session, spec, loaded, account, notes.taken(), store, loaded_at, before
                )
                for event in events:
                    view = spec.view(event.asset_key.path[-1])
                    result = _with_row_facts(_tidied(event, view), window, session, dataset, shared)
                    if view.name in kept:
                        result = _with_deletions(result, kept[view.name], session, view, shared)
                    if feed is not None and view.name == feed.resource:
                        result = _with_updates(result, updated)
                    yield result

    return load


def ingest_assets(
    specs: Sequence[ProviderSpec], destination_kind: str
) -> list[dg.AssetsDefinition]:
    """The raw assets of every provider: on DuckDB each step holds the warehouse's writer lock;
    on a server warehouse each provider's steps run in its pool (`layers.py`)."""
    assets = []
    for spec in specs:
        for views, partitioned in ((spec.windowed, True), (spec.snapshots, False)):
            if views:
                names = [view.name for view in views]
                assets.append(_provider_multi_asset(spec, names, partitioned, destination_kind))
    return assets
