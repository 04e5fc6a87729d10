"""Turning a query string into one page in the provider's envelope.

Each provider pages differently (two kinds of cursor, three kinds of offset; the ledger adds
Stripe's three: last id, search token, next URL, and two paging fixtures that are not Stripe's:
Link header, page numbers); this module is the only place that knows how, and the only one that
reads `limit`, `offset`, cursors, page numbers and window parameters.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from payments_assets.sandbox.catalog import Paging, Resource
from payments_assets.sandbox.dataset import Listed, Selection, Window
from payments_assets.sandbox.errors import ApiError
from payments_assets.sandbox.records import Record
from payments_assets.sandbox.timeline import parse_moment, to_iso

_CURSOR_PARAM = {Paging.NEXT_CURSOR: "cursor", Paging.AFTER_CURSOR: "after"}
_TOKEN_PARAM = {Paging.SEARCH_PAGE: "page", Paging.NEXT_URL: "cursor"}
_NUMBERED = (Paging.LINK_HEADER, Paging.PAGE_NUMBER)
_NOT_STRIPE = ("per_page", "page", "offset", "cursor")
"""Other forms' paging parameters: Stripe refuses a parameter it does not know (400
`parameter_unknown`), so a client that copied another API's paging learns it on the first page."""


@dataclass(frozen=True)
class Page:
    """One response: its body (an envelope, a bare list or one object), the headers that page
    it (`Link`), and the rows it serves, so the caller can expand them in place."""

    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    rows: list[Record] = field(default_factory=list)


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
    name = resource.limit_param
    limit = _integer(resource, params, name, resource.default_limit)
    if not 1 <= limit <= resource.max_limit:
        raise _invalid(resource, f"{name} must be between 1 and {resource.max_limit}, got {limit}")
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
    dataset: Listed, params: Mapping[str, str], endless: bool = False, url: str = ""
) -> Page:
    """The response for one list request; `endless` makes the pagination never finish.

    `url` is the endpoint's absolute URL without a query: next URLs and `Link` headers are
    built on it, so they point at whatever host and port the client reached.
    """
    resource = dataset.resource
    if resource.paging is Paging.SINGLE_PAGE:
        rows = [dataset.record(i) for i in dataset.select(None).indexes_from(0)]
        return Page({"data": rows}, rows=rows)
    if resource.paging is Paging.SINGLE_OBJECT:
        return Page(dataset.record(0))
    limit = read_limit(resource, params)
    window = read_window(resource, params)
    if resource.paging in _CURSOR_PARAM:
        return _cursor_page(dataset, params, limit, window, endless)
    if resource.paging is Paging.STARTING_AFTER:
        return _last_id_page(dataset, params, limit, window, endless)
    if resource.paging in _TOKEN_PARAM:
        return _token_page(dataset, params, limit, window, endless, url)
    if resource.paging in _NUMBERED:
        return _numbered_page(dataset, params, limit, window, endless, url)
    return _offset_page(dataset, params, limit, window, endless)


def _take(selection: Selection, position: int, limit: int) -> tuple[list[int], int | None]:
    """Up to `limit` matching indexes from `position`, and where the next page starts (or None)."""
    found = list(islice(selection.indexes_from(position), limit + 1))
    return found[:limit], found[limit] if len(found) > limit else None


def _walk(
    dataset: Listed, cursor: str | None, window: Window | None, limit: int, endless: bool
) -> tuple[list[Any], str | None, Window | None]:
    """One page from an opaque cursor (which carries its window): its rows, the next cursor
    (None at the end; the same one forever when `endless`), and the window it walks."""
    resource = dataset.resource
    position = 0
    if cursor is not None:
        position, carried = decode_cursor(resource, cursor)
        window = window or carried
    indexes, following = _take(dataset.select(window), position, limit)
    if endless:
        following = position
    after = None if following is None else encode_cursor(resource, following, window)
    return [dataset.record(i) for i in indexes], after, window


def _cursor_page(
    dataset: Listed,
    params: Mapping[str, str],
    limit: int,
    window: Window | None,
    endless: bool,
) -> Page:
    resource = dataset.resource
    cursor = params.get(_CURSOR_PARAM[resource.paging]) or None
    rows, after, window = _walk(dataset, cursor, window, limit, endless)
    if resource.paging is Paging.NEXT_CURSOR:
        return Page({"data": rows, "next_cursor": after}, rows=rows)
    body = {
        resource.data_key: rows,
        "meta": {"cursors": {"before": None, "after": after}, "limit": limit},
    }
    return Page(body, rows=rows)


