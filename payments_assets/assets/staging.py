"""Staging layer: every raw table, cleaned the same way, as `staging.<provider>__<resource>`.

One factory reads each resource's resolved view (primary key, version cursor, amount and currency
columns, column hints, status vocabulary) so a new provider YAML gets staging tables without
code. Tables are rebuilt in full from the raw tables: a record's latest version can arrive in any
later window (see docs/lineage.md), and a full rebuild in SQL costs seconds at this scale.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial

import dagster as dg
from dagster import AssetExecutionContext

from ..card_numbers import mask_text
from ..layers import STAGING, layer_tags, raw_key, staged_list_key, staging_key, staging_table
from ..resources import Warehouse
from ..specs import ACCOUNT_COLUMN, DEFAULT_ACCOUNT, ProviderSpec, ResourceView
from ..specs.resolved import DELETED_AT
from ..warehouse_sql import TEXT_TYPES, WarehouseSession, literal, quote, table_ref
from .amounts import AMOUNT_TYPE, major_units_sql, minor_units_sql
from .deletions import LEDGER
from .event_updates import updating_feeds
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
    deleted = (
        " Records the provider deleted are left out (`marts.fct_deletions` lists them)."
        if view.deletes
        else ""
    )
    return (
        f"{view.description} Staged from raw `{view.provider}.{view.table}`: one row per "
        f"`{', '.join(view.primary_key) or 'row'}` (its latest version), timestamps in UTC"
        f"{statuses}.{money}{deleted}"
    )


def staging_spec(view: ResourceView, destination_kind: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=staging_key(view),
        deps=[raw_key(view), *updating_feeds(view)],  # the event feed merges into it too
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


def expandable_reference(
    view: ResourceView, name: str, raw_columns: Mapping[str, str]
) -> str | None:
    """The bare id column beside `name` when `name` is a role's `<field>.id` of a reference the
    API sends either expanded (an object: `customer__id`) or as its id (`customer`).

    Stripe's expandable fields are both: a list asked with `expand[]` returns the object, while
    the same record in an event's `data.object` carries the id. A record updated from the event
    feed must keep its reference, so staging reads whichever the newest version has.
    """
    if name not in view.role_columns or not name.endswith("__id"):
        return None
    bare = name.removesuffix("__id")
    return bare if raw_columns.get(bare) in TEXT_TYPES else None


def _expressions(
    view: ResourceView, name: str, raw_type: str | None, bare_id: str | None = None
) -> list[str]:
    """The staging column(s) made from one raw column (or a typed NULL when it is absent)."""
    hint = view.hinted_types.get(name) or view.role_columns.get(name)
    column = quote(name) if raw_type else f"CAST(NULL AS {HINT_TYPES[hint or 'text']})"
    if bare_id is not None:
        column = f"COALESCE(CAST({column} AS VARCHAR), {quote(bare_id)})"
        raw_type = "VARCHAR"
    raw_type = raw_type or HINT_TYPES[hint or "text"]
    currency = view.currency_column
    unit = view.staged_amounts.get(name)
    if unit and currency:
        if unit == "major":  # 12.34 as sent; its minor units from the currency's exponent
            amount, minor = (
                f"CAST({column} AS {AMOUNT_TYPE})",
                minor_units_sql(column, quote(currency)),
            )
        else:
            amount, minor = major_units_sql(column, quote(currency)), f"CAST({column} AS BIGINT)"
        return [f"{amount} AS {quote(name)}", f"{minor} AS {quote(name + '_minor')}"]
    if name == currency:
        return [f"UPPER({column}) AS {quote(name)}"]
    if name == view.status_column:
        kept = [] if name == "status" else [f"{column} AS {quote(name)}"]
        return [f'{status_sql(view, column)} AS "status"', f'{column} AS "provider_status"', *kept]
    if raw_type.startswith("TIMESTAMP") and "WITH TIME ZONE" not in raw_type:
        return [f"({column} AT TIME ZONE 'UTC') AS {quote(name)}"]  # naive means UTC here
    if raw_type in TEXT_TYPES and (hint == "timestamp" or name.endswith("_at")):
        return [f"CAST({column} AS TIMESTAMP WITH TIME ZONE) AS {quote(name)}"]
    if raw_type in TEXT_TYPES and (hint == "date" or name.endswith("_date")):
        return [f"CAST({column} AS DATE) AS {quote(name)}"]
    return [f"{column} AS {quote(name)}"]


def select_sql(view: ResourceView, raw: str, raw_columns: Mapping[str, str]) -> str:
    """The staging table's query over `raw` (a table reference) whose columns are
    `raw_columns`."""
    present: dict[str, str | None] = {**raw_columns}
    for name in (*view.hinted_types, *view.role_columns):
        present.setdefault(name, None)
    # Every staging row says which provider account it came from ('default' with one).
    account = quote(ACCOUNT_COLUMN) if ACCOUNT_COLUMN in raw_columns else literal(DEFAULT_ACCOUNT)
    expressions = [f'{account} AS "account"'] + [
        expression
        for name, raw_type in present.items()
        if name not in (DLT_ROW_ID, ACCOUNT_COLUMN, "account", DELETED_AT)
        for expression in _expressions(
            view, name, raw_type, expandable_reference(view, name, raw_columns)
        )
    ]
    return f"SELECT {', '.join(expressions)} FROM ({latest_versions(view, raw, raw_columns)}) AS v"


def latest_versions(view: ResourceView, raw: str, raw_columns: Mapping[str, str]) -> str:
    """A query of every raw column of each record's newest version, the deleted left out."""
    # A record the provider deleted is not in staging (nor in the marts built on it): its
    # latest version says so, whatever older versions an appended table still holds.
    alive = f"{quote(DELETED_AT)} IS NULL" if DELETED_AT in raw_columns else "TRUE"
    newest_first = [
        f"{quote(name)} DESC NULLS LAST"
        for name in (view.cursor_column, "_loaded_at", "_dlt_load_id")
        if name and name in raw_columns
    ]
    if not view.key_columns:
        return f"SELECT * FROM {raw} WHERE {alive}"
    partition = ", ".join(quote(column) for column in view.key_columns)
    order = f" ORDER BY {', '.join(newest_first)}" if newest_first else ""
    return (
        f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition}{order}) "
        f"AS _version_rank FROM {raw}) AS versions WHERE _version_rank = 1 AND {alive}"
    )


