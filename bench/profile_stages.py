"""Where a load's time goes, by stage: dlt's steps timed in the loading process, and py-spy
samples of it sorted into stages.

`--timers` runs (a) in a child that times dlt's own steps (build_source, extract, normalize,
load: wall and process CPU, all threads) inside the Dagster run; what is left of the run is
Dagster's (run and step events, per-partition materializations, metadata, the warehouse
sessions of the asset body). The child's CPU before the run (imports, definitions) and after
it (the interpreter's exit) comes from its rusage. Python's cyclic collector is timed across all
stages (`gc.callbacks`), and the sandbox's CPU serving the run is read from /proc: it runs on
the same two cores, so it is part of what a load costs the machine here.

Without `--timers`, py-spy (a measuring tool, not a project dependency: `pip install py-spy`
into the venv) samples the loading process `--rate` times a second; with `--gil` (the default
here) only the thread holding the GIL is sampled, so the split is of Python's CPU time, and
threads waiting on sockets or locks are not counted. Native work that releases
the GIL (DuckDB's merge, Arrow kernels, parquet writing) is undercounted by `--gil`;
`--no-gil` samples every thread's wall time instead.

    .venv/bin/python bench/profile_stages.py --records 20000 --timers --repeat 3
    .venv/bin/python bench/profile_stages.py --records 20000            # (a), this project
    .venv/bin/python bench/profile_stages.py --records 20000 --path raw

A sample belongs to the first stage below whose test its stack passes: imports, masking, then
dlt's normalize and load steps, then the extract step's parts by the innermost frame (Arrow
conversion, HTTP, the response check with its JSON parse), the rest of extract, dlt's own
pipeline setup and state sync, and Dagster (run events, metadata, the event log).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness

_Test = tuple[str, ...]
WAITING: _Test = ("Condition.wait", "_wait_for_tstate_lock", "(selectors.py", "(queue.py")
WHOLE_STACK: tuple[tuple[str, _Test], ...] = (
    ("imports", ("importlib._bootstrap",)),
    ("masking", ("card_numbers.py",)),
    ("dlt normalize", ("Pipeline.normalize",)),
    ("load / merge", ("Pipeline.load",)),
)
INNERMOST: tuple[tuple[str, _Test], ...] = (
    ("extract: Arrow conversion", ("sources/arrow.py",)),
    ("extract: response check + JSON", ("sources/responses.py",)),
    ("extract: HTTP", ("requests/", "urllib3/", "http/client")),
)
FALLBACK: tuple[tuple[str, _Test], ...] = (
    ("extract: dlt pipe, writers", ("dlt/extract/", "Pipeline.extract")),
    ("dlt setup, state sync, trace", ("dlt/",)),
    ("Dagster events, metadata", ("dagster",)),
)


def stage(frames: Sequence[str]) -> str:
    """The stage a sampled stack (outermost frame first) belongs to."""
    stack = ";".join(frames)
    if any(test in frames[-1] for test in WAITING):
        return "waiting"
    for name, tests in WHOLE_STACK:
        if any(test in stack for test in tests):
            return name
    for frame in reversed(frames):
        for name, tests in INNERMOST:
            if any(test in frame for test in tests):
                return name
    for name, tests in FALLBACK:
        if any(test in stack for test in tests):
            return name
    return "other (interpreter, GC, no Python frame)"


def split(raw: Path) -> collections.Counter[str]:
    """Samples per stage from py-spy's raw (collapsed stacks) output."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        counts[stage(stack.split(";"))] += int(count)
    return counts


