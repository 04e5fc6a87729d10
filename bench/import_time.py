"""Definitions import time against a bare `import dagster, dlt, dagster_dlt`, in fresh interpreters.

What `dagster dev`, the CLI and every run worker pay before doing anything: the code location's
import (YAML loading, placeholder sources, asset specs) on top of the libraries themselves.

    .venv/bin/python bench/import_time.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import compileall
import os

import harness

CASES = {
    "import dagster, dlt, dagster_dlt": "import dagster, dlt, dagster_dlt",
    "import payments_assets.definitions": "import payments_assets.definitions",
    "... + resolve the asset graph": (
        "import payments_assets.definitions as d; d.defs.resolve_asset_graph()"
    ),
}
CHILD = (
    "import time, json; started = time.perf_counter(); {code}; "
    "print(json.dumps({{'seconds': time.perf_counter() - started}}))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # What an installed package pays: its bytecode compiled once (pip does this on install; an
    # editable install under PYTHONDONTWRITEBYTECODE would recompile every module every time).
    compileall.compile_dir(harness.ROOT / "payments_assets", quiet=1)
    # As the code location loads with no provider configured: no network, no secret.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    # Rounds of every case in turn, so a load drift on a shared machine hits all cases alike.
    runs: dict[str, list[harness.ChildResult]] = {name: [] for name in CASES}
    for _ in range(args.repeat):
        for name, code in CASES.items():
            runs[name].append(harness.run_child(["-c", CHILD.format(code=code)], env))
    results = {
        name: (
            harness.median([r.seconds for r in done]),
            harness.median([r.peak_rss_mb for r in done]),
        )
        for name, done in runs.items()
    }
    bare = results["import dagster, dlt, dagster_dlt"][0]
    print(f"median of {args.repeat} fresh interpreters each, the cases interleaved")
    print(f"{'what':<38} {'seconds':>8} {'x bare':>7} {'peak RSS MB':>12}")
    for name, (seconds, rss) in results.items():
        print(f"{name:<38} {seconds:>8.2f} {seconds / bare:>7.2f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
