"""The local run launcher: Dagster's default one, plus a health check run monitoring can use.

A run killed outright (SIGKILL, an OOM kill, a closed laptop) never reports its end, so it stays
STARTED: it keeps one of `max_concurrent_runs` (the queue then starts fewer runs, and none once
every place is held by the dead) and its pool slots. Dagster's run monitoring fails such runs,
but only for launchers that can tell whether a run's worker is alive, and the default launcher
cannot. The project's executor writes each run's process id and host into its tags
(`executor.py`), so this launcher can: a run whose process on this host is gone has FAILED, and
the monitoring daemon marks it failed, which frees its queue place and (after
`free_slots_after_run_end_seconds`) its pool slots. It sees every run of the instance, however
launched: a CLI run, a `dg launch`, a schedule's or a sensor's.
"""

from __future__ import annotations

import socket

from dagster import DagsterRun
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

from .executor import HOST_TAG, PID_TAG, process_is_gone


def run_process_health(run: DagsterRun, host: str | None = None) -> CheckRunHealthResult:
    """FAILED when the run's process on this host is gone; RUNNING whenever that cannot be
    told (no tags yet, another host): run monitoring fails a run for any other status."""
    pid, run_host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
    if pid is None or run_host != (host or socket.gethostname()):
        return CheckRunHealthResult(WorkerStatus.RUNNING, "not a process of this host")
    if process_is_gone(int(pid)):
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run's process ({pid} on {run_host}) is gone: it was killed outright",
        )
    return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is alive")


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` (runs as processes of the code server) whose runs monitoring can
    check: set as `run_launcher` in the project's dagster.yaml."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        return run_process_health(run)
