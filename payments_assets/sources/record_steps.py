"""The steps every record dlt gets as a dict goes through, wherever it came from (a list page
the Arrow path could not take, an object state an event carried)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dlt.extract.resource import DltResource

from ..card_numbers import record_masker
from ..specs import ResourceView
from ..specs.resolved import DELETED_AT
from .deletions import DeletionNotes, deletion_marker, drops_deleted


def _stamp(constants: Mapping[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def stamp(item: dict[str, Any]) -> dict[str, Any]:
        item.update(constants)
        return item

    return stamp


def dict_record_steps(
    dlt_resource: DltResource,
    view: ResourceView,
    constants: Mapping[str, Any],
    notes: DeletionNotes,
    stamped_at: datetime,
) -> None:
    """Card numbers masked, deletion marks noted (hard-deleted snapshot rows dropped), constant
    columns (`_loaded_at`, `_account`) stamped."""
    dlt_resource.add_map(record_masker(view.time_columns))
    if view.deletes and view.deletes.when:
        dlt_resource.add_map(deletion_marker(view, notes, stamped_at))
        if drops_deleted(view):
            dlt_resource.add_filter(lambda item: DELETED_AT not in item)
    if constants:
        dlt_resource.add_map(_stamp(constants))
