"""Reporting exports: every mart as a CSV (spreadsheets) and a Parquet file (BI tools, pandas).

The folder comes from the `exports` resource (`PAYMENTS_EXPORT_DIR`, default `data/exports`).
Files are replaced atomically, so a reader sees the previous export or the new one, never half.
Arrow's CSV and Parquet writers are imported when an export runs: loading the definitions
(every `dagster` command, every run worker) should not pay for them.
"""

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from dagster import AssetExecutionContext
from pydantic import Field

from ..automation.declarative import downstream_condition
from ..card_numbers import mask_table
from ..resources import Warehouse, env_or
from .ingest import RAW_TAG as LAYER_TAG
from .marts import MARTS, MARTS_SCHEMA, Mart
from .warehouse_sql import warehouse_session, writer_pool

if TYPE_CHECKING:
    import pyarrow as pa

EXPORTS_GROUP = "exports"
DEFAULT_EXPORT_DIR = "data/exports"
FORMATS = ("csv", "parquet")


class ReportingExports(dg.ConfigurableResource):
    """The folder reporting tools read; one `<mart>.csv` and one `<mart>.parquet` per mart."""

    folder: str = Field(default=DEFAULT_EXPORT_DIR, description="Where export files are written.")

    def write(self, name: str, table: "pa.Table") -> dict[str, Path]:
        """Write `table` as `<name>.csv` and `<name>.parquet`; the paths by format.

        Card numbers are masked once more here: a file is the last door out of the warehouse,
        and whatever wrote the tables before, none leaves it in clear.
        """
        import pyarrow.csv
        import pyarrow.parquet

        table = mask_table(table)
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for file_format in FORMATS:
            path = folder / f"{name}.{file_format}"
            temporary = folder / f".{path.name}.partial"
            if file_format == "csv":
                pyarrow.csv.write_csv(_iso_timestamps(table), temporary)
            else:
                pyarrow.parquet.write_table(table, temporary)
            os.replace(temporary, path)
            paths[file_format] = path
        return paths


def _iso_timestamps(table: "pa.Table") -> "pa.Table":
    """Timestamps as ISO 8601 in UTC (`2026-10-01T12:34:56.000000Z`) rather than Arrow's
    `2026-10-01 12:34:56.000000+0000`, which not every spreadsheet or parser reads."""
    import pyarrow as pa
    import pyarrow.compute

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            utc = table.column(index).cast(pa.timestamp(field.type.unit, tz="UTC"))
            text = pyarrow.compute.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(index, field.name, text)
    return table


def reporting_exports(environ: Mapping[str, str] | None = None) -> ReportingExports:
    """The exports resource; `PAYMENTS_EXPORT_DIR` when it is set at load."""
    return ReportingExports(folder=env_or("PAYMENTS_EXPORT_DIR", DEFAULT_EXPORT_DIR, environ))


def export_key(mart: Mart) -> dg.AssetKey:
    return dg.AssetKey([EXPORTS_GROUP, f"{mart.name}_export"])


def _export_spec(mart: Mart) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=export_key(mart),
        deps=[mart.key],
        description=(
            f"`{MARTS_SCHEMA}.{mart.name}` as `{mart.name}.csv` and `{mart.name}.parquet` in the "
            f"exports folder (PAYMENTS_EXPORT_DIR, default {DEFAULT_EXPORT_DIR}), for reporting "
            f"tools that do not query the warehouse. The mart answers: {mart.question}"
        ),
        group_name=EXPORTS_GROUP,
        kinds={"csv", "parquet"},
        owners=["team:payments-data"],
        tags={LAYER_TAG: "exports"},
        automation_condition=downstream_condition(),
    )


def export_assets(
    destination_kind: str, marts: Sequence[Mart] = MARTS
) -> list[dg.AssetsDefinition]:
    """One export asset per mart, all in one op (each reads the warehouse once)."""

    @dg.multi_asset(
        name="mart_exports",
        specs=[_export_spec(mart) for mart in marts],
        can_subset=True,
        # Reads only, but a DuckDB file admits no other process while one holds it open.
        pool=writer_pool(destination_kind),
        op_tags={LAYER_TAG: "exports"},
    )
    def write_exports(
        context: AssetExecutionContext, warehouse: Warehouse, exports: ReportingExports
    ) -> Iterator[dg.MaterializeResult]:
        with warehouse_session(warehouse) as session:
            for mart in marts:
                if export_key(mart) not in context.selected_asset_keys:
                    continue
                order = ", ".join(f'"{column}"' for column in mart.grain)
                table = session.arrow(
                    f'SELECT * FROM "{MARTS_SCHEMA}"."{mart.name}" ORDER BY {order}'
                )
                paths = exports.write(mart.name, table)
                yield dg.MaterializeResult(
                    asset_key=export_key(mart),
                    metadata={
                        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
                        **{
                            f"{file_format}_path": dg.MetadataValue.path(str(path.resolve()))
                            for file_format, path in paths.items()
                        },
                        "bytes": dg.MetadataValue.int(
                            sum(path.stat().st_size for path in paths.values())
                        ),
                    },
                )

    return [write_exports]