def _offset_page(
    dataset: Listed,
    params: Mapping[str, str],
    limit: int,
    window: Window | None,
    endless: bool,
) -> Page:
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
        return Page({"data": rows, "has_more": endless or following is not None}, rows=rows)
    if resource.paging is Paging.OFFSET_TOTAL:
        total = requested + 2 * limit if endless else selection.count()
        return Page({"object": "list", "data": rows, "total": total}, rows=rows)
    return Page({"data": rows}, rows=rows)


def _last_id_page(
    dataset: Listed,
    params: Mapping[str, str],
    limit: int,
    window: Window | None,
    endless: bool,
) -> Page:
    """Stripe's list: the next page starts after the id of this page's last object.

    The position is a record id, so no window travels with it: the client sends its window
    on every page, as Stripe requires. Endless: every page is the first one and has more.
    """
    resource = dataset.resource
    for name in _NOT_STRIPE:
        if name in params:
            message = f"Received unknown parameter: {name}"
            raise ApiError(400, "parameter_unknown", message, param=name)
    position = 0
    after = params.get("starting_after") or None
    if after is not None:
        index = dataset.index_of(after)
        if index is None or index >= dataset.count:
            noun = resource.name.removesuffix("s")
            raise _invalid(resource, f"starting_after: No such {noun}: {after[:40]!r}")
        position = index + 1
    indexes, following = _take(dataset.select(window), 0 if endless else position, limit)
    rows = [dataset.record(i) for i in indexes]
    body = {
        "object": "list",
        "url": resource.path.removeprefix(f"/{resource.provider}"),
        "has_more": endless or following is not None,
        "data": rows,
    }
    return Page(body, rows=rows)


def _token_page(
    dataset: Listed,
    params: Mapping[str, str],
    limit: int,
    window: Window | None,
    endless: bool,
    url: str,
) -> Page:
    """An opaque token (search `next_page`) or a next URL that holds one; both carry the window."""
    resource = dataset.resource
    token = params.get(_TOKEN_PARAM[resource.paging]) or None
    rows, after, window = _walk(dataset, token, window, limit, endless)
    if resource.paging is Paging.SEARCH_PAGE:
        body = {"object": "search_result", "has_more": after is not None, "next_page": after}
        return Page({**body, "data": rows}, rows=rows)
    query = {resource.limit_param: limit, **_window_query(resource, window)}
    following_url = None if after is None else _with_query(url, {**query, "cursor": after})
    return Page({"data": rows, "next": following_url}, rows=rows)


def _numbered_page(
    dataset: Listed,
    params: Mapping[str, str],
    per_page: int,
    window: Window | None,
    endless: bool,
    url: str,
) -> Page:
    """1-based `page` numbers: a `Link` header to the next one, or the count of pages.

    Endless: the first page is served whatever the number; the Link names the same page again,
    and `total_pages` stays two pages ahead of the one asked for.
    """
    resource = dataset.resource
    number = _integer(resource, params, "page", 1)
    if number < 1:
        raise _invalid(resource, f"page is 1-based, got {number}")
    offset = 0 if endless else (number - 1) * per_page
    selection = dataset.select(window)
    indexes, following = _take(selection, selection.position_of(offset), per_page)
    if indexes:
        selection.remember(offset + len(indexes), indexes[-1] + 1)
    rows = [dataset.record(i) for i in indexes]
    if resource.paging is Paging.PAGE_NUMBER:
        pages = number + 2 if endless else max(1, -(-selection.count() // per_page))
        body = {"items": rows, "page": number, "per_page": per_page, "total_pages": pages}
        return Page(body, rows=rows)
    headers = {}
    if endless or following is not None:
        query = {
            resource.limit_param: per_page,
            **_window_query(resource, window),
            "page": number if endless else number + 1,
        }
        headers["Link"] = f'<{_with_query(url, query)}>; rel="next"'
    return Page(rows, headers, rows)


def _window_query(resource: Resource, window: Window | None) -> dict[str, str]:
    """The window as query parameters again, for a URL that must carry it."""
    if window is None or resource.window_params is None:
        return {}
    return {
        name: _bound_text(resource, bound)
        for name, bound in zip(resource.window_params, window, strict=True)
        if bound is not None
    }


def _bound_text(resource: Resource, bound: float) -> str:
    if resource.time_format == "iso":
        return to_iso(int(bound))
    return str(int(bound)) if bound == int(bound) else repr(bound)


def _with_query(url: str, query: Mapping[str, Any]) -> str:
    return f"{url}?{urlencode(query)}"
