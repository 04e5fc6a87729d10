"""The deletion ledger: every record a provider deleted, however we learnt it, applied after
every load so that no reload or backfill brings one back.

Signals arrive in four ways (a resource's `deletes` in its YAML): marked on the record itself
(the load notes those), an event of the provider's events resource, a webhook event, and absence
from a full snapshot. Each becomes a row of `<dataset>._deleted_records` (resource, account,
record id, when, how); after each load the ledger is applied to the loaded tables: soft mode sets
`_deleted_at` on the row, hard mode deletes it (with its child rows). A backfill of an old window
that lists a deleted record again merges it back for a moment, and the ledger removes it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..sources.deletions import Deletion
from ..specs import ACCOUNT_COLUMN, ProviderSpec, ResourceView, column_name
from ..specs.resolved import DELETED_AT
from ..warehouse_sql import WarehouseSession, quote, table_ref
from ..webhooks.store import EventStore

LEDGER = "_deleted_records"
LOADED_AT = "_loaded_at"
_LEDGER_COLUMNS = (
    "resource VARCHAR NOT NULL, account VARCHAR NOT NULL, record_id VARCHAR NOT NULL, "
    "deleted_at TIMESTAMP WITH TIME ZONE NOT NULL, signal VARCHAR NOT NULL, "
    "noted_at TIMESTAMP WITH TIME ZONE NOT NULL"
)


def record(
    session: WarehouseSession, dataset: str, account: str, deletions: Iterable[Deletion]
) -> int:
    """Add deletions not in the ledger yet (the first signal of a record wins); how many."""
    fresh = {(d.resource, d.record_id): d for d in deletions}
    if not fresh:
        return 0
    session.transaction(
        f"CREATE SCHEMA IF NOT EXISTS {quote(dataset)}",
        f"CREATE TABLE IF NOT EXISTS {table_ref(dataset, LEDGER)} ({_LEDGER_COLUMNS})",
    )
    known = set(
        session.rows(
            f"select resource, record_id from {table_ref(dataset, LEDGER)} where account = ?",
            (account,),
        )
    )
    noted = datetime.now(timezone.utc)
    new = [d for key, d in fresh.items() if key not in known]
    session.transaction(
        *(
            (
                f"insert into {table_ref(dataset, LEDGER)} values (?, ?, ?, ?, ?, ?)",
                (d.resource, account, d.record_id, d.deleted_at, d.signal, noted),
            )
            for d in new
        )
    )
    return len(new)


def from_events(
    session: WarehouseSession, spec: ProviderSpec, view: ResourceView, account: str
) -> list[Deletion]:
    """Deletions the provider's events resource announced for `view` (`deletes.events`)."""
    events = view.deletes.events if view.deletes else None
    if events is None:
        return []
    source = spec.view(events.resource)
    dataset = source.dataset(account)
    columns = session.columns(dataset, source.table)
    named, kind = column_name(events.id_path), "type"
    if named not in columns or kind not in columns:
        return []  # no such event loaded yet
    when = source.cursor_column if source.cursor_column in columns else None
    sql = (
        f"select {quote(named)}, {quote(when) if when else 'null'} "
        f"from {table_ref(dataset, source.table)} where {quote(kind)} in "
        f"({', '.join('?' for _ in events.types)}) and {quote(named)} is not null"
    )
    params: tuple[Any, ...] = tuple(events.types)
    if spec.accounts_share_tables:
        sql, params = f"{sql} and {quote(ACCOUNT_COLUMN)} = ?", (*params, account)
    return [
        Deletion(view.name, str(record_id), _utc(moment), f"event:{source.name}")
        for record_id, moment in session.rows(sql, params)
    ]


def from_webhooks(
    store: EventStore | None, spec: ProviderSpec, view: ResourceView, account: str
) -> list[Deletion]:
    """Deletions signed webhooks announced for `view` (`deletes.webhooks`), for this account."""
    if store is None or view.deletes is None or not view.deletes.webhooks:
        return []
    key = view.record_key
    found = []
    for stored in store.of_types(spec.name, view.deletes.webhooks):
        named = stored.event.body.get("account")
        if spec.multi_account and named != account:
            continue  # another account's deletion (or none named): never applied here
        record_id = stored.event.object.get(key) if key else None
        if record_id is None:
            continue
        moment = stored.created if stored.created is not None else stored.received_at
        deleted_at = datetime.fromtimestamp(moment, tz=timezone.utc)
        found.append(Deletion(view.name, str(record_id), deleted_at, f"webhook:{stored.type}"))
    return found


def tracks_absence(view: ResourceView) -> bool:
    return bool(view.deletes and view.deletes.absent_from_snapshot and not view.windowed)


def snapshot_keys(
    session: WarehouseSession, view: ResourceView, account: str, loaded_at: datetime | None = None
) -> set[str]:
    """The record ids a snapshot table holds, not marked deleted (those of the load stamped
    `loaded_at` only, when given); of one account when accounts share the table."""
    dataset, key = view.dataset(account), view.record_key
    columns = session.columns(dataset, view.table)
    if key is None or key not in columns:
        return set()
    conditions, params = ["TRUE"], []
    if DELETED_AT in columns:
        conditions.append(f"{quote(DELETED_AT)} IS NULL")
    if loaded_at is not None and LOADED_AT in columns:
        conditions.append(f"{quote(LOADED_AT)} = ?")
        params.append(loaded_at)
    if view.accounts_share_tables:
        conditions.append(f"{quote(ACCOUNT_COLUMN)} = ?")
        params.append(account)
    rows = session.rows(
        f"select {quote(key)} from {table_ref(dataset, view.table)} "
        f"where {' and '.join(conditions)}",
        tuple(params),
    )
    return {str(record_id) for (record_id,) in rows}


