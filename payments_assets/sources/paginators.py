"""The one paginator dlt does not have: a cursor taken from the last record of the page.

Stripe-shaped lists page with `starting_after=<id of the last object>` and say `has_more`; dlt's
cursor paginators read the cursor from the body or a header only. dlt's `rest_api` validates a
paginator dict against its own kinds, so this one reaches it as an instance (`dlt_paginator`).
"""

from __future__ import annotations

from typing import Any

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client.paginators import BaseReferencePaginator
from requests import Request, Response

from ..specs.translate import LAST_RECORD_CURSOR


class LastRecordCursorPaginator(BaseReferencePaginator):
    """`cursor_param=<record_field of the page's last record>` until `has_more_path` reads false
    (or, without one, until a page comes back empty)."""

    def __init__(
        self, record_field: str, cursor_param: str, has_more_path: str | None = None
    ) -> None:
        super().__init__()
        self.record_field = jsonpath.compile_path(record_field)
        self.cursor_param = cursor_param
        self.has_more_path = jsonpath.compile_path(has_more_path) if has_more_path else None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        if not data:
            self._next_reference = None
            return
        values = jsonpath.find_values(self.record_field, data[-1])
        self._next_reference = values[0] if values and values[0] not in ("", None) else None
        if self.has_more_path is not None:
            found = jsonpath.find_values(self.has_more_path, response.json())
            if not found or not isinstance(found[0], bool):
                raise ValueError(
                    f"'{self.has_more_path}' is not a boolean in the response: the provider YAML's "
                    "has_more_path does not match the API"
                )
            self._has_next_page = self._has_next_page and found[0]

    def update_request(self, request: Request) -> None:
        if request.params is None:
            request.params = {}
        request.params[self.cursor_param] = self._next_reference


def dlt_paginator(config: dict[str, Any]) -> dict[str, Any] | LastRecordCursorPaginator:
    """What rest_api takes for a translated paginator: dlt's own kinds as the dict, ours built."""
    if config["type"] == LAST_RECORD_CURSOR:
        return LastRecordCursorPaginator(**{k: v for k, v in config.items() if k != "type"})
    return config
