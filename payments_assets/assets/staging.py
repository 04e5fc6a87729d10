"""Staging layer: every raw table, cleaned the same way, as `staging.<provider>__<resource>`.

One factory reads the provider specs (primary key, version cursor, amount and currency columns,
column hints) so a new provider YAML gets staging tables without code. Tables are rebuilt in full
from the raw tables: a record's latest version can arrive in any later window (see
docs/lineage.md), and a full rebuild in SQL costs seconds at this scale.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster import AssetExecutionContext

from ..automation.declarative import downstream_condition
from ..card_numbers import mask_text
from ..resources import Warehouse
from ..specs import ACCOUNT_COLUMN, DEFAULT_ACCOUNT, ProviderSpec, ResourceSpec
from .amounts import major_units_sql
from .ingest import RAW_TAG as LAYER_TAG
from .status_vocabulary import STATUS_MAP, UNKNOWN, status_sql
from .warehouse_sql import WarehouseSession, warehouse_session, writer_pool

STAGING_SCHEMA = "staging"
DLT_ROW_ID = "_dlt_id"  # a row version's id in dlt's bookkeeping: meaningless downstream
TEXT_TYPES = frozenset({"VARCHAR", "TEXT", "CHARACTER VARYING", "STRING"})
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


def _quoted(name: str) -> str:
    return f'"{name}"'


@dataclass(frozen=True)
class StagingTable:
    """How one raw resource becomes its staging table, read from the provider spec."""

    spec: ProviderSpec
    resource: ResourceSpec

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def name(self) -> str:
        return f"{self.provider}__{self.resource.name}"

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([STAGING_SCHEMA, self.name])

    @property
    def raw_key(self) -> dg.AssetKey:
        return dg.AssetKey([self.provider, self.resource.name])

    @property
    def raw_dataset(self) -> str:
        """The schema of the raw table; accounts that share tables share it."""
        datasets = sorted({self.spec.dataset_of(account) for account in self.spec.account_names})
        if len(datasets) > 1:
            raise StagingError(
                f"{self.key.to_user_string()}: {self.provider} keeps each account in its own "
                f"dataset ({', '.join(datasets)}); staging reads one raw table per resource. "
                "Use `account_isolation: column` in the provider YAML."
            )
        return datasets[0]

    @property
    def primary_key(self) -> tuple[str, ...]:
        key = self.spec.primary_key_of(self.resource)
        return () if key is None else (key,) if isinstance(key, str) else tuple(key)

    @property
    def version_column(self) -> str | None:
        """The record's update time, which decides its latest version (dlt flattens with `__`)."""
        incremental = self.spec.endpoint_of(self.resource).incremental
        return incremental.cursor_path.replace(".", "__") if incremental else None

    @property
    def hinted_types(self) -> dict[str, str]:
        return {
            name: hint.data_type for name, hint in self.resource.columns.items() if hint.data_type
        }

    def description(self) -> str:
        quality = self.resource.quality
        what = self.resource.description or f"{self.resource.name} from the {self.provider} API."
        money = (
            f" Amounts ({', '.join(quality.amount_columns)}) are exact decimals in major units of "
            f"`{quality.currency_column}` (`<amount>_minor` keeps the API's integer)."
            if quality.amount_columns and quality.currency_column
            else ""
        )
        statuses = (
            ", `status` in the common vocabulary (`provider_status` keeps the API's word)"
            if (self.provider, self.resource.name) in STATUS_MAP
            else ""
        )
        return (
            f"{what} Staged from raw `{self.provider}.{self.resource.name}`: one row per "
            f"`{', '.join(self.primary_key) or 'row'}` (its latest version), timestamps in UTC"
            f"{statuses}.{money}"
        )

    def asset_spec(self, destination_kind: str) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=self.key,
            deps=[self.raw_key],
            description=self.description(),
            group_name=STAGING_SCHEMA,
            kinds={"sql", destination_kind},
            owners=list(self.spec.owners),
            tags={LAYER_TAG: "staging", "payments/provider": self.provider},
            metadata={
                "dagster/table_name": f"{STAGING_SCHEMA}.{self.name}",
                "source_table": f"{self.provider}.{self.resource.name}",
                "primary_key": ", ".join(self.primary_key),
            },
            automation_condition=downstream_condition(),
        )

    def _expressions(self, name: str, raw_type: str | None) -> list[str]:
        """The staging column(s) made from one raw column (or a typed NULL when it is absent)."""
        quality = self.resource.quality
        hint = self.hinted_types.get(name)
        column = _quoted(name) if raw_type else f"CAST(NULL AS {HINT_TYPES[hint or 'text']})"
        raw_type = raw_type or HINT_TYPES[hint or "text"]
        if name in quality.amount_columns and quality.currency_column:
            amount = major_units_sql(column, _quoted(quality.currency_column))
            return [
                f"{amount} AS {_quoted(name)}",
                f"CAST({column} AS BIGINT) AS {_quoted(name + '_minor')}",
            ]
        if name == quality.currency_column:
            return [f"UPPER({column}) AS {_quoted(name)}"]
        if name == "status":
            mapped = status_sql(self.provider, self.resource.name, column)
            return [f'{mapped} AS "status"', f'{column} AS "provider_status"']
        if raw_type.startswith("TIMESTAMP") and "WITH TIME ZONE" not in raw_type:
            return [f"({column} AT TIME ZONE 'UTC') AS {_quoted(name)}"]  # naive means UTC here
        if raw_type in TEXT_TYPES and (hint == "timestamp" or name.endswith("_at")):
            return [f"CAST({column} AS TIMESTAMP WITH TIME ZONE) AS {_quoted(name)}"]
        if raw_type in TEXT_TYPES and (hint == "date" or name.endswith("_date")):
            return [f"CAST({column} AS DATE) AS {_quoted(name)}"]
        return [f"{column} AS {_quoted(name)}"]

    def select_sql(self, raw_schema: str, raw_columns: Mapping[str, str]) -> str:
        """The staging table's query over the raw table whose columns are `raw_columns`."""
        present: dict[str, str | None] = {**raw_columns}
        for name in self.hinted_types:
            present.setdefault(name, None)
        # Every staging row says which provider account it came from ('default' with one).
        account = (
            _quoted(ACCOUNT_COLUMN) if ACCOUNT_COLUMN in raw_columns else f"'{DEFAULT_ACCOUNT}'"
        )
        expressions = [f'{account} AS "account"'] + [
            expression
            for name, raw_type in present.items()
            if name not in (DLT_ROW_ID, ACCOUNT_COLUMN, "account")
            for expression in self._expressions(name, raw_type)
        ]
        newest_first = [
            f"{_quoted(name)} DESC NULLS LAST"
            for name in (self.version_column, "_loaded_at", "_dlt_load_id")
            if name and name in raw_columns
        ]
        raw = f"{_quoted(raw_schema)}.{_quoted(self.resource.name)}"
        if not self.primary_key:
            return f"SELECT {', '.join(expressions)} FROM {raw}"
        partition = ", ".join(_quoted(column) for column in self.primary_key)
        order = f" ORDER BY {', '.join(newest_first)}" if newest_first else ""
        return (
            f"SELECT {', '.join(expressions)} FROM (SELECT *, ROW_NUMBER() OVER "
            f"(PARTITION BY {partition}{order}) AS _version_rank FROM {raw}) AS versions "
            "WHERE _version_rank = 1"
        )

    def build(self, session: WarehouseSession) -> dict[str, dg.MetadataValue]:
        """Rebuild the table; its facts as materialization metadata."""
        raw_schema = self.raw_dataset
        raw_columns = session.columns(raw_schema, self.resource.name)
        if not raw_columns:
            raise StagingError(
                f"{self.key.to_user_string()}: raw table {raw_schema}.{self.resource.name} is "
                f"not in the warehouse; materialize {self.raw_key.to_user_string()} first."
            )
        session.replace_table(STAGING_SCHEMA, self.name, self.select_sql(raw_schema, raw_columns))
        facts = session.table_facts(STAGING_SCHEMA, self.name)
        [(raw_rows,)] = session.rows(f'select count(*) from "{raw_schema}"."{self.resource.name}"')
        facts["raw_rows"] = dg.MetadataValue.int(int(raw_rows))
        if "status" in raw_columns:
            unmapped = session.rows(
                f'select distinct provider_status from "{STAGING_SCHEMA}"."{self.name}" '
                f"where status = '{UNKNOWN}' order by 1"
            )
            facts["unmapped_statuses"] = dg.MetadataValue.text(
                mask_text(", ".join(str(value) for (value,) in unmapped)) or "none"
            )
        return facts