def declared_columns(view: ResourceView) -> dict[str, str]:
    """The columns the YAML names (key, required, typed), as SQL types: the shape of a table
    whose API has returned nothing yet."""
    untyped = dict.fromkeys((*view.key_columns, *view.required_columns), "VARCHAR")
    hinted = {**view.role_columns, **view.hinted_types}
    return {**untyped, **{name: HINT_TYPES[kind] for name, kind in hinted.items()}}


def _nothing_yet(view: ResourceView) -> str:
    """An empty raw table of the declared shape (dlt creates a table with its first row)."""
    columns = ", ".join(
        f"CAST(NULL AS {kind}) AS {quote(name)}" for name, kind in declared_columns(view).items()
    )
    return f"(SELECT {columns} WHERE FALSE) AS nothing_yet"


def build_table(
    view: ResourceView, session: WarehouseSession, loaded: bool = False
) -> dict[str, dg.MetadataValue]:
    """Rebuild the staging table of `view`; its facts as materialization metadata.

    A raw table that does not exist is an error, unless the raw asset was `loaded` and the API
    simply had no records yet (billing's event log before its first deletion, say): then the
    staging table is empty, of the declared columns, and downstream builds on it.
    """
    schema, name = raw_dataset(view), staging_table(view)
    raw_columns = session.columns(schema, view.table)
    if not raw_columns and not loaded:
        raise StagingError(
            f"{staging_key(view).to_user_string()}: raw table {schema}.{view.table} is not in "
            f"the warehouse; materialize {raw_key(view).to_user_string()} first."
        )
    if raw_columns:
        raw, raw_rows = table_ref(schema, view.table), None
    else:
        raw_columns, raw, raw_rows = declared_columns(view), _nothing_yet(view), 0
    session.replace_table(STAGING, name, select_sql(view, raw, raw_columns))
    facts = table_facts(session, STAGING, name)
    if raw_rows is None:
        raw_rows = int(session.value(f"select count(*) from {raw}"))
    facts["raw_rows"] = dg.MetadataValue.int(raw_rows)
    if raw_rows == 0:
        facts["note"] = dg.MetadataValue.text(
            f"{raw_key(view).to_user_string()} has no rows yet: the API returned none."
        )
    if view.status_column in raw_columns:
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


