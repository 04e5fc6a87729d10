"""The webhook inbox: one interface, a SQLite file locally, a PostgreSQL table in production.

`open_store(location)` picks the engine from the location: a `postgresql://` URL is the
production inbox (`postgres_store.py`), anything else a SQLite file. The receiver writes, the
sensors and runs read, and they share nothing but that database: no pod needs a shared volume.

Both keep the same promises. An answered event is durable (SQLite: WAL with `synchronous=FULL`;
PostgreSQL: a committed transaction). A unique (provider, event id) makes a redelivered event a
no-op. Row ids only grow in commit order, so they are the sensors' cursor.

SQLite, not the warehouse, locally: DuckDB takes one writer and the pipelines hold it, while the
receiver must store every event before it answers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import WebhookEvent

DEFAULT_WEBHOOK_DB = "data/webhooks.sqlite"
BUSY_TIMEOUT_MS = 30_000
POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://")

_SCHEMA = """
create table if not exists webhook_events (
    row_id integer primary key autoincrement,
    provider text not null,
    event_id text not null,
    type text not null,
    created integer,
    received_at real not null,
    payload text not null,
    unique (provider, event_id)
)
"""
_COLUMNS = "row_id, provider, event_id, type, created, received_at, payload"


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: its row id (the order of arrival) and its masked payload."""

    row_id: int
    provider: str
    event_id: str
    type: str
    created: int | None
    received_at: float
    payload: dict[str, Any]

    @property
    def event(self) -> WebhookEvent:
        return WebhookEvent(self.provider, self.event_id, self.type, self.created, self.payload)


class EventStore:
    """What the receiver, the sensors and the runs ask of an inbox, whatever holds it.

    Subclasses open connections, add events and run a read (`?` marks parameters); the queries
    are written once, here.
    """

    table = "webhook_events"

    @property
    def where(self) -> str:
        """Where the events are, for logs: never a password."""
        raise NotImplementedError

    def connect(self) -> AbstractContextManager[Any]:
        """A connection with the schema in place; kept open by the receiver's writer thread."""
        raise NotImplementedError

    def add(
        self, connection: Any, events: Sequence[WebhookEvent], received_at: float
    ) -> list[bool]:
        """Store `events` in one transaction; True for each event not stored before."""
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a query; none while nothing was ever stored (readers never create the inbox)."""
        raise NotImplementedError

    def store(self, events: Sequence[WebhookEvent], received_at: float) -> list[bool]:
        with self.connect() as connection:
            return self.add(connection, events, received_at)

    @staticmethod
    def _event(row: Sequence[Any]) -> StoredEvent:
        payload = row[6] if isinstance(row[6], dict) else json.loads(row[6])
        return StoredEvent(*row[:6], payload)

    def after(self, provider: str, row_id: int, limit: int | None = None) -> list[StoredEvent]:
        """A provider's events stored after `row_id`, oldest first."""
        sql = f"select {_COLUMNS} from {self.table} where provider = ? and row_id > ?"
        sql += " order by row_id"
        params: tuple[Any, ...] = (provider, row_id)
        if limit is not None:
            sql, params = f"{sql} limit ?", (*params, limit)
        return [self._event(row) for row in self._read(sql, params)]

    def of_types(self, provider: str, types: Sequence[str]) -> list[StoredEvent]:
        """A provider's events of the given types (deletions, say), oldest first."""
        if not types:
            return []
        marks = ", ".join("?" for _ in types)
        rows = self._read(
            f"select {_COLUMNS} from {self.table} "
            f"where provider = ? and type in ({marks}) order by row_id",
            (provider, *types),
        )
        return [self._event(row) for row in rows]

    def count(self, provider: str | None = None) -> int:
        where, params = ("where provider = ?", (provider,)) if provider else ("", ())
        rows = self._read(f"select count(*) from {self.table} {where}", params)
        return rows[0][0] if rows else 0

    def last_row_id(self, provider: str) -> int:
        rows = self._read(
            f"select coalesce(max(row_id), 0) from {self.table} where provider = ?", (provider,)
        )
        return rows[0][0] if rows else 0


class WebhookStore(EventStore):
    """The local profile's inbox: one SQLite file; each read opens its own short connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def where(self) -> str:
        return str(self.path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)) as connection:
            connection.execute("pragma journal_mode = wal")
            connection.execute("pragma synchronous = full")
            connection.execute(_SCHEMA)
            yield connection

    def add(
        self, connection: sqlite3.Connection, events: Sequence[WebhookEvent], received_at: float
    ) -> list[bool]:
        added = []
        with connection:  # one commit (one fsync) for the whole batch
            for event in events:
                cursor = connection.execute(
                    "insert into webhook_events "
                    "(provider, event_id, type, created, received_at, payload) "
                    "values (?, ?, ?, ?, ?, ?) on conflict (provider, event_id) do nothing",
                    (*event_row(event), received_at, payload_text(event)),
                )
                added.append(cursor.rowcount == 1)
        return added

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not self.path.exists():  # nothing received yet: readers never create the file
            return []
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)) as connection:
            try:
                return connection.execute(sql, params).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):  # created, not yet written to
                    return []
                raise


def event_row(event: WebhookEvent) -> tuple[str, str, str, int | None]:
    return (event.provider, event.event_id, event.type, event.created)


def payload_text(event: WebhookEvent) -> str:
    return json.dumps(event.body, separators=(",", ":"))


def is_postgres_url(location: str | Path) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def open_store(location: str | Path) -> EventStore:
    """The inbox at `location`: a `postgresql://` URL (production) or a SQLite file path."""
    if is_postgres_url(location):
        from .postgres_store import PostgresWebhookStore  # psycopg2 only where it is used

        return PostgresWebhookStore(str(location))
    return WebhookStore(location)


def location_variable(environ: Mapping[str, str]) -> str | None:
    """The variable that holds the inbox's location, if any: `PAYMENTS_WEBHOOK_DB`, else, in the
    production profile (`PAYMENTS_DESTINATION=postgres`), the warehouse's `PAYMENTS_POSTGRES_URL`
    (the inbox is then a table in the warehouse's database). None: the local SQLite default."""
    if environ.get("PAYMENTS_WEBHOOK_DB"):
        return "PAYMENTS_WEBHOOK_DB"
    if environ.get("PAYMENTS_DESTINATION") == "postgres" and environ.get("PAYMENTS_POSTGRES_URL"):
        return "PAYMENTS_POSTGRES_URL"
    return None
