"""The dialect's parts in dlt's `rest_api` terms: paginators, query parameters, column hints.

Plain dicts, as dlt's declarative config takes them; no dlt import, so a translation can be
checked without it. Every paginator form maps to one of dlt's own, except a cursor taken from the
last record, which is `sources/paginators.py`'s (built from the dict named below).
"""

from __future__ import annotations

from typing import Any

from .dialect import (
    CursorPaginator,
    EndpointSpec,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PaginatorSpec,
)
from .resolved import DELETED_AT, ResourceView

LAST_RECORD_CURSOR = "last_record_cursor"
"""The kind `sources/paginators.py` builds its own paginator for."""


def _given(**options: Any) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


def paginator_config(paginator: PaginatorSpec) -> dict[str, Any]:
    """The dlt paginator dict for a dialect paginator (`limit` goes to the query parameters)."""
    if isinstance(paginator, CursorPaginator):
        if paginator.last_record_field is not None:
            return _given(
                type=LAST_RECORD_CURSOR,
                record_field=paginator.last_record_field,
                cursor_param=paginator.cursor_param,
                has_more_path=paginator.has_more_path,
            )
        return _given(
            type="cursor",
            cursor_path=paginator.cursor_path,
            cursor_param=paginator.cursor_param,
            has_more_path=paginator.has_more_path,
        )
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
    if isinstance(paginator, NextUrlPaginator):
        return {"type": "json_link", "next_url_path": paginator.next_url_path}
    if isinstance(paginator, LinkHeaderPaginator):
        return {"type": "header_link", "links_next_key": paginator.rel}
    return {"type": "single_page"}


def endpoint_params(endpoint: EndpointSpec) -> dict[str, Any]:
    """The static query parameters, the page size of paginators that send one included."""
    params: dict[str, Any] = dict(endpoint.params)
    paginator = endpoint.paginator
    if isinstance(paginator, CursorPaginator | PageNumberPaginator) and paginator.limit:
        params.setdefault(paginator.limit_param, paginator.limit)
    return params


def columns_config(view: ResourceView) -> dict[str, dict[str, Any]]:
    """Column hints for dlt; the cursor decides which version of a key wins within one load.

    A resource whose deletions are tracked gets `_deleted_at` up front; in hard mode it is dlt's
    `hard_delete` column (a merged row carrying it is removed from the table).
    """
    columns = {name: hint.model_dump(exclude_none=True) for name, hint in view.columns.items()}
    if view.incremental and view.write_disposition == "merge":
        columns.setdefault(view.incremental.cursor_path, {})["dedup_sort"] = "desc"
    if view.deletes is not None:
        columns[DELETED_AT] = {"data_type": "timestamp", "nullable": True}
        if view.deletes.mode == "hard" and view.write_disposition == "merge":
            columns[DELETED_AT]["hard_delete"] = True
    return columns