DELETED_RECORDS = "deleted_records"
DELETED_RECORDS_KEY = dg.AssetKey([STAGING, DELETED_RECORDS])
_NO_DELETIONS = (
    "SELECT CAST(NULL AS VARCHAR) AS provider, CAST(NULL AS VARCHAR) AS resource, "
    "CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS record_id, "
    "CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS deleted_at, CAST(NULL AS VARCHAR) AS signal, "
    "CAST(NULL AS VARCHAR) AS mode WHERE FALSE"
)


def deleted_records_spec(views: Sequence[ResourceView], destination_kind: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=DELETED_RECORDS_KEY,
        deps=[raw_key(view) for view in views],
        description=(
            "Every record a provider deleted, one row each: the resource, account and id, when "
            "it was deleted, how we learnt it (marked on the record, an events resource, a "
            "webhook, absence from a snapshot) and the resource's mode (soft: the raw row is "
            "kept, marked; hard: it is removed). Read from each raw dataset's deletion ledger."
        ),
        group_name=STAGING,
        kinds={"sql", destination_kind},
        owners=["team:payments-data"],
        tags=layer_tags(STAGING),
        metadata={"dagster/table_name": f"{STAGING}.{DELETED_RECORDS}"},
    )


def build_deleted_records(
    views: Sequence[ResourceView], session: WarehouseSession
) -> dict[str, dg.MetadataValue]:
    """One table of every ledger's rows, for the marts that must count deletions."""
    parts = []
    for view in views:
        assert view.deletes is not None
        for dataset in view.dataset_names:
            if session.table_exists(dataset, LEDGER):
                parts.append(
                    f"SELECT {literal(view.provider)} AS provider, resource, account, record_id, "
                    f"deleted_at, signal, {literal(view.deletes.mode)} AS mode "
                    f"FROM {table_ref(dataset, LEDGER)} WHERE resource = {literal(view.name)}"
                )
    session.replace_table(STAGING, DELETED_RECORDS, " UNION ALL ".join(parts) or _NO_DELETIONS)
    return table_facts(session, STAGING, DELETED_RECORDS)


def staging_assets(
    specs: Sequence[ProviderSpec], destination_kind: str
) -> list[dg.AssetsDefinition]:
    """One asset per raw resource (and per nested list a role reads), all in one op: a refresh
    of every table is one step."""
    from .staged_lists import build_list_table, staged_list_spec  # built on this module's SQL

    views = staging_views(specs)
    tracked = [view for view in views if view.deletes is not None]
    lists = [(view, nested) for view in views for nested in view.role_lists]
    builds: list[tuple[dg.AssetKey, ResourceView, Callable[..., dict[str, dg.MetadataValue]]]] = [
        *((staging_key(view), view, partial(build_table, view)) for view in views),
        *(
            (staged_list_key(view, nested), view, partial(build_list_table, view, nested))
            for view, nested in lists
        ),
    ]
    specs_ = [
        *(staging_spec(view, destination_kind) for view in views),
        *(staged_list_spec(view, nested, destination_kind) for view, nested in lists),
        deleted_records_spec(tracked, destination_kind),
    ]

    @dg.multi_asset(
        name="staging_tables",
        specs=specs_,
        can_subset=True,
        op_tags=layer_tags(STAGING),
    )
    def build_staging(
        context: AssetExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.MaterializeResult]:
        failures = []
        with warehouse.session() as session:
            for key, view, build in builds:
                if key not in context.selected_asset_keys:
                    continue
                loaded = context.instance.get_latest_materialization_event(raw_key(view))
                try:
                    facts = build(session, loaded is not None)
                except Exception as error:  # one bad table must not hold back the others
                    context.log.error(f"{key.to_user_string()}: {error}")
                    failures.append(f"{key.to_user_string()}: {error}")
                    continue
                yield dg.MaterializeResult(asset_key=key, metadata=facts)
            if DELETED_RECORDS_KEY in context.selected_asset_keys:
                yield dg.MaterializeResult(
                    asset_key=DELETED_RECORDS_KEY, metadata=build_deleted_records(tracked, session)
                )
        if failures:
            raise StagingError("staging tables not built:\n" + "\n".join(failures))

    return [build_staging]