def absent_from_snapshot(
    session: WarehouseSession,
    view: ResourceView,
    account: str,
    before: set[str],
    loaded_at: datetime,
) -> list[Deletion]:
    """Records the snapshot held before this load and this load no longer lists: deleted."""
    if not tracks_absence(view) or not before:
        return []
    listed = snapshot_keys(session, view, account, loaded_at)
    return [
        Deletion(view.name, record_id, loaded_at, "absent from snapshot")
        for record_id in sorted(before - listed)
    ]


def apply(session: WarehouseSession, view: ResourceView, account: str) -> int:
    """Make `view`'s table agree with the ledger; the number of rows marked or removed."""
    dataset, key = view.dataset(account), view.record_key
    family = session.family(dataset, view.table)
    columns = family.get(view.table, {})
    if key is None or not columns or not session.table_exists(dataset, LEDGER):
        return 0
    raw, ledger = table_ref(dataset, view.table), table_ref(dataset, LEDGER)
    matches = (
        f"{ledger}.resource = ? and {ledger}.account = ? "
        f"and {ledger}.record_id = CAST({raw}.{quote(key)} AS VARCHAR)"
        + (f" and {raw}.{quote(ACCOUNT_COLUMN)} = ?" if view.accounts_share_tables else "")
    )
    params: tuple[Any, ...] = (view.name, account) + (
        (account,) if view.accounts_share_tables else ()
    )
    assert view.deletes is not None
    if view.deletes.mode == "soft":
        if DELETED_AT not in columns:
            session.transaction(
                f"ALTER TABLE {raw} ADD COLUMN {quote(DELETED_AT)} TIMESTAMP WITH TIME ZONE"
            )
        doomed = (
            f"select count(*) from {raw} where {quote(DELETED_AT)} is null "
            f"and exists (select 1 from {ledger} where {matches})"
        )
        count = int(session.value(doomed, params))
        session.transaction(
            (
                f"update {raw} set {quote(DELETED_AT)} = (select min({ledger}.deleted_at) "
                f"from {ledger} where {matches}) where {quote(DELETED_AT)} is null "
                f"and exists (select 1 from {ledger} where {matches})",
                (*params, *params),
            )
        )
        return count
    doomed_rows = (
        f"select {raw}._dlt_id from {raw} where exists (select 1 from {ledger} where {matches})"
    )
    count = int(session.value(f"select count(*) from ({doomed_rows}) doomed", params))
    if not count:
        return 0
    children = [
        name for name, child in family.items() if name != view.table and "_dlt_root_id" in child
    ]
    session.transaction(
        *(
            (
                f"delete from {table_ref(dataset, child)} where _dlt_root_id in ({doomed_rows})",
                params,
            )
            for child in children
        ),
        (
            f"delete from {raw} where exists (select 1 from {ledger} where {matches})",
            params,
        ),
    )
    return count


def deleted_rows(session: WarehouseSession, view: ResourceView, account: str | None) -> int | None:
    """Rows of the table marked deleted (soft mode; of one account when accounts share it)."""
    if view.deletes is None or view.deletes.mode != "soft":
        return None
    dataset = view.dataset(account) if account else view.dataset_names[0]
    if DELETED_AT not in session.columns(dataset, view.table):
        return 0
    marked = f"{quote(DELETED_AT)} is not null"
    sql = f"select count(*) from {table_ref(dataset, view.table)} where {marked}"
    if account is not None and view.accounts_share_tables:
        return int(session.value(f"{sql} and {quote(ACCOUNT_COLUMN)} = ?", (account,)))
    return int(session.value(sql))


def keep_ledger(
    session: WarehouseSession,
    spec: ProviderSpec,
    views: Sequence[ResourceView],
    account: str,
    noted: Iterable[Deletion],
    store: EventStore | None,
    loaded_at: datetime,
    before: Mapping[str, set[str]],
) -> dict[str, tuple[int, int]]:
    """After a load of `views`: record every signal, apply the ledger; resource → (recorded,
    applied). `before` holds each absence-tracked snapshot's ids as they were before the load."""
    tracked = [view for view in views if view.deletes is not None]
    by_resource: dict[str, list[Deletion]] = {}
    for deletion in noted:
        by_resource.setdefault(deletion.resource, []).append(deletion)
    outcome = {}
    for view in tracked:
        signals = [
            *by_resource.get(view.name, []),
            *from_events(session, spec, view, account),
            *from_webhooks(store, spec, view, account),
            *absent_from_snapshot(session, view, account, before.get(view.name, set()), loaded_at),
        ]
        recorded = record(session, view.dataset(account), account, signals)
        outcome[view.name] = (recorded, apply(session, view, account))
    return outcome


def _utc(moment: Any) -> datetime:
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, tz=timezone.utc)
    if isinstance(moment, str):
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)
