"""The runs' executor: Dagster's own (multiprocess or in-process) with a watch over the pools its
steps wait on, so a pool slot held by a run whose process is gone never blocks another run.

Dagster frees a run's slots once the run is marked ended: run monitoring does it for runs a
launcher watches, but a CLI run, a `dg launch` or a test's `materialize()` killed outright (SIGKILL,
OOM, a closed laptop) stays STARTED and keeps its slots for good. So each run writes its process
id and host into its tags, and while one of its steps waits on a pool the watch, every second,
frees the slots of holders that are over or whose process on this host is gone (marking such a
run failed), and says in the run's log, within seconds and then every 30 s, who holds the pool
and how to free it. Holders on other hosts are left to run monitoring.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.definitions.executor_definition import multi_or_in_process_executor
from dagster._core.executor.base import Executor

if TYPE_CHECKING:
    from dagster._core.events import DagsterEvent
    from dagster._core.execution.context.system import PlanOrchestrationContext
    from dagster._core.execution.plan.plan import ExecutionPlan
    from dagster._core.execution.retries import RetryMode
    from dagster._core.log_manager import DagsterLogManager

PID_TAG = "payments/pid"
HOST_TAG = "payments/host"
SWEEP_EVERY_SECONDS = 1.0
FIRST_NOTICE_SECONDS = 2.0
NOTICE_EVERY_SECONDS = 30.0


def process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return False


class PoolWatch:
    """While one of `run_id`'s steps waits on a pool, frees dead holders' slots and says who holds
    it (a daemon thread; stopped with the run's execution)."""

    def __init__(
        self, instance: dg.DagsterInstance, run_id: str, pools: set[str], log: DagsterLogManager
    ) -> None:
        self.instance, self.run_id, self.pools, self.log = instance, run_id, pools, log
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pool-watch", daemon=True)

    def __enter__(self) -> PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        waiting_since: dict[str, float] = {}
        next_notice: dict[str, float] = {}
        while not self._stop.wait(SWEEP_EVERY_SECONDS):
            storage = self.instance.event_log_storage
            for pool in self.pools:
                info = storage.get_concurrency_info(pool)
                if self.run_id not in info.pending_run_ids:
                    waiting_since.pop(pool, None)
                    continue
                for holder in set(info.active_run_ids) - {self.run_id}:
                    self.free_if_dead(holder, pool)
                now = time.monotonic()
                started = waiting_since.setdefault(pool, now)
                if now - started >= FIRST_NOTICE_SECONDS and now >= next_notice.get(pool, 0):
                    self.log.warning(self.notice(pool, now - started))
                    next_notice[pool] = now + NOTICE_EVERY_SECONDS

    def free_if_dead(self, holder_id: str, pool: str) -> None:
        """Free the slots of a holder that is over, or whose process on this host is gone."""
        run = self.instance.get_run_by_id(holder_id)
        if run is not None and not run.is_finished:
            pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
            if host != self.host or pid is None or not process_is_gone(int(pid)):
                return
            self.instance.report_run_failed(
                run, f"the run's process ({pid} on {host}) is gone: it was killed outright"
            )
        self.instance.event_log_storage.free_concurrency_slots_for_run(holder_id)
        self.log.warning(
            f"Freed pool {pool}'s slots held by run {holder_id}: "
            + ("it was over" if run is None or run.is_finished else "its process is gone")
        )

    def notice(self, pool: str, waited: float) -> str:
        holders = []
        info = self.instance.event_log_storage.get_concurrency_info(pool)
        for holder_id in sorted(set(info.active_run_ids) - {self.run_id}):
            record = self.instance.get_run_record_by_id(holder_id)
            tags = record.dagster_run.tags if record else {}
            since = (
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.start_time))
                if record and record.start_time
                else "an unknown time"
            )
            where = f"pid {tags.get(PID_TAG, '?')} on {tags.get(HOST_TAG, '?')}"
            holders.append(f"run {holder_id} ({where}) since {since}")
        who = "; ".join(holders) or "no run (the slot was just freed)"
        return (
            f"Waiting {waited:.0f} s for pool {pool} (limit {info.slot_count}): held by {who}. "
            "A holder on this host whose process is gone is freed by itself; to free one now, "
            "terminate its run (UI, or `dagster run delete -f <run id>` once it is dead), or "
            "raise the limit with `dagster instance concurrency set <pool> <n>`."
        )


class PoolWatchingExecutor(Executor):
    """Dagster's executor, run under a `PoolWatch` when its steps use pools."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        instance, run_id = plan_context.instance, plan_context.run_id
        instance.add_run_tags(run_id, {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})
        pools = {step.pool for step in execution_plan.get_all_steps_in_topo_order() if step.pool}
        if not pools or not instance.event_log_storage.supports_global_concurrency_limits:
            yield from self._inner.execute(plan_context, execution_plan)
            return
        with PoolWatch(instance, run_id, pools, plan_context.log):
            yield from self._inner.execute(plan_context, execution_plan)


@dg.executor(
    name="payments_executor",
    config_schema=multi_or_in_process_executor.config_schema,
    requirements=multi_or_in_process_executor.get_requirements,
)
def payments_executor(init_context: dg.InitExecutorContext) -> Executor:
    """`multiprocess` (default) or `in_process`, as Dagster's default, with a pool watch."""
    return PoolWatchingExecutor(multi_or_in_process_executor.executor_creation_fn(init_context))
