"""Rows per second and peak memory of four ways to load the same provider data into DuckDB.

For each N, one sandbox serves the data and every path loads all of the provider's windowed
resources from it, each in its own fresh process (see `ingest_paths.py`), `--repeat` times in
turn; the table shows medians. Ratios compare this project's Dagster materialization (a) with
the best-tuned plain dlt pipeline (b), the raw reference (c) and dlt's defaults (d).

    .venv/bin/python bench/ingest_throughput.py                       # billing, N = 20k and 200k
    .venv/bin/python bench/ingest_throughput.py --records 20000 --latency-ms 50
    .venv/bin/python bench/ingest_throughput.py --provider direct_debit --paths dagster raw

The machine is shared: a run's wall time moves with everyone else's load, so read the medians,
and `client CPU s` (user + system time of the loading process alone) as the steadier figure.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict

import harness

DEFAULTS_MAX_RECORDS = 50_000
PATHS = {
    "dagster": "(a) this project, through Dagster",
    "dagster_unmasked": "(a') the same, card masking switched off",
    "dlt_tuned": "(b) plain dlt rest_api, tuned",
    "raw": "(c) raw: requests + Arrow + DuckDB",
    "dlt_defaults": "(d) plain dlt rest_api, defaults",
}


def measure(
    records: int, latency_ms: int, provider: str, paths: list[str], repeat: int
) -> dict[str, list[harness.ChildResult]]:
    results: dict[str, list[harness.ChildResult]] = defaultdict(list)
    with harness.sandbox(records, latency_ms) as sandbox:
        for _ in range(repeat):
            for path in paths:  # interleaved, so load drifts hit every path alike
                with tempfile.TemporaryDirectory(prefix="bench-") as folder:
                    argv = ["bench/ingest_paths.py", path, "--provider", provider]
                    results[path].append(
                        harness.run_child([*argv, "--folder", folder], sandbox.env)
                    )
    return results


def report(records: int, latency_ms: int, results: dict[str, list[harness.ChildResult]]) -> None:
    rates = {}
    for path, runs in results.items():
        rates[path] = harness.median([r.report["rows"] / r.seconds for r in runs])
    print(f"\nN = {records} records per resource, latency {latency_ms} ms, medians of "
          f"{len(next(iter(results.values())))} runs")  # fmt: skip
    header = f"{'path':<40} {'rows':>8} {'rows/s':>8} {'peak RSS MB':>12} {'client CPU s':>13}"
    print(header)
    for path, runs in results.items():
        rows = runs[0].report["rows"]
        rss = harness.median([r.peak_rss_mb for r in runs])
        cpu = harness.median([r.cpu_seconds for r in runs])
        print(f"{PATHS[path]:<40} {rows:>8} {rates[path]:>8.0f} {rss:>12.0f} {cpu:>13.1f}")
    if "dagster" in rates:
        for other, label in (("dlt_tuned", "a/b"), ("raw", "a/c"), ("dlt_defaults", "a/d")):
            if other in rates:
                print(f"{label} = {rates['dagster'] / rates[other]:.2f}")
        if "dagster_unmasked" in rates:
            cpu = {p: harness.median([r.cpu_seconds for r in results[p]]) for p in results}
            print(
                f"masking cost = {1 - rates['dagster'] / rates['dagster_unmasked']:.1%} of rows/s, "
                f"{cpu['dagster'] / cpu['dagster_unmasked'] - 1:.1%} of client CPU"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--provider", default="billing")
    default = [path for path in PATHS if path != "dagster_unmasked"]
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=default)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for records in args.records:
        paths = args.paths
        if records > DEFAULTS_MAX_RECORDS and "dlt_defaults" in paths:
            # Its peak memory grows with N (about 5 GB at 20k): 200k would not fit this machine.
            print(f"\n(d) skipped at N = {records}: dlt's defaults need memory in proportion to N")
            paths = [path for path in paths if path != "dlt_defaults"]
        results = measure(records, args.latency_ms, args.provider, paths, args.repeat)
        report(records, args.latency_ms, results)


if __name__ == "__main__":
    main()
