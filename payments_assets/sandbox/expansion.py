"""Stripe's `expand[]`: a field that holds another object's id is answered with the object.

Clients ask for it to save a request per row (`expand[]=customer` on charges); a YAML author
needs to see both shapes of the same field. Unknown expansions are ignored, as Stripe's list
endpoints do for fields that cannot be expanded.
"""

from collections.abc import Iterable, Mapping

from payments_assets.sandbox.catalog import Resource
from payments_assets.sandbox.dataset import Dataset
from payments_assets.sandbox.records import Record


def expand(
    resource: Resource,
    rows: list[Record],
    requested: Iterable[str],
    datasets: Mapping[tuple[str, str], Dataset],
) -> None:
    """Replace, in place, each requested expandable field's id by the record it names."""
    # Stripe writes expansions on a list with the `data.` prefix (`expand[]=data.customer`).
    wanted = {name.removeprefix("data.") for name in requested}
    for name, target in resource.expandable:
        if name not in wanted:
            continue
        related = datasets[(resource.provider, target)]
        for row in rows:
            index = related.resource.index_of(row[name])
            if index is not None and index < related.count:
                row[name] = related.record(index)
