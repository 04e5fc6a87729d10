"""Turning a query string into one page in the provider's envelope.

Each provider pages differently (two kinds of cursor, three kinds of offset); this module is
the only place that knows how, and the only one that reads `limit`, `offset`, cursors and
window parameters.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from itertools import islice
from typing import Any

from payments_assets.sandbox.catalog import Paging, Resource
from payments_assets.sandbox.dataset import Dataset, Selection, Window
from payments_assets.sandbox.errors import ApiError
from payments_assets.sandbox.timeline import parse_moment

_CURSOR_PARAM = {Paging.NEXT_CURSOR: "cursor", Paging.AFTER_CURSOR: "after"}


def _invalid(resource: Resource, message: str) -> ApiError:
    # direct_debit validates like GoCardless (422); the others answer 400.
    status = 422 if resource.provider == "direct_debit" else 400
    return ApiError(status, "invalid_request", message)


def encode_cursor(resource: Resource, position: int, window: Window | None) -> str:
    """An opaque cursor that carries its own window, so it stays valid if the client drops it."""
    payload = {"r": resource.path, "p": position, "w": list(window) if window else None}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(resource: Resource, cursor: str) -> tuple[int, Window | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        position, window = int(payload["p"]), payload["w"]
        if payload["r"] != resource.path or position < 0:
            raise ValueError
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise _invalid(
            resource, f"cursor {cursor[:40]!r} was not issued by this endpoint"
        ) from None
    return position, (window[0], window[1]) if window else None


def _integer(resource: Resource, params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise _invalid(resource, f"{name} must be an integer, got {text[:40]!r}") from None


def read_limit(resource: Resource, params: Mapping[str, str]) -> int:
    """`limit`, refused (not clamped) above the maximum: clamping would make offset clients skip."""
    limit = _integer(resource, params, "limit", resource.default_limit)
    if not 1 <= limit <= resource.max_limit:
        raise _invalid(resource, f"limit must be between 1 and {resource.max_limit}, got {limit}")
    return limit


def read_window(resource: Resource, params: Mapping[str, str]) -> Window | None:
    """The update-time window from the query string; None when the resource or request has none."""
    if resource.window_params is None:
        return None
    bounds: list[float | None] = []
    for name in resource.window_params:
        text = params.get(name)
        try:
            bounds.append(None if text in (None, "") else parse_moment(text, resource.time_format))
        except ValueError as exc:
            raise _invalid(resource, f"{name}: {exc}") from None
    return None if bounds == [None, None] else (bounds[0], bounds[1])


def build_page(
    dataset: Dataset, params: Mapping[str, str], endless: bool = False
) -> dict[str, Any]:
    """The response body for one list request; `endless` makes the pagination never finish."""
    resource = dataset.resource
    if resource.paging is Paging.SINGLE_PAGE:
        return {"data": [dataset.record(i) for i in range(dataset.count)]}
    limit = read_limit(resource, params)
    window = read_window(resource, params)
    if resource.paging in _CURSOR_PARAM:
        return _cursor_page(dataset, params, limit, window, endless)
    return _offset_page(dataset, params, limit, window, endless)


def _take(selection: Selection, position: int, limit: int) -> tuple[list[int], int | None]:
    """Up to `limit` matching indexes from `position`, and where the next page starts (or None)."""
    found = list(islice(selection.indexes_from(position), limit + 1))
    return found[:limit], found[limit] if len(found) > limit else None


def _cursor_page(
    dataset: Dataset,
    params: Mapping[str, str],
    limit: int,
    window: Window | None,
    endless: bool,
) -> dict[str, Any]:
    resource = dataset.resource
    cursor = params.get(_CURSOR_PARAM[resource.paging]) or None
    position = 0
    if cursor is not None:
        position, carried = decode_cursor(resource, cursor)
        window = window or carried
    indexes, following = _take(dataset.select(window), position, limit)
    if endless:
        following = position
    after = None if following is None else encode_cursor(resource, following, window)
    rows = [dataset.record(i) for i in indexes]
    if resource.paging is Paging.NEXT_CURSOR:
        return {"data": rows, "next_cursor": after}
    return {
        resource.data_key: rows,
        "meta": {"cursors": {"before": None, "after": after}, "limit": limit},
    }


def _offset_page(
    dataset: Dataset,
    params: Mapping[str, str],
    limit: int,
    window: Window | None,
    endless: bool,
) -> dict[str, Any]:
    resource = dataset.resource
    requested = _integer(resource, params, "offset", 0)
    if requested < 0:
        raise _invalid(resource, f"offset must not be negative, got {requested}")
    offset = 0 if endless else requested
    selection = dataset.select(window)
    indexes, following = _take(selection, selection.position_of(offset), limit)
    if indexes:
        selection.remember(offset + len(indexes), indexes[-1] + 1)
    rows = [dataset.record(i) for i in indexes]
    if resource.paging is Paging.OFFSET_HAS_MORE:
        return {"data": rows, "has_more": endless or following is not None}
    if resource.paging is Paging.OFFSET_TOTAL:
        total = requested + 2 * limit if endless else selection.count()
        return {"object": "list", "data": rows, "total": total}
    return {"data": rows}
