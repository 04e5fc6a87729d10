"""Reporting exports: every mart as a CSV (spreadsheets) and a Parquet file (BI tools, pandas),
written by the `exports` resource (`resources/exports.py`) into the folder or bucket reporting
tools read, and listed in the asset's metadata by URL.
"""

from collections.abc import Iterator, Sequence

import dagster as dg
from dagster import AssetExecutionContext

from ..layers import EXPORTS, export_key, layer_tags
from ..layers import MARTS as MARTS_SCHEMA
from ..resources import ReportingExports, Warehouse
from ..resources.exports import DEFAULT_EXPORT_DIR
from ..specs import load_providers
from ..warehouse_sql import quote, table_ref
from .mart_spec import Mart
from .marts import marts_for


def _export_spec(mart: Mart) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=export_key(mart.name),
        deps=[mart.key],
        description=(
            f"`{MARTS_SCHEMA}.{mart.name}` as `{mart.name}.csv` and `{mart.name}.parquet` in the "
            f"exports folder (PAYMENTS_EXPORT_DIR, default {DEFAULT_EXPORT_DIR}), for reporting "
            f"tools that do not query the warehouse. The mart answers: {mart.description}"
        ),
        group_name=EXPORTS,
        kinds={"csv", "parquet"},
        owners=["team:payments-data"],
        tags=layer_tags(EXPORTS),
    )


def export_assets(
    destination_kind: str, marts: Sequence[Mart] | None = None
) -> list[dg.AssetsDefinition]:
    """One export asset per mart, all in one op (each reads the warehouse once)."""
    marts = marts_for(load_providers()) if marts is None else marts

    @dg.multi_asset(
        name="mart_exports",
        specs=[_export_spec(mart) for mart in marts],
        can_subset=True,
        op_tags=layer_tags(EXPORTS),
    )
    def write_exports(
        context: AssetExecutionContext, warehouse: Warehouse, exports: ReportingExports
    ) -> Iterator[dg.MaterializeResult]:
        with warehouse.session() as session:
            for mart in marts:
                if export_key(mart.name) not in context.selected_asset_keys:
                    continue
                order = ", ".join(quote(column) for column in mart.grain)
                table = session.arrow(
                    f"SELECT * FROM {table_ref(MARTS_SCHEMA, mart.name)} ORDER BY {order}"
                )
                files = exports.write(mart.name, table)
                yield dg.MaterializeResult(
                    asset_key=export_key(mart.name),
                    metadata={
                        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
                        **{
                            f"{file_format}_url": dg.MetadataValue.url(written.url)
                            for file_format, written in files.items()
                        },
                        "bytes": dg.MetadataValue.int(sum(f.size for f in files.values())),
                    },
                )

    return [write_exports]
