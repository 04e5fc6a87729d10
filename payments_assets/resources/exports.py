"""The folder reporting tools read: one `<mart>.csv` and one `<mart>.parquet` per mart.

The folder comes from `PAYMENTS_EXPORT_DIR` (default `data/exports`). Files are replaced
atomically, so a reader sees the previous export or the new one, never half. Arrow's CSV and
Parquet writers are imported when an export runs: loading the definitions (every `dagster`
command, every run worker) should not pay for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ..card_numbers import mask_table
from .environment import env_or

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_EXPORT_DIR = "data/exports"
FORMATS = ("csv", "parquet")


class ReportingExports(dg.ConfigurableResource):
    """The folder reporting tools read; one `<mart>.csv` and one `<mart>.parquet` per mart."""

    folder: str = Field(default=DEFAULT_EXPORT_DIR, description="Where export files are written.")

    def write(self, name: str, table: pa.Table) -> dict[str, Path]:
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


def _iso_timestamps(table: pa.Table) -> pa.Table:
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