def record(path: str, records: int, rate: int, gil: bool, out: Path) -> float:
    """Profile one load by `path` against a fresh sandbox; returns the load's own seconds."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy (measurement only)")
    with harness.sandbox(records) as sandbox, tempfile.TemporaryDirectory() as folder:
        argv = [spy, "record", "-r", str(rate), "-f", "raw", "-o", str(out)]
        argv += ["--gil"] if gil else []
        argv += ["--", sys.executable, "bench/ingest_paths.py", path, "--folder", folder]
        env = {**os.environ, **sandbox.env, "PYTHONPATH": str(harness.ROOT)}
        done = subprocess.run(argv, env=env, cwd=harness.ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
    report = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return float(harness.json.loads(report[-1])["seconds"])


TIMED_STEPS = ("build_source", "extract", "normalize", "load")


def timed_child(folder: Path) -> None:
    """(a) with dlt's steps timed; prints one JSON line of (wall, CPU) seconds per step."""
    import functools
    import gc
    import time

    import ingest_paths
    from dlt.pipeline.pipeline import Pipeline

    from payments_assets.sources import build

    steps: dict[str, list[float]] = {name: [0.0, 0.0] for name in TIMED_STEPS}
    collector = {"seconds": 0.0, "passes": 0, "started": 0.0}

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collector["started"] = time.perf_counter()
        else:
            collector["seconds"] += time.perf_counter() - collector["started"]
            collector["passes"] += 1

    def timed(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                steps[name][0] += time.perf_counter() - wall
                steps[name][1] += time.process_time() - cpu

        setattr(owner, name, wrapper)

    for name in ("extract", "normalize", "load"):
        timed(Pipeline, name)
    timed(build, "build_source")  # the asset body imports it from the module when it runs
    load = ingest_paths.run_dagster("billing", folder / "warehouse.duckdb", folder / "dlt")
    before = time.process_time()
    wall, cpu = time.perf_counter(), time.process_time()
    gc.callbacks.append(on_collection)
    load()
    gc.callbacks.remove(on_collection)
    run = [time.perf_counter() - wall, time.process_time() - cpu]
    harness.emit(
        {
            "seconds": run[0],
            "run": run,
            "before": before,
            "steps": steps,
            "collector": [collector["seconds"], collector["passes"]],
        }
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timers(records: int, repeat: int) -> None:
    """Medians over `repeat` children of each step's wall and CPU seconds."""
    rows: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    passes: list[int] = []
    with harness.sandbox(records) as sandbox:
        for _ in range(repeat):
            served = process_cpu_seconds(sandbox.process.pid)
            with tempfile.TemporaryDirectory() as folder:
                argv = [__file__, "--child", folder]
                child = harness.run_child(argv, sandbox.env)
            served = process_cpu_seconds(sandbox.process.pid) - served
            report = child.report
            run_wall, run_cpu = report["run"]
            steps = {name: tuple(report["steps"][name]) for name in TIMED_STEPS}
            rows["imports, definitions (before the run)"].append((0.0, report["before"]))
            for name, (wall, cpu) in steps.items():
                rows[f"dlt {name}"].append((wall, cpu))
            rows["Dagster: the run outside dlt's steps"].append(
                (
                    run_wall - sum(wall for wall, _ in steps.values()),
                    run_cpu - sum(cpu for _, cpu in steps.values()),
                )
            )
            rows["the interpreter's exit"].append(
                (0.0, child.cpu_seconds - report["before"] - run_cpu)
            )
            rows["(a)'s run, whole"].append((run_wall, run_cpu))
            rows["  of which the cyclic collector"].append((report["collector"][0], 0.0))
            passes.append(report["collector"][1])
            rows["client process, whole"].append((0.0, child.cpu_seconds))
            rows["the sandbox serving it (own process)"].append((0.0, served))
    print(f"(a), N = {records}: medians of {repeat} runs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'stage':<40} {'wall s':>7} {'CPU s':>7}")
    for name, values in rows.items():
        wall = harness.median([w for w, _ in values])
        cpu = harness.median([c for _, c in values])
        print(f"{name:<40} {wall:>7.2f} {cpu:>7.2f}")
    print(f"collector passes during the run (median): {harness.median(passes):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="dagster")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=200, help="samples a second")
    parser.add_argument("--no-gil", dest="gil", action="store_false")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks here")
    parser.add_argument("--timers", action="store_true", help="time dlt's steps instead")
    parser.add_argument("--repeat", type=int, default=3, help="runs, with --timers")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        timed_child(args.child)
        return
    if args.timers:
        timers(args.records, args.repeat)
        return
    out = args.raw or Path(tempfile.mkdtemp()) / "stacks.txt"
    seconds = record(args.path, args.records, args.rate, args.gil, out)
    counts = split(out)
    total = sum(counts.values())
    load = os.getloadavg()[0]
    print(f"{args.path}, N = {args.records}: load {seconds:.1f} s (under py-spy), "
          f"{total / args.rate:.1f} s of samples, load average {load:.2f}")  # fmt: skip
    for name, count in counts.most_common():
        print(f"{name:<42} {count / args.rate:6.2f} s {count / total:7.1%}")


if __name__ == "__main__":
    main()
