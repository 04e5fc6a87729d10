"""Object states carried by events: gathered from the event feed's pages (or webhooks), newest
first, and turned into a dlt source that merges them into the resources they update.

Stripe's lists filter on `created` only, so a window never sees a refund made weeks later; the
event announcing it carries the charge's whole new state. A feed run keeps, per record, the
state of its newest event (pages may come in any order) and merges it like any record: card
numbers masked, deletion marks noted, the account stamped, new fields evolving the schema.
Which states are newer than what the table holds is the warehouse's question (assets layer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt
from dlt.common.schema import Schema
from dlt.extract.source import DltSource

from ..specs import ACCOUNT_COLUMN, ProviderSpec, ResourceView, columns_config
from ..specs.event_feed import EventFeedSpec
from ..webhooks.events import record_time
from .deletions import DeletionNotes
from .nested_lists import record_step
from .record_steps import dict_record_steps


@dataclass(frozen=True)
class ObjectState:
    """A record's whole state as one event told it: which record, as of when, by which event."""

    resource: str
    record_id: str
    at: datetime
    event_id: str
    object: dict[str, Any]

    @property
    def order(self) -> tuple[datetime, str]:
        """Newest event time wins; equal times are settled by the event id, the same every run."""
        return (self.at, self.event_id)


def _at(value: Any, path: str) -> Any:
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def deletion_types(view: ResourceView) -> frozenset[str]:
    """Event types that announce `view`'s deletions: the deletion ledger's, never a state."""
    deletes = view.deletes
    if deletes is None:
        return frozenset()
    return frozenset((*(deletes.events.types if deletes.events else ()), *deletes.webhooks))


class EventStates:
    """The newest state per record among the events seen; shared by a run's parallel pages."""

    def __init__(self, spec: ProviderSpec) -> None:
        assert spec.event_feed is not None
        self.feed: EventFeedSpec = spec.event_feed
        self._skipped = {
            target: deletion_types(spec.view(target)) for target in set(self.feed.updates.values())
        }
        self._newest: dict[tuple[str, str], ObjectState] = {}
        self._lock = threading.Lock()

    def add(self, event: Any) -> bool:
        """Keep `event`'s object if it updates a resource and is the newest of its record."""
        state = self._state(event)
        if state is None:
            return False
        key = (state.resource, state.record_id)
        with self._lock:
            known = self._newest.get(key)
            if known is None or state.order > known.order:
                self._newest[key] = state
        return True

    def _state(self, event: Any) -> ObjectState | None:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return None
        target = self.feed.target_of(event["type"])
        if target is None or event["type"] in self._skipped[target]:
            return None
        record = _at(event, self.feed.object)
        if not isinstance(record, dict) or record.get("deleted") is True:
            return None  # a deletion stub (`{"id", "deleted": true}`) is no state
        record_id, at = record.get(self.feed.id), record_time(event, self.feed.time_cursor)
        if record_id is None or at is None:
            return None
        return ObjectState(target, str(record_id), at, str(event.get("id", "")), record)

    def tap(self, pages: Iterator[Any]) -> Iterator[Any]:
        """Pass the feed's pages on unchanged, keeping the states they carry."""
        for page in pages:
            for event in page if isinstance(page, list) else [page]:
                self.add(event)
            yield page

    def newest(self) -> dict[str, list[ObjectState]]:
        """Resource → its records' newest states, by record id."""
        with self._lock:
            states = sorted(self._newest.values(), key=lambda s: (s.resource, s.record_id))
        found: dict[str, list[ObjectState]] = {}
        for state in states:
            found.setdefault(state.resource, []).append(state)
        return found


def update_source(
    spec: ProviderSpec,
    states: Mapping[str, Sequence[ObjectState]],
    account: str,
    notes: DeletionNotes,
    loaded_at: datetime,
) -> DltSource:
    """One merge resource per updated resource, its rows the states' objects, taking the steps
    every dict record takes (never-land fields, masking, deletion marks, the account)."""
    resources = []
    for name, found in states.items():
        view = spec.view(name)
        rows = dlt.resource(
            [dict(state.object) for state in found],
            name=view.table,
            primary_key=view.dlt_primary_key,
            write_disposition="merge",
            columns=columns_config(view),
            max_table_nesting=view.max_table_nesting,
        )
        constants = {ACCOUNT_COLUMN: account} if spec.multi_account else {}
        if (step := record_step(view, None)) is not None:
            rows.add_map(step)  # never-land fields out, before anything else
        dict_record_steps(rows, view, constants, notes, loaded_at)
        resources.append(rows)
    return DltSource(Schema(spec.name), spec.name, resources)
