"""Staging layer: every raw table, cleaned the same way, as `staging.<provider>__<resource>`.

One factory reads each resource's resolved view (primary key, version cursor, amount and currency
columns, column hints, status vocabulary) so a new provider YAML gets staging tables without
code. Tables are rebuilt in full from the raw tables: a record's latest version can arrive in any
later window (see docs/lineage.md), and a full rebuild in SQL costs seconds at this scale.
"""

from collections.abc import Iterator, Mapping, Sequence

import dagster as dg
from dagster import AssetExecutionContext

from ..card_numbers import mask_text
from ..layers import STAGING, layer_tags, raw_key, staging_key, staging_table, writer_pool
from ..resources import Warehouse
from ..specs import ACCOUNT_COLUMN, DEFAULT_ACCOUNT, ProviderSpec, ResourceView
from ..warehouse_sql import TEXT_TYPES, WarehouseSession, literal, quote, table_ref
from .amounts import major_units_sql
from .table_facts import table_facts

DLT_ROW_ID = "_dlt_id"  # a row version's id in dlt's bookkeeping: meaningless downstream
UNKNOWN_STATUS = "unknown"
# Hinted columns absent from the raw table (dlt adds a column only when a value first arrives).
HINT_TYPES = {
    "text": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "decimal": "DECIMAL(38,9)",
    "json": "VARCHAR",
}


class StagingError(RuntimeError):
    """Some staging tables could not be built; the message names each and why."""


def raw_dataset(view: ResourceView) -> str:
    """The schema of the raw table; accounts that share tables share it."""
    if len(view.dataset_names) > 1:
        raise StagingError(
            f"{staging_key(view).to_user_string()}: {view.provider} keeps each account in its "
            f"own dataset ({', '.join(view.dataset_names)}); staging reads one raw table per "
            "resource. Use `account_isolation: column` in the provider YAML."
        )
    return view.dataset_names[0]


def status_sql(view: ResourceView, column: str) -> str:
    """SQL mapping `column` to the common vocabulary (the resource's `statuses:`); the raw value,
    lower-cased, when the resource declares none."""
    if not view.statuses:
        return f"LOWER({column})"
    cases = " ".join(
        f"WHEN {literal(raw)} THEN {literal(common)}" for raw, common in view.statuses.items()
    )
    return f"CASE LOWER({column}) {cases} ELSE {literal(UNKNOWN_STATUS)} END"


def describe(view: ResourceView) -> str:
    quality = view.quality
    money = (
        f" Amounts ({', '.join(quality.amount_columns)}) are exact decimals in major units of "
        f"`{quality.currency_column}` (`<amount>_minor` keeps the API's integer)."
        if quality.amount_columns and quality.currency_column
        else ""
    )
    statuses = (
        ", `status` in the common vocabulary (`provider_status` keeps the API's word)"
        if view.statuses
        else ""
    )
    return (
        f"{view.description} Staged from raw `{view.provider}.{view.table}`: one row per "
        f"`{', '.join(view.primary_key) or 'row'}` (its latest version), timestamps in UTC"
        f"{statuses}.{money}"
    )


def staging_spec(view: ResourceView, destination_kind: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=staging_key(view),
        deps=[raw_key(view)],
        description=describe(view),
        group_name=STAGING,
        kinds={"sql", destination_kind},
        owners=list(view.spec.owners),
        tags=layer_tags(STAGING, view.provider),
        metadata={
            "dagster/table_name": f"{STAGING}.{staging_table(view)}",
            "source_table": f"{', '.join(view.dataset_names)}.{view.table}",
            "primary_key": ", ".join(view.primary_key),
        },
    )


def _expressions(view: ResourceView, name: str, raw_type: str | None) -> list[str]:
    """The staging column(s) made from one raw column (or a typed NULL when it is absent)."""
    hint = view.hinted_types.get(name)
    column = quote(name) if raw_type else f"CAST(NULL AS {HINT_TYPES[hint or 'text']})"
    raw_type = raw_type or HINT_TYPES[hint or "text"]
    currency = view.currency_column
    if name in view.amount_columns and currency:
        amount = major_units_sql(column, quote(currency))
        return [
            f"{amount} AS {quote(name)}",
            f"CAST({column} AS BIGINT) AS {quote(name + '_minor')}",
        ]
    if name == currency:
        return [f"UPPER({column}) AS {quote(name)}"]
    if name == "status":
        return [f'{status_sql(view, column)} AS "status"', f'{column} AS "provider_status"']
    if raw_type.startswith("TIMESTAMP") and "WITH TIME ZONE" not in raw_type:
        return [f"({column} AT TIME ZONE 'UTC') AS {quote(name)}"]  # naive means UTC here
    if raw_type in TEXT_TYPES and (hint == "timestamp" or name.endswith("_at")):
        return [f"CAST({column} AS TIMESTAMP WITH TIME ZONE) AS {quote(name)}"]
    if raw_type in TEXT_TYPES and (hint == "date" or name.endswith("_date")):
        return [f"CAST({column} AS DATE) AS {quote(name)}"]
    return [f"{column} AS {quote(name)}"]


