"""Requests a one-day partition sends against a full load, per provider (sandbox counters).

The partition window reaches the API as its own filter parameters, so a day asks for a day's
pages, not for everything and a client-side filter.

    .venv/bin/python bench/partition_requests.py [--records 2000] [--day 2026-10-15]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from pathlib import Path

import harness


def _materialize(tags_or_key: dict[str, str], folder: Path) -> None:
    import dagster as dg

    from payments_assets.assets.ingest import ingest_assets
    from payments_assets.resources import build_resources
    from payments_assets.specs import load_providers

    os.environ.update(
        PAYMENTS_DUCKDB_PATH=str(folder / "warehouse.duckdb"),
        PAYMENTS_DLT_WORKDIR=str(folder / "dlt"),
        PAYMENTS_DESTINATION="duckdb",
    )
    specs = load_providers()
    assets = [asset for asset in ingest_assets(specs, "duckdb") if asset.partitions_def is not None]
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            assets, resources=build_resources(specs, os.environ), instance=instance, **tags_or_key
        )
    assert result.success


def _by_provider(requests: dict[str, int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path, count in requests.items():
        if "/oauth/" not in path:
            counts[path.split("/")[1]] += count
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--day", default="2026-10-15")
    args = parser.parse_args()
    with harness.sandbox(args.records) as sandbox, tempfile.TemporaryDirectory() as folder:
        os.environ.update(sandbox.env)
        sandbox.reset_stats()
        _materialize({"partition_key": args.day}, Path(folder) / "day")
        day = _by_provider(sandbox.stats()["requests"])
        sandbox.reset_stats()
        full_range = {
            "dagster/asset_partition_range_start": harness.FIRST_DAY,
            "dagster/asset_partition_range_end": harness.LAST_DAY,
        }
        _materialize({"tags": full_range}, Path(folder) / "full")
        full = _by_provider(sandbox.stats()["requests"])
    print(f"{args.records} records per resource over {harness.DAYS} days; windowed resources")
    print(f"{'provider':<14} {'one day':>8} {'full load':>10} {'ratio':>7}")
    for provider in sorted(full):
        print(
            f"{provider:<14} {day[provider]:>8} {full[provider]:>10} "
            f"{day[provider] / full[provider]:>7.3f}"
        )
    total_day, total_full = sum(day.values()), sum(full.values())
    print(f"{'all':<14} {total_day:>8} {total_full:>10} {total_day / total_full:>7.3f}")


if __name__ == "__main__":
    main()
