"""What every benchmark script shares: a sandbox, one child process per measurement, medians.

Each measurement runs in a fresh Python process so its peak RSS is its own (`os.wait4` returns
the rusage of that one child) and no import or cache from a previous path warms it up.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from payments_assets.sandbox import SandboxHandle, running_sandbox  # noqa: E402

START = date(2026, 10, 1)  # the providers' partitions start here
DAYS = 30
FIRST_DAY, LAST_DAY = "2026-10-01", "2026-10-30"


@contextmanager
def sandbox(records: int, latency_ms: int = 0, **options: Any) -> Iterator[SandboxHandle]:
    """The sandbox every path of one comparison reads: same data, same port."""
    with running_sandbox(
        records=records, start=START, days=DAYS, seed=1, latency_ms=latency_ms, **options
    ) as handle:
        yield handle


@dataclass(frozen=True)
class ChildResult:
    seconds: float  # wall time the child reports for the measured section
    peak_rss_mb: float  # the child's own high-water mark, imports included
    cpu_seconds: float  # the child's user + system time, imports included
    report: dict[str, Any]


def run_child(argv: Sequence[str], env: Mapping[str, str], timeout: float = 3600) -> ChildResult:
    """Run `python argv...`; the child prints one JSON line with at least `seconds`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # Files, not pipes: Dagster and dlt log enough to fill a pipe and stall the child.
        process = subprocess.Popen(
            [sys.executable, *argv],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=err,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise TimeoutError(f"{' '.join(argv)} ran longer than {timeout:.0f} s")
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {code}:\n{stderr[-4000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return ChildResult(report["seconds"], usage.ru_maxrss / 1024, cpu, report)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def emit(report: Mapping[str, Any]) -> None:
    """What a child prints last: one JSON line the parent reads."""
    print(json.dumps(report), flush=True)
