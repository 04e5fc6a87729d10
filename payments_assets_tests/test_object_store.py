"""Exports to object storage by URL: `file://` and an S3-compatible server on loopback (moto's
`ThreadedMotoServer`, object_store_fixtures). Written whole or not at all, listed by URL."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import dagster as dg
import fsspec
import pyarrow as pa
import pyarrow.parquet
import pytest

from payments_assets.assets.exports import export_assets
from payments_assets.assets.marts import marts_for
from payments_assets.resources import ReportingExports, Warehouse
from payments_assets.specs import load_providers

PAN = "4242424242424242"


@pytest.fixture(params=["file", "s3"])
def export_url(request, tmp_path) -> str:
    if request.param == "file":
        return (tmp_path / "exports").as_uri()
    s3 = request.getfixturevalue("s3_server")
    return f"s3://{s3.create_bucket('exports')}/reporting"


def _table(amounts: list[str]) -> pa.Table:
    moment = datetime(2026, 10, 3, 12, 34, 56, tzinfo=timezone.utc)
    return pa.table(
        {
            "amount": pa.array([Decimal(a) for a in amounts], pa.decimal128(18, 3)),
            "at": pa.array([moment] * len(amounts), pa.timestamp("us", tz="UTC")),
            "note": [f"card {PAN}"] * len(amounts),
        }
    )


def _listing(url: str) -> list[str]:
    filesystem, root = fsspec.core.url_to_fs(url)
    filesystem.invalidate_cache()
    return sorted(path.rsplit("/", 1)[-1] for path in filesystem.ls(root, detail=False))


def test_object_store_exports_write_and_read_back_by_url(export_url):
    files = ReportingExports(folder=export_url).write("daily_revenue", _table(["1.500", "2.250"]))

    assert {f: w.url for f, w in files.items()} == {
        "csv": f"{export_url}/daily_revenue.csv",
        "parquet": f"{export_url}/daily_revenue.parquet",
    }
    with fsspec.open(files["parquet"].url, "rb") as source:
        parquet = pyarrow.parquet.read_table(source)
    with fsspec.open(files["csv"].url, "rt") as source:
        csv = source.read()
    assert sum(parquet.column("amount").to_pylist()) == Decimal("3.750")
    assert csv.splitlines()[1] == '1.500,"2026-10-03T12:34:56.000000Z","card 424242******4242"'
    assert PAN not in csv and "424242******4242" in csv
    assert files["csv"].size == len(csv.encode())
    assert _listing(export_url) == ["daily_revenue.csv", "daily_revenue.parquet"]


def test_object_store_failed_export_leaves_the_previous_one_whole(export_url, monkeypatch):
    exports = ReportingExports(folder=export_url)
    exports.write("daily_revenue", _table(["1.000"]))

    def half_then_fail(table, sink, **_):
        sink.write(b"PAR1" + b"\0" * 100_000)  # half a file, then the writer dies
        raise OSError("disk quota exceeded")

    monkeypatch.setattr(pyarrow.parquet, "write_table", half_then_fail)
    with pytest.raises(OSError, match="quota"):
        exports.write("daily_revenue", _table(["9.000", "9.000"]))
    monkeypatch.undo()

    with fsspec.open(f"{export_url}/daily_revenue.parquet", "rb") as source:
        assert pyarrow.parquet.read_table(source).column("amount").to_pylist() == [Decimal("1")]
    assert _listing(export_url) == ["daily_revenue.csv", "daily_revenue.parquet"], "no partial"


def test_object_store_export_assets_list_s3_urls_and_match_the_local_files(built, s3_server):
    bucket = s3_server.create_bucket("marts")
    result = dg.materialize(
        export_assets("duckdb"),
        resources={
            "warehouse": Warehouse(duckdb_path=str(built.database)),
            "exports": ReportingExports(folder=f"s3://{bucket}/exports"),
        },
    )
    metadata = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    for mart in marts_for(load_providers()):
        url = metadata[f"{mart.name}_export"]["parquet_url"].value
        assert url == f"s3://{bucket}/exports/{mart.name}.parquet"
        with fsspec.open(url, "rb") as source:
            in_bucket = pyarrow.parquet.read_table(source)
        on_disk = pyarrow.parquet.read_table(built.exports / f"{mart.name}.parquet")
        assert in_bucket.equals(on_disk), mart.name
