"""Deleted records as a load sees them: marked on the row, and noted for the deletion ledger.

A provider that keeps listing a deleted record marks it (`deleted: true`, `status: deleted`,
the resource's `deletes.when`). Such a row gets `_deleted_at` — the record's own update time,
else the load's — so soft mode keeps it marked and hard mode lets dlt remove it (`hard_delete`).
Either way its key is noted in a `DeletionNotes`, which the ingest step writes to the ledger
after the load: hard deletes leave no row to count later, and a deletion must outlive a reload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..specs import ResourceView
from ..specs.resolved import DELETED_AT
from ..webhooks.events import record_time


@dataclass(frozen=True)
class Deletion:
    """One record a provider said is deleted: which, when, and how we learnt it."""

    resource: str
    record_id: str
    deleted_at: datetime
    signal: str


class DeletionNotes:
    """The deletions a load saw in the rows themselves; shared by the load's parallel resources."""

    def __init__(self) -> None:
        self._found: list[Deletion] = []
        self._lock = threading.Lock()

    def add(self, deletions: list[Deletion]) -> None:
        with self._lock:
            self._found.extend(deletions)

    def taken(self) -> list[Deletion]:
        with self._lock:
            found, self._found = self._found, []
            return found


def is_marked_deleted(view: ResourceView, record: dict[str, Any]) -> bool:
    """Whether a record carries its resource's deletion mark (`deletes.when`)."""
    when = view.deletes.when if view.deletes else None
    if when is None:
        return False
    value: Any = record
    for part in when.field.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value is not None and value in when.values


def deletion_marker(
    view: ResourceView, notes: DeletionNotes, loaded_at: datetime
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The dict path's step: a marked record gets `_deleted_at` and is noted."""
    key = view.record_key

    def mark(record: dict[str, Any]) -> dict[str, Any]:
        if isinstance(record, dict) and is_marked_deleted(view, record):
            moment = record_time(record, view.incremental) if view.incremental else None
            record[DELETED_AT] = moment or loaded_at
            if key is not None and record.get(key) is not None:
                notes.add([Deletion(view.name, str(record[key]), moment or loaded_at, "record")])
        return record

    return mark


def drops_deleted(view: ResourceView) -> bool:
    """Hard deletes of a replaced snapshot: a marked row is left out (nothing to merge it into)."""
    return bool(
        view.deletes
        and view.deletes.mode == "hard"
        and view.deletes.when is not None
        and view.write_disposition == "replace"
    )
