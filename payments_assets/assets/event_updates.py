"""Updates from the event feed (and webhooks) merged into the raw tables: newest event time wins.

A state is merged only when it is newer than what the table already holds: newer than the
newest event state merged before (`<dataset>._state_versions`, one row per record: survives
reruns, backfills of old windows and pages in any order) and than the row's own time cursor (a
creation event never rolls back a row its list gave). After the merge the deletion ledger is
applied again, so an update never brings a deleted record back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from ..layers import WEBHOOK_ROWS_TAG, raw_key
from ..resources import Warehouse
from ..sources.deletions import DeletionNotes
from ..sources.event_updates import EventStates, ObjectState, update_source
from ..specs import ACCOUNT_COLUMN, ProviderSpec, ResourceView
from ..warehouse_sql import WarehouseSession, quote, table_ref
from ..webhooks.store import WebhookStore
from .deletions import apply, record

VERSIONS = "_state_versions"
_VERSION_COLUMNS = (
    "resource VARCHAR NOT NULL, account VARCHAR NOT NULL, record_id VARCHAR NOT NULL, "
    "event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_id VARCHAR NOT NULL, "
    "noted_at TIMESTAMP WITH TIME ZONE NOT NULL"
)
_CHUNK = 500


def webhook_states_of(
    tags: Mapping[str, str], store: WebhookStore | None, spec: ProviderSpec
) -> list[dict[str, Any]]:
    """The stored webhook events a sensor asked this run to load (`WEBHOOK_ROWS_TAG`): their
    object states are merged by the same rules as the feed's."""
    rows = tags.get(WEBHOOK_ROWS_TAG, "")
    first, _, last = rows.partition("-")
    if store is None or not (first.isdigit() and last.isdigit()) or int(first) < 1:
        return []
    stored = store.after(spec.name, int(first) - 1, int(last) - int(first) + 1)
    return [event.payload for event in stored]


def updating_feeds(view: ResourceView) -> list[dg.AssetKey]:
    """The raw asset of the event feed that merges states into `view`'s table, if one does."""
    feed = view.spec.event_feed
    if feed is None or view.name not in feed.updates.values():
        return []
    return [raw_key(view.spec.view(feed.resource))]


def _utc(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def known_versions(
    session: WarehouseSession, view: ResourceView, account: str, ids: Sequence[str]
) -> dict[str, datetime]:
    """Record id → the newest time the warehouse holds a state of: its last merged event's,
    or the row's own time cursor, whichever is later."""
    dataset, known = view.dataset(account), {}
    if session.table_exists(dataset, VERSIONS):
        for part in _chunks(ids):
            marks = ", ".join("?" for _ in part)
            rows = session.rows(
                f"select record_id, event_time from {table_ref(dataset, VERSIONS)} "
                f"where resource = ? and account = ? and record_id in ({marks})",
                (view.name, account, *part),
            )
            known.update({str(rid): moment for rid, at in rows if (moment := _utc(at))})
    columns = session.columns(dataset, view.table)
    key, cursor = view.record_key, view.cursor_column
    if key is None or key not in columns or cursor is None or cursor not in columns:
        return known
    shared = view.accounts_share_tables
    for part in _chunks(ids):
        marks = ", ".join("?" for _ in part)
        named = f"CAST({quote(key)} AS VARCHAR)"
        sql = (
            f"select {named}, {quote(cursor)} from {table_ref(dataset, view.table)} "
            f"where {named} in ({marks})"
        )
        params: tuple[Any, ...] = tuple(part)
        if shared:
            sql, params = f"{sql} and {quote(ACCOUNT_COLUMN)} = ?", (*params, account)
        for record_id, moment in session.rows(sql, params):
            at = _utc(moment)
            if at is not None and (record_id not in known or at > known[record_id]):
                known[record_id] = at
    return known


def newer_states(
    session: WarehouseSession,
    view: ResourceView,
    account: str,
    states: Sequence[ObjectState],
) -> list[ObjectState]:
    """The states newer than anything the warehouse holds of their record."""
    known = known_versions(session, view, account, [state.record_id for state in states])
    return [s for s in states if s.record_id not in known or s.at > known[s.record_id]]


def note_versions(
    session: WarehouseSession, view: ResourceView, account: str, states: Sequence[ObjectState]
) -> None:
    """Remember each merged state's event time (one row per record, the newest)."""
    versions = table_ref(view.dataset(account), VERSIONS)
    session.transaction(f"CREATE TABLE IF NOT EXISTS {versions} ({_VERSION_COLUMNS})")
    noted = datetime.now(timezone.utc)
    where = "resource = ? and account = ? and record_id = ?"
    session.transaction(
        *(
            statement
            for state in states
            for statement in (
                (f"delete from {versions} where {where}", (view.name, account, state.record_id)),
                (
                    f"insert into {versions} values (?, ?, ?, ?, ?, ?)",
                    (view.name, account, state.record_id, state.at, state.event_id, noted),
                ),
            )
        )
    )


def merge_event_states(
    warehouse: Warehouse,
    spec: ProviderSpec,
    account: str,
    states: EventStates,
    loaded_at: datetime,
) -> dict[str, int]:
    """Merge the newest states `states` gathered into their resources; resource → rows merged
    (0 where every state was older than what the table holds)."""
    gathered = states.newest()
    if not gathered:
        return {}
    dataset = spec.dataset_of(account)
    with warehouse.session() as session:
        fresh = {
            name: newer_states(session, spec.view(name), account, found)
            for name, found in gathered.items()
        }
    merged = {name: len(found) for name, found in fresh.items()}
    to_load = {name: found for name, found in fresh.items() if found}
    if not to_load:
        return merged
    notes = DeletionNotes()
    with warehouse.pipeline(spec.name, dataset) as pipeline:
        pipeline.run(update_source(spec, to_load, account, notes, loaded_at))
    with warehouse.session() as session:
        for name, found in to_load.items():
            view = spec.view(name)
            note_versions(session, view, account, found)
        _reapply_deletions(session, spec, to_load, account, notes.taken())
    return merged


def _reapply_deletions(
    session: WarehouseSession,
    spec: ProviderSpec,
    updated: Mapping[str, Sequence[ObjectState]],
    account: str,
    noted: Iterable[Any],
) -> None:
    """Deletes win: the ledger is applied again to every table an update touched."""
    by_resource: dict[str, list[Any]] = {}
    for deletion in noted:
        by_resource.setdefault(deletion.resource, []).append(deletion)
    for name in updated:
        view = spec.view(name)
        if view.deletes is None:
            continue
        record(session, view.dataset(account), account, by_resource.get(name, []))
        apply(session, view, account)
