"""The dialect's parts in dlt's `rest_api` terms: paginators, query parameters, column hints.

Plain dicts, as dlt's declarative config takes them; no dlt import, so a translation can be
checked without it.
"""

from __future__ import annotations

from typing import Any

from .dialect import (
    CursorPaginator,
    EndpointSpec,
    OffsetPaginator,
    PageNumberPaginator,
    PaginatorSpec,
)
from .resolved import ResourceView


def paginator_config(paginator: PaginatorSpec) -> dict[str, Any]:
    """The dlt paginator dict for a dialect paginator (`limit` on a cursor goes to the params)."""
    if isinstance(paginator, CursorPaginator):
        return {
            "type": "cursor",
            "cursor_path": paginator.cursor_path,
            "cursor_param": paginator.cursor_param,
        }
    if isinstance(paginator, OffsetPaginator):
        # Without a total or has_more in the response, the end is an empty page; dlt's default
        # (total_path="total") would fail after the first page of such an API.
        return {
            "type": "offset",
            "limit": paginator.limit,
            "offset_param": paginator.offset_param,
            "limit_param": paginator.limit_param,
            "total_path": paginator.total_path,
            "has_more_path": paginator.has_more_path,
            "maximum_offset": paginator.maximum_offset,
            "stop_after_empty_page": True,
        }
    if isinstance(paginator, PageNumberPaginator):
        return {
            "type": "page_number",
            "page_param": paginator.page_param,
            "base_page": paginator.base_page,
            "total_path": paginator.total_path,
            "stop_after_empty_page": True,
        }
    return {"type": "single_page"}


def endpoint_params(endpoint: EndpointSpec) -> dict[str, Any]:
    params: dict[str, Any] = dict(endpoint.params)
    if isinstance(endpoint.paginator, CursorPaginator) and endpoint.paginator.limit:
        params.setdefault(endpoint.paginator.limit_param, endpoint.paginator.limit)
    return params


def columns_config(view: ResourceView) -> dict[str, dict[str, Any]]:
    """Column hints for dlt; the cursor decides which version of a key wins within one load."""
    columns = {name: hint.model_dump(exclude_none=True) for name, hint in view.columns.items()}
    if view.incremental and view.write_disposition == "merge":
        columns.setdefault(view.incremental.cursor_path, {})["dedup_sort"] = "desc"
    return columns
