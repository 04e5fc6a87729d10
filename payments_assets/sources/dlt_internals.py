"""Every use of a dlt internal, in one place, each with the dlt version it was read in (1.31.0)
and the public alternative that was checked and found missing.

When dlt is upgraded, this module is the one to re-read: nothing else in the project touches a
private name of dlt's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from dlt.extract.items_transform import MapItem
from dlt.extract.resource import DltResource
from requests import Response


def replace_pages(resource: DltResource, wrap: Callable[[Iterator[Any]], Iterator[Any]]) -> None:
    """Make `resource` yield `wrap(its pages)`: see every page of a resource as one stream.

    dlt 1.31: `DltResource._pipe.gen` is rest_api's bound page generator and `Pipe.replace_gen`
    swaps it ("assumes that you know what you are doing"); dlt's own `parallelize()` works the
    same way. Checked: a step (`add_map`, `add_yield_map`) sees one item at a time and never the
    end of the stream, so it cannot gather pages into tables.
    """
    fetch = resource._pipe.gen

    def pages() -> Iterator[Any]:
        yield from wrap(fetch())  # type: ignore[operator]

    resource._pipe.replace_gen(pages)


class AfterIncremental(MapItem):
    """A map placed right after dlt's incremental step, which is placed when the resource runs.

    dlt 1.31: `ItemTransform.placement_affinity` orders steps (`Incremental` is 1, `add_limit`'s
    `LimitItem` 1.1); 1.05 sits between them. Checked: `add_map(insert_at=...)` takes an index,
    but the incremental step is bound only at extraction, after our steps are added.
    """

    placement_affinity: ClassVar[float] = 1.05


def hand_over_parsed_body(response: Response, body: Any) -> None:
    """Let dlt read a body this project has parsed (and checked) already.

    dlt 1.31: rest_api's client and paginators call `response.json()` again for the data selector
    and the paginator (twice per page); requests caches nothing. Checked: dlt has no hook that
    takes a parsed body (`response_actions` can only replace the response).
    """
    response.json = lambda **_: body  # type: ignore[method-assign]


class SharedAcrossConfigCopies:
    """An auth object dlt's rest_api deep-copies with its config: copied shallowly.

    dlt 1.31: `rest_api/__init__.py::_validate_config` deep-copies the whole config, auth objects
    included, and masks the copy's secret fields in place for its validation messages. A deep
    copy of a token holder would copy its session and its lock (which cannot be copied); no copy
    at all would let dlt mask the real secrets. A shallow copy gives dlt its own fields to mask
    and shares the session, the lock and the token cache. Checked: no config flag skips the copy.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.copy(self)
