"""The webhook event store: one SQLite file, written by the receiver, read by Dagster.

SQLite, not the warehouse: DuckDB takes one writer and the pipelines hold it, while the receiver
must store every event before it answers. WAL lets the sensor read while the receiver writes;
`synchronous=FULL` makes an answered event survive a power cut; a unique (provider, event id)
makes a redelivered event a no-op. Row ids only grow, so they are the sensor's cursor.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import WebhookEvent

DEFAULT_WEBHOOK_DB = "data/webhooks.sqlite"
BUSY_TIMEOUT_MS = 30_000

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


class WebhookStore:
    """Reads and writes of the event table; each call opens its own short connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with the schema in place; kept open by the receiver's writer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)) as connection:
            connection.execute("pragma journal_mode = wal")
            connection.execute("pragma synchronous = full")
            connection.execute(_SCHEMA)
            yield connection

    @staticmethod
    def add(
        connection: sqlite3.Connection, events: Sequence[WebhookEvent], received_at: float
    ) -> list[bool]:
        """Store `events` in one transaction; True for each event not stored before."""
        added = []
        with connection:  # one commit (one fsync) for the whole batch
            for event in events:
                cursor = connection.execute(
                    "insert into webhook_events "
                    "(provider, event_id, type, created, received_at, payload) "
                    "values (?, ?, ?, ?, ?, ?) on conflict (provider, event_id) do nothing",
                    (
                        event.provider,
                        event.event_id,
                        event.type,
                        event.created,
                        received_at,
                        json.dumps(event.body, separators=(",", ":")),
                    ),
                )
                added.append(cursor.rowcount == 1)
        return added

    def store(self, events: Sequence[WebhookEvent], received_at: float) -> list[bool]:
        with self.connect() as connection:
            return self.add(connection, events, received_at)

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

    def after(self, provider: str, row_id: int, limit: int | None = None) -> list[StoredEvent]:
        """A provider's events stored after `row_id`, oldest first."""
        rows = self._read(
            "select row_id, provider, event_id, type, created, received_at, payload "
            "from webhook_events where provider = ? and row_id > ? order by row_id limit ?",
            (provider, row_id, -1 if limit is None else limit),
        )
        return [StoredEvent(*row[:6], json.loads(row[6])) for row in rows]

    def of_types(self, provider: str, types: Sequence[str]) -> list[StoredEvent]:
        """A provider's events of the given types (deletions, say), oldest first."""
        if not types:
            return []
        marks = ", ".join("?" for _ in types)
        rows = self._read(
            "select row_id, provider, event_id, type, created, received_at, payload "
            f"from webhook_events where provider = ? and type in ({marks}) order by row_id",
            (provider, *types),
        )
        return [StoredEvent(*row[:6], json.loads(row[6])) for row in rows]

    def count(self, provider: str | None = None) -> int:
        where, params = ("where provider = ?", (provider,)) if provider else ("", ())
        rows = self._read(f"select count(*) from webhook_events {where}", params)
        return rows[0][0] if rows else 0

    def last_row_id(self, provider: str) -> int:
        rows = self._read(
            "select coalesce(max(row_id), 0) from webhook_events where provider = ?", (provider,)
        )
        return rows[0][0] if rows else 0
