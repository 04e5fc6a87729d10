"""Dependent resources: one request (or one walk of pages) per record of a parent resource.

`path: /v1/invoices/{resources.invoices.id}/lines` or GoCardless'
`params: {payout: "{resources.payouts.id}"}`: the child is a dlt transformer fed by the parent
resource of the same source, so it sees exactly the parent's records of the run's window (after
the parent's own window filter), on the Arrow path (tables) and on the dict path (pages) alike;
a window without parents makes no child request. Each child row carries the parent's field
(`_invoices_id`) and the fields `include_from_parent` names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import jsonpath
from dlt.extract.resource import DltResource

from ..specs import ResourceView, column_name, columns_config
from ..specs.record_shapes import fill_parent, parent_column
from .nested_lists import ListWalker


def _parent_rows(item: Any, fields: list[str]) -> Iterator[dict[str, Any]]:
    """The named fields of each parent record in a table or a page of records."""
    if isinstance(item, pa.Table):
        columns = {
            name: item.column(column_name(name)).to_pylist()
            if column_name(name) in item.column_names
            else [None] * item.num_rows
            for name in fields
        }
        for index in range(item.num_rows):
            yield {name: values[index] for name, values in columns.items()}
        return
    for record in item if isinstance(item, list) else [item]:
        found = {name: jsonpath.find_values(name, record) for name in fields}
        yield {name: values[0] if values else None for name, values in found.items()}


def dependent_resource(
    view: ResourceView,
    parent: DltResource,
    walker: ListWalker,
    params: dict[str, Any],
) -> DltResource:
    """The dlt resource of `view`, fed by `parent`'s records."""
    reference = view.parent
    assert reference is not None
    fields = list(dict.fromkeys([reference.field, *view.include_from_parent]))

    def children(item: Any) -> Iterator[list[dict[str, Any]]]:
        for row in _parent_rows(item, fields):
            value = row[reference.field]
            if value is None:
                continue
            path = fill_parent(view.path, reference, value)
            filled = {
                key: fill_parent(given, reference, value) if isinstance(given, str) else given
                for key, given in params.items()
            }
            carried = {parent_column(reference.resource, name): row[name] for name in fields}
            for page in walker.walk(path, view.data_selector, filled):
                yield [{**child, **carried} for child in page]

    return parent | dlt.transformer(
        children,
        name=view.name,
        primary_key=view.dlt_primary_key,
        write_disposition=view.write_disposition,
        columns=columns_config(view),
    )
