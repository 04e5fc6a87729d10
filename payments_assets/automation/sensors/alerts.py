"""Alert sensors: a failed run or a failed asset check raises its hand through the notifier.

Both are RUNNING by default (Dagster starts sensors stopped otherwise). The check sensor watches
every check in the code location, so checks added later are covered without touching it.
"""

import json

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._utils.error import SerializableErrorInfo

from ...resources import Alert, AlertNotifier


def _partition(run: dg.DagsterRun) -> str:
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return (
            f"{tags[ASSET_PARTITION_RANGE_START_TAG]}...{tags.get(ASSET_PARTITION_RANGE_END_TAG)}"
        )
    return ""


def _root_cause(error: SerializableErrorInfo) -> str:
    # Dagster wraps the error raised in an op ("Error occurred while executing op …"): the
    # innermost cause is the one that says what went wrong.
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_failure_alert_for(context: dg.RunFailureSensorContext) -> Alert:
    run = context.dagster_run
    steps = [
        f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    details = {"run_id": run.run_id, "job": run.job_name}
    if partition := _partition(run):
        details["partition"] = partition
    if run.asset_selection:
        details["assets"] = ", ".join(sorted(k.to_user_string() for k in run.asset_selection))
    return Alert(
        title=f"Run failed: {run.job_name}" + (f" [{partition}]" if partition else ""),
        text="\n".join(steps) or context.failure_event.message or "the run failed",
        details=details,
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts through the notifier when any run of this code location fails.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, notifier: AlertNotifier) -> None:
    notifier.notify(run_failure_alert_for(context))


def check_failure_alert_for(
    key: dg.AssetCheckKey, evaluation: dg.AssetCheckEvaluation, run_id: str
) -> Alert:
    error = evaluation.severity == dg.AssetCheckSeverity.ERROR
    details = {
        "asset": key.asset_key.to_user_string(),
        "check": key.name,
        "severity": evaluation.severity.value,
        "blocking": "yes" if evaluation.blocking else "no",
    }
    if run_id:
        details["run_id"] = run_id
    return Alert(
        title=f"Check failed: {key.asset_key.to_user_string()} {key.name}",
        text=evaluation.description or "the check failed",
        severity="error" if error else "warning",
        details=details,
    )


@dg.sensor(
    name="check_failure_alert",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once per failed evaluation of any asset check in this code location.",
)
def check_failure_alert(
    context: dg.SensorEvaluationContext, notifier: AlertNotifier
) -> dg.SkipReason:
    if context.repository_def is None:
        return dg.SkipReason("no code location to watch")
    keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=str)
    # The cursor remembers, per check, the latest evaluation already looked at.
    seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    summaries = context.instance.event_log_storage.get_asset_check_summary_records(keys)
    alerted = []
    for key in keys:
        summary = summaries.get(key)
        record = summary.last_completed_check_execution_record if summary else None
        event = record.event if record else None
        evaluation = event.asset_check_evaluation if event else None
        if record is None or event is None or evaluation is None:
            continue
        if seen.get(key.to_user_string()) == event.timestamp:
            continue
        if not evaluation.passed:
            notifier.notify(check_failure_alert_for(key, evaluation, record.run_id))
            alerted.append(key.to_user_string())
        seen[key.to_user_string()] = event.timestamp
        context.update_cursor(json.dumps(seen, sort_keys=True))
    if alerted:
        return dg.SkipReason(f"alerted on {len(alerted)} failed check(s): {', '.join(alerted)}")
    return dg.SkipReason("no new failed check")