def staging_tables(specs: Sequence[ProviderSpec]) -> list[StagingTable]:
    return [StagingTable(spec, resource) for spec in specs for resource in spec.resources]


def staging_assets(
    specs: Sequence[ProviderSpec], destination_kind: str
) -> list[dg.AssetsDefinition]:
    """One asset per raw resource, all in one op: a refresh of every table is one step."""
    tables = staging_tables(specs)

    @dg.multi_asset(
        name="staging_tables",
        specs=[table.asset_spec(destination_kind) for table in tables],
        can_subset=True,
        pool=writer_pool(destination_kind),
        op_tags={LAYER_TAG: "staging"},
    )
    def build_staging(
        context: AssetExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.MaterializeResult]:
        failures = []
        with warehouse_session(warehouse) as session:
            for table in tables:
                if table.key not in context.selected_asset_keys:
                    continue
                try:
                    facts = table.build(session)
                except Exception as error:  # one bad table must not hold back the others
                    context.log.error(f"{table.key.to_user_string()}: {error}")
                    failures.append(f"{table.key.to_user_string()}: {error}")
                    continue
                yield dg.MaterializeResult(asset_key=table.key, metadata=facts)
        if failures:
            raise StagingError("staging tables not built:\n" + "\n".join(failures))

    return [build_staging]
