"""Raw layer: every resource of every provider YAML becomes an asset `[provider, resource]`.

One factory for all providers (providers are data). Per provider, windowed resources share one
partitioned multi-asset and snapshot resources (no time cursor) one unpartitioned multi-asset,
since a multi-asset has one partitions definition. Specs come from a source built with
placeholder credentials (no network at import); the real source is built in the run, from the
credentials resource and the partition window.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from ..partitions import account_of, asset_partitions
from ..resources import Warehouse, credentials_key
from ..sources import Connection, Window, build_source, redacted_errors
from ..specs import ACCOUNT_COLUMN, ProviderSpec, resolve_url

RAW_TAG = "payments/layer"


class PaymentsDltTranslator(DagsterDltTranslator):
    """Keys `[provider, resource]`, a group per provider, and what the YAML says of each."""

    def __init__(self, spec: ProviderSpec, destination_kind: str) -> None:
        self.spec = spec
        self.destination_kind = destination_kind

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        default = super().get_asset_spec(data)
        resource = self.spec.resource(data.resource.name)
        endpoint = self.spec.endpoint_of(resource)
        primary_key = self.spec.primary_key_of(resource)
        metadata: dict[str, Any] = {
            "provider": self.spec.name,
            "api_path": endpoint.path,
            "primary_key": ", ".join([primary_key] if isinstance(primary_key, str) else primary_key)
            if primary_key
            else "",
            "write_disposition": self.spec.write_disposition_of(resource),
            "windowed_by": endpoint.incremental.cursor_path if endpoint.incremental else "snapshot",
        }
        return default.replace_attributes(
            key=dg.AssetKey([self.spec.name, resource.name]),
            deps=[],
            group_name=self.spec.name,
            description=resource.description or f"{resource.name} from the {self.spec.name} API",
            owners=list(self.spec.owners),
            kinds={"dlt", self.destination_kind},
            tags={RAW_TAG: "raw", "payments/provider": self.spec.name},
            metadata={**default.metadata, **metadata},
        )


def _placeholder_connection(spec: ProviderSpec) -> Connection:
    """Enough to build the source's shape at import: no secret is read, no request is made."""
    try:
        base_url = resolve_url(spec.client.base_url, {})
    except KeyError:
        base_url = "https://placeholder.invalid/"
    secrets = dict.fromkeys(spec.secret_fields, "placeholder")
    token_url = "https://placeholder.invalid/token" if "client_id" in secrets else None
    return Connection(base_url=base_url, secrets=secrets, token_url=token_url)


def _with_row_facts(
    event: dg.MaterializeResult,
    window: Window | None,
    warehouse: Warehouse,
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
    count = warehouse.row_count(dataset, table, of_account)
    if count is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(count)
    return event._replace(metadata=metadata)  # type: ignore[attr-defined]


def _provider_multi_asset(
    spec: ProviderSpec,
    resource_names: Sequence[str],
    partitioned: bool,
    destination_kind: str,
    pool: str,
) -> dg.AssetsDefinition:
    translator = PaymentsDltTranslator(spec, destination_kind)
    placeholder = build_source(
        spec, _placeholder_connection(spec), resources=resource_names, account=spec.account_names[0]
    )
    specs = build_dlt_asset_specs(
        dlt_source=placeholder,
        dlt_pipeline=None,  # type: ignore[arg-type]  # kinds come from our translator
        dagster_dlt_translator=translator,
    )
    partitions_def = asset_partitions(spec, windowed=partitioned)
    creds_keys = {account: credentials_key(spec.name, account) for account in spec.account_names}
    if partitioned and not spec.multi_account:
        # One run, one window for a whole backfill range: requests scale with the range.
        backfill_policy = dg.BackfillPolicy.single_run()
    elif spec.multi_account:
        backfill_policy = dg.BackfillPolicy.multi_run(1)  # one run per account and window
    else:
        backfill_policy = None

    @dg.multi_asset(
        name=f"{spec.name}__{'windowed' if partitioned else 'snapshots'}",
        specs=specs,
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        required_resource_keys={"dlt", "warehouse", *creds_keys.values()},
        pool=pool,
        op_tags={"payments/provider": spec.name},
    )
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
        with redacted_errors(connection.redactor, f"{spec.name} load"):
            source = build_source(spec, connection, window, resources=selected, account=account)
            with warehouse.pipeline(spec.name, dataset) as pipeline:
                for event in dlt.run(
                    context=context,
                    dlt_source=source,
                    dlt_pipeline=pipeline,
                    dagster_dlt_translator=translator,
                    loader_file_format="parquet",
                ):
                    shared = account if spec.accounts_share_tables else None
                    yield _with_row_facts(event, window, warehouse, dataset, shared)

    return load


def ingest_assets(
    specs: Sequence[ProviderSpec], destination_kind: str, pool_for: Any
) -> list[dg.AssetsDefinition]:
    """The raw assets of every provider; `pool_for(provider)` names its concurrency pool."""
    assets = []
    for spec in specs:
        windowed = [r.name for r in spec.resources if spec.is_windowed(r)]
        snapshots = [r.name for r in spec.resources if not spec.is_windowed(r)]
        for names, partitioned in ((windowed, True), (snapshots, False)):
            if names:
                assets.append(
                    _provider_multi_asset(
                        spec, names, partitioned, destination_kind, pool_for(spec.name)
                    )
                )
    return assets
