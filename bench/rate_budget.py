"""What a request budget costs: one provider's load with and without `rate_limit`, against a
sandbox that answers as fast as it can and against one that limits each credential to R/s.

    .venv/bin/python bench/rate_budget.py [--records 2000] [--rate 20] [--provider billing]

Each case loads the provider's windowed resources (in parallel, as the assets do) over the
sandbox month through a plain dlt pipeline into a fresh DuckDB file, and prints the wall time,
the data requests the sandbox saw, the 429s it answered, and the seconds between the first and
last request. The floor for a budget of R/s is (requests - burst) / R.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import harness

from payments_assets.pipelines import duckdb_destination, run_pipeline
from payments_assets.sources import Window, build_source, connection_from_environ
from payments_assets.specs import PROVIDERS_DIR, ProviderSpec, load_providers, parse_provider


def _with_budget(spec: ProviderSpec, rate: float | None) -> ProviderSpec:
    """The provider's YAML with `rate_limit` set (or removed) and patient retries."""
    import yaml

    path = PROVIDERS_DIR / f"{spec.name}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.pop("rate_limit", None)
    if rate is not None:
        raw["rate_limit"] = {"requests_per_second": rate, "burst": max(1, int(rate // 4))}
    handler = raw["resource_defaults"]["endpoint"].setdefault("error_handler", {})
    handler.update(max_retries=20, backoff_factor=0.05, max_retry_delay=2)
    return parse_provider(yaml.safe_dump(raw), file=str(path), name=spec.name)


def _load(spec: ProviderSpec, sandbox: Any, folder: Path) -> dict[str, float]:
    start = datetime.combine(harness.START, datetime.min.time(), tzinfo=timezone.utc)
    window = Window(start, start + timedelta(days=harness.DAYS))
    sandbox.reset_stats()
    source = build_source(
        spec, connection_from_environ(spec, sandbox.env), window, [v.name for v in spec.windowed]
    )
    started = time.perf_counter()
    with run_pipeline(spec.name, duckdb_destination(folder / "w.duckdb"), spec.name) as pipeline:
        pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    stats = sandbox.stats()
    return {
        "seconds": seconds,
        "requests": stats["data_requests"].get(spec.name, 0),
        "rate_limited": stats["rate_limited"].get(spec.name, 0),
        "span": stats["request_span_seconds"].get(spec.name, 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--provider", default="billing")
    args = parser.parse_args()
    spec = next(s for s in load_providers() if s.name == args.provider)
    cases = [
        ("no budget, sandbox unlimited", None, 0.0),
        ("budget 1000/s (the bucket's own cost)", 1000.0, 0.0),
        (f"budget {args.rate:g}/s, sandbox unlimited", args.rate, 0.0),
        (f"no budget, sandbox limits {args.rate:g}/s", None, args.rate),
        (f"budget {args.rate:g}/s, sandbox limits {args.rate:g}/s", args.rate, args.rate),
    ]
    print(f"{args.provider}, {args.records} records per resource, windowed resources in parallel")
    print(f"{'case':<44} {'seconds':>8} {'requests':>9} {'429s':>6} {'span s':>7} {'floor s':>8}")
    results = {}
    for label, budget, limit in cases:
        with (
            harness.sandbox(args.records, rate_limit=limit) as sandbox,
            tempfile.TemporaryDirectory(prefix="bench-budget-") as folder,
        ):
            result = _load(_with_budget(spec, budget), sandbox, Path(folder))
        floor = (result["requests"] - max(1, int(budget // 4))) / budget if budget else 0.0
        results[label] = result
        print(
            f"{label:<44} {result['seconds']:>8.1f} {result['requests']:>9.0f} "
            f"{result['rate_limited']:>6.0f} {result['span']:>7.1f} {floor:>8.1f}"
        )
    unlimited, budgeted = (results[cases[0][0]], results[cases[1][0]])
    print(
        f"budget / unlimited (sandbox unlimited) = {budgeted['seconds'] / unlimited['seconds']:.2f}"
    )
    limited, kept = results[cases[2][0]], results[cases[3][0]]
    print(f"budget / no budget (sandbox limiting)  = {kept['seconds'] / limited['seconds']:.2f}")


if __name__ == "__main__":
    main()
