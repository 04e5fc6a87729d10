"""Webhook sensors: stored provider events become runs of the partitions they touch.

Each provider's sensor reads the events stored after its cursor (the last row id it saw), maps
each to its resource and to the partition of the record's update time, and asks for one run of
the provider's windowed job per partition, limited to the affected resources. The run reads the
API rather than the event, so the merge lands the latest version whatever order events came in.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from ...layers import TRIGGER_TAG, WEBHOOK_ROWS_TAG, raw_key
from ...partitions import partitions_for
from ...resources import WebhookEventStore
from ...specs import IncrementalSpec, ProviderSpec
from ...webhooks.events import WebhookEvent, record_time
from ...webhooks.store import StoredEvent
from ..jobs import ProviderJobs, snapshot_job_name
from ..switch import ALWAYS_ON, AutomationSwitch

BATCH_SIZE = 1000
"""Events read per tick; a longer backlog drains over the next ticks."""

MIN_INTERVAL_SECONDS = 10

PartitionKey = str | dg.MultiPartitionKey


@dataclass
class PartitionRun:
    """One run to request: a partition, the resources events named in it, the newest event."""

    partition_key: PartitionKey
    resources: set[str] = field(default_factory=set)
    events: int = 0
    first_row: int = 0
    last_row: int = 0
    last_event_id: str = ""

    def request(self, spec: ProviderSpec) -> dg.RunRequest:
        return dg.RunRequest(
            # Repeated events for one partition in one tick give one run; a later event, another.
            run_key=f"webhook:{spec.name}:{self.partition_key}:{self.last_row}",
            partition_key=self.partition_key,
            asset_selection=[raw_key(spec.view(name)) for name in sorted(self.resources)],
            tags={
                TRIGGER_TAG: "webhook",
                "payments/webhook_events": str(self.events),
                "payments/webhook_last_event": self.last_event_id,
                # The run merges the object states these events carry (an event feed's types).
                WEBHOOK_ROWS_TAG: f"{self.first_row}-{self.last_row}",
            },
        )


@dataclass
class RunPlan:
    """What a batch of events asks for, and what it leaves alone (reason → count)."""

    runs: dict[str, PartitionRun] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)


def _accounts(spec: ProviderSpec, event: WebhookEvent) -> tuple[str, ...]:
    """The accounts an event is about: its `account` field, or every account if it has none."""
    named = event.body.get("account")
    if named is None:
        return spec.account_names
    return (named,) if named in spec.account_names else ()


def resource_of(spec: ProviderSpec, event: WebhookEvent) -> str:
    """The resource an event is about: its event feed's mapping (`charge.refunded` → charges),
    else the type's `<resource>.` prefix."""
    feed = spec.event_feed
    target = feed.target_of(event.type) if feed is not None else None
    return target or event.resource


def _moment(
    spec: ProviderSpec, stored: StoredEvent, incremental: IncrementalSpec
) -> datetime | None:
    """Which window an event asks to reload: the record's update time; for a deletion the
    resource tracks (`deletes.webhooks`), the event's own time — the deleted record may carry no
    time, and the run that loads that window applies every deletion the store holds."""
    event = stored.event
    view = spec.view(resource_of(spec, event))
    if view.deletes is not None and event.type in view.deletes.webhooks:
        moment = stored.created if stored.created is not None else stored.received_at
        return datetime.fromtimestamp(moment, tz=timezone.utc)
    return record_time(event.object, incremental)


def plan_runs(spec: ProviderSpec, events: Sequence[StoredEvent]) -> RunPlan:
    """Group `events` into one run per affected partition (exists and is open for runs)."""
    plan = RunPlan()
    windows = partitions_for(spec)
    cursors = {view.name: view.incremental for view in spec.views}
    for stored in events:
        event = stored.event
        resource = resource_of(spec, event)
        incremental = cursors.get(resource)
        if incremental is None:
            reason = (
                f"{resource}: a snapshot, reloaded by {snapshot_job_name(spec.name)}"
                if resource in cursors
                else f"{resource!r}: not a resource of {spec.name}"
            )
            plan.skipped[reason] += 1
            continue
        moment = _moment(spec, stored, incremental)
        if moment is None:
            plan.skipped[f"{resource}: no readable {incremental.cursor_path}"] += 1
            continue
        window = windows.get_partition_key_for_timestamp(moment.timestamp())
        if not windows.has_partition_key(window):
            # Before the first partition, or the window still open: the schedule loads that
            # one once it closes.
            plan.skipped[f"{resource}: no partition {window} (not started or still open)"] += 1
            continue
        accounts = _accounts(spec, event) if spec.multi_account else (None,)
        if not accounts:
            plan.skipped[f"{resource}: account {event.body.get('account')!r} unknown"] += 1
        for account in accounts:
            key: PartitionKey = (
                dg.MultiPartitionKey({"account": account, "date": window}) if account else window
            )
            run = plan.runs.setdefault(str(key), PartitionRun(key))
            run.resources.add(resource)
            run.events += 1
            run.first_row = run.first_row or stored.row_id
            run.last_row, run.last_event_id = stored.row_id, event.event_id
    return plan


def webhook_sensor(
    spec: ProviderSpec, job: Any, automation: AutomationSwitch = ALWAYS_ON
) -> dg.SensorDefinition:
    """The sensor that loads `spec`'s partitions named by its stored webhook events."""

    @dg.sensor(
        name=f"{spec.name}_webhook_sensor",
        job=job,
        minimum_interval_seconds=MIN_INTERVAL_SECONDS,
        default_status=automation.sensors,
        description=(
            f"Loads the {spec.name} partitions that received webhook events since the last tick: "
            "one run per partition, limited to the resources the events name."
        ),
    )
    def on_webhook_events(
        context: dg.SensorEvaluationContext, webhook_store: WebhookEventStore
    ) -> dg.SensorResult:
        after = int(context.cursor or 0)
        events = webhook_store.store().after(spec.name, after, BATCH_SIZE)
        if not events:
            return dg.SensorResult(skip_reason=f"no {spec.name} events after row {after}")
        plan = plan_runs(spec, events)
        for reason, count in sorted(plan.skipped.items()):
            context.log.info(f"{spec.name}: {count} event(s) start no run: {reason}")
        requests = [run.request(spec) for run in plan.runs.values()]
        return dg.SensorResult(
            run_requests=requests,
            cursor=str(events[-1].row_id),
            skip_reason=None if requests else f"{len(events)} event(s), no partition to load",
        )

    return on_webhook_events


def webhook_sensors(
    specs: Sequence[ProviderSpec],
    jobs: Mapping[str, ProviderJobs],
    automation: AutomationSwitch = ALWAYS_ON,
) -> list[dg.SensorDefinition]:
    """One sensor per provider that sends webhooks and has windowed resources (the ones a run
    can target)."""
    return [
        webhook_sensor(spec, jobs[spec.name].windowed, automation)
        for spec in specs
        if spec.webhooks.enabled and jobs[spec.name].windowed is not None
    ]
