"""Where reporting tools read the marts: one `<mart>.csv` and one `<mart>.parquet` per mart, in a
folder or a bucket named by URL.

`PAYMENTS_EXPORT_DIR` (default `data/exports`) is a local path or any fsspec URL: `file://…`,
`s3://bucket/prefix` (extra `s3`: s3fs), `gs://…` (gcsfs), `az://…` (adlfs). Credentials come the
way each library reads them (for S3: `AWS_*` variables, an instance role, `AWS_ENDPOINT_URL` for
an S3-compatible store), never through this project. Run pods then keep nothing on local disk.

Each file is written under a hidden temporary name beside its final one and then moved into
place: a rename on a filesystem, a server-side copy on an object store (the new object appears
whole). A reader sees the previous export or the new one, never half; a failed write removes its
temporary file and leaves the previous export as it was. Arrow's CSV and Parquet writers are
imported when an export runs: loading the definitions should not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from ..card_numbers import mask_table
from .environment import env_or

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_EXPORT_DIR = "data/exports"
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ExportedFile:
    """One written export: where readers find it (a URL) and its size."""

    url: str
    size: int


class ReportingExports(dg.ConfigurableResource):
    """The folder or bucket reporting tools read; one CSV and one Parquet file per mart."""

    folder: str = Field(
        default=DEFAULT_EXPORT_DIR,
        description="A local folder or an fsspec URL (file://, s3://, gs://, az://).",
    )

    def write(self, name: str, table: pa.Table) -> dict[str, ExportedFile]:
        """Write `table` as `<name>.csv` and `<name>.parquet`; the files by format.

        Card numbers are masked once more here: a file is the last door out of the warehouse,
        and whatever wrote the tables before, none leaves it in clear.
        """
        import fsspec
        import pyarrow.csv
        import pyarrow.parquet

        table = mask_table(table)
        filesystem, root = fsspec.core.url_to_fs(self.folder)
        if "file" in filesystem.protocol:  # a bucket is never created by an export
            filesystem.makedirs(root, exist_ok=True)
        writers: dict[str, Callable[[IO[bytes]], None]] = {
            "csv": lambda sink: pyarrow.csv.write_csv(_iso_timestamps(table), sink),
            "parquet": lambda sink: pyarrow.parquet.write_table(table, sink),
        }
        written = {}
        for file_format in FORMATS:
            path = f"{root.rstrip('/')}/{name}.{file_format}"
            _write_then_move(filesystem, path, writers[file_format])
            written[file_format] = ExportedFile(
                filesystem.unstrip_protocol(path), filesystem.size(path)
            )
        return written


def _write_then_move(filesystem: Any, path: str, write: Callable[[IO[bytes]], None]) -> None:
    """`write` into a hidden name beside `path`, then move it over `path`; on failure, remove it."""
    folder, _, name = path.rpartition("/")
    temporary = f"{folder}/.{name}.partial"
    try:
        with filesystem.open(temporary, "wb") as sink:
            write(sink)
        filesystem.mv(temporary, path)
    except BaseException:
        if filesystem.exists(temporary):
            filesystem.rm(temporary)
        raise


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
