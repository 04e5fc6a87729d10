"""The Celery route: every run's steps on Celery workers, when a broker is configured.

Set `PAYMENTS_CELERY_BROKER` (e.g. `redis://redis.internal:6379/0`) and, optionally,
`PAYMENTS_CELERY_BACKEND` (the result backend; default: the broker) where the code location and
its run workers load, and start workers with `worker_config()` (`dagster-celery worker start -A
dagster_celery.app -y <that file>`). Unset, runs keep Dagster's default executor.

Pools still hold: the run's orchestrator claims a step's pool slot in the instance's database
before it hands the step to the queue, so one load per provider API at a time holds across
workers. A step is acknowledged only once it has finished (`task_acks_late`), and a step whose
worker process died is handed back to the queue (`task_reject_on_worker_lost`): a killed step
runs again on a live worker, where its load replaces nothing it should not (dlt restores its
state from the warehouse and merges on the primary key).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

CELERY_BROKER = "PAYMENTS_CELERY_BROKER"
CELERY_BACKEND = "PAYMENTS_CELERY_BACKEND"

WORKER_SETTINGS: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,  # a worker takes one step at a time, the rest stay queued
}


def run_executor(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition | None:
    """dagster-celery's executor reading the broker from the environment, or None (Dagster's
    default) when no broker is set."""
    environ = os.environ if environ is None else environ
    if not environ.get(CELERY_BROKER):
        return None
    from dagster_celery import celery_executor

    backend = CELERY_BACKEND if environ.get(CELERY_BACKEND) else CELERY_BROKER
    return celery_executor.configured(
        {
            "broker": {"env": CELERY_BROKER},
            "backend": {"env": backend},
            "config_source": WORKER_SETTINGS,
        },
        name="celery",
    )


def worker_config(broker: str, backend: str | None = None) -> dict[str, Any]:
    """What `dagster-celery worker start -y` reads: the same broker, backend and settings."""
    return {
        "execution": {
            "config": {
                "broker": broker,
                "backend": backend or broker,
                "config_source": WORKER_SETTINGS,
            }
        }
    }
