"""The production inbox: a table in PostgreSQL (by default the warehouse's database).

Every receiver replica, sensor and run pod reaches it over the network, so nothing about webhooks
sits on a local or shared disk. Each batch takes a transaction-scoped advisory lock before it
inserts: row ids are drawn and committed in one order even with several receivers, so a sensor
reading `row_id > cursor` never passes over an event committed late with a smaller id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors

from .events import WebhookEvent
from .store import EventStore, event_row, payload_text

SCHEMA = "payments_webhooks"
# Any fixed 64-bit number: the lock that orders writers of this inbox (and its creation).
WRITER_LOCK = 0x7061796D656E7473  # "payments"

_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.webhook_events (
    row_id bigint generated always as identity primary key,
    provider text not null,
    event_id text not null,
    type text not null,
    created bigint,
    received_at double precision not null,
    payload jsonb not null,
    unique (provider, event_id)
)
"""


def _libpq_url(url: str) -> str:
    """SQLAlchemy's `postgresql+psycopg2://` spelled as libpq reads it."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


class PostgresWebhookStore(EventStore):
    """The inbox as `payments_webhooks.webhook_events` in the database at `url`."""

    table = f"{SCHEMA}.webhook_events"

    def __init__(self, url: str) -> None:
        self.url = _libpq_url(url)

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" if parts.username else host
        netloc += f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + f" ({self.table})"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        with closing(psycopg2.connect(self.url)) as connection:
            with connection, connection.cursor() as cursor:
                cursor.execute("select pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                cursor.execute(_DDL)
            yield connection

    def add(
        self, connection: Any, events: Sequence[WebhookEvent], received_at: float
    ) -> list[bool]:
        added = []
        with connection, connection.cursor() as cursor:  # one commit for the whole batch
            cursor.execute("select pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            for event in events:
                cursor.execute(
                    f"insert into {self.table} "
                    "(provider, event_id, type, created, received_at, payload) "
                    "values (%s, %s, %s, %s, %s, %s) on conflict (provider, event_id) do nothing",
                    (*event_row(event), received_at, payload_text(event)),
                )
                added.append(cursor.rowcount == 1)
        return added

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with closing(psycopg2.connect(self.url)) as connection:
            try:
                with connection, connection.cursor() as cursor:
                    cursor.execute(sql.replace("?", "%s"), tuple(params))
                    return cursor.fetchall()
            except psycopg2.errors.UndefinedTable:  # nothing received yet
                return []