def select_sql(view: ResourceView, raw_schema: str, raw_columns: Mapping[str, str]) -> str:
    """The staging table's query over the raw table whose columns are `raw_columns`."""
    present: dict[str, str | None] = {**raw_columns}
    for name in view.hinted_types:
        present.setdefault(name, None)
    # Every staging row says which provider account it came from ('default' with one).
    account = quote(ACCOUNT_COLUMN) if ACCOUNT_COLUMN in raw_columns else literal(DEFAULT_ACCOUNT)
    expressions = [f'{account} AS "account"'] + [
        expression
        for name, raw_type in present.items()
        if name not in (DLT_ROW_ID, ACCOUNT_COLUMN, "account")
        for expression in _expressions(view, name, raw_type)
    ]
    newest_first = [
        f"{quote(name)} DESC NULLS LAST"
        for name in (view.cursor_column, "_loaded_at", "_dlt_load_id")
        if name and name in raw_columns
    ]
    raw = table_ref(raw_schema, view.table)
    if not view.key_columns:
        return f"SELECT {', '.join(expressions)} FROM {raw}"
    partition = ", ".join(quote(column) for column in view.key_columns)
    order = f" ORDER BY {', '.join(newest_first)}" if newest_first else ""
    return (
        f"SELECT {', '.join(expressions)} FROM (SELECT *, ROW_NUMBER() OVER "
        f"(PARTITION BY {partition}{order}) AS _version_rank FROM {raw}) AS versions "
        "WHERE _version_rank = 1"
    )


def build_table(view: ResourceView, session: WarehouseSession) -> dict[str, dg.MetadataValue]:
    """Rebuild the staging table of `view`; its facts as materialization metadata."""
    schema, name = raw_dataset(view), staging_table(view)
    raw_columns = session.columns(schema, view.table)
    if not raw_columns:
        raise StagingError(
            f"{staging_key(view).to_user_string()}: raw table {schema}.{view.table} is not in "
            f"the warehouse; materialize {raw_key(view).to_user_string()} first."
        )
    session.replace_table(STAGING, name, select_sql(view, schema, raw_columns))
    facts = table_facts(session, STAGING, name)
    facts["raw_rows"] = dg.MetadataValue.int(
        int(session.value(f"select count(*) from {table_ref(schema, view.table)}"))
    )
    if "status" in raw_columns:
        unmapped = session.rows(
            f"select distinct provider_status from {table_ref(STAGING, name)} "
            "where status = ? order by 1",
            (UNKNOWN_STATUS,),
        )
        facts["unmapped_statuses"] = dg.MetadataValue.text(
            mask_text(", ".join(str(value) for (value,) in unmapped)) or "none"
        )
    return facts


def staging_views(specs: Sequence[ProviderSpec]) -> list[ResourceView]:
    return [view for spec in specs for view in spec.views]


def staging_assets(
    specs: Sequence[ProviderSpec], destination_kind: str
) -> list[dg.AssetsDefinition]:
    """One asset per raw resource, all in one op: a refresh of every table is one step."""
    views = staging_views(specs)

    @dg.multi_asset(
        name="staging_tables",
        specs=[staging_spec(view, destination_kind) for view in views],
        can_subset=True,
        pool=writer_pool(destination_kind),
        op_tags=layer_tags(STAGING),
    )
    def build_staging(
        context: AssetExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.MaterializeResult]:
        failures = []
        with warehouse.session() as session:
            for view in views:
                key = staging_key(view)
                if key not in context.selected_asset_keys:
                    continue
                try:
                    facts = build_table(view, session)
                except Exception as error:  # one bad table must not hold back the others
                    context.log.error(f"{key.to_user_string()}: {error}")
                    failures.append(f"{key.to_user_string()}: {error}")
                    continue
                yield dg.MaterializeResult(asset_key=key, metadata=facts)
        if failures:
            raise StagingError("staging tables not built:\n" + "\n".join(failures))

    return [build_staging]
