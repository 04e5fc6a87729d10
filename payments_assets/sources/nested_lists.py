"""Lists nested in records, made whole before the record is written.

Stripe embeds the first page of a nested list (an invoice's first 10 `lines`, with `has_more`
and the list's `url`); keeping only what is embedded silently loses the rest. For each list the
YAML declares (`nested_lists:`), a record whose list says there is more gets the whole list
fetched again from its URL, with the provider's client: its auth, paginator, retries and
request budget. The record then holds the elements themselves, so dlt writes every one of them
to the child table (`invoices__lines`). A list that cannot be completed fails the load: a table
never holds a list known to be cut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.rest_api.config_setup import create_paginator

from ..never_land import never_land_keeper
from ..specs import EndpointSpec, ResourceView, endpoint_params, paginator_config
from ..specs.record_shapes import NestedListSpec
from .errors import ProviderError
from .paginators import dlt_paginator
from .responses import response_checker


class NestedListError(ProviderError):
    """A nested list says it has more elements, and the rest could not be fetched."""


class ListWalker:
    """Walks one list endpoint of a provider with its client: a fresh paginator and response
    checks per walk, so one walk's position or guard never leaks into the next."""

    def __init__(
        self, client: RESTClient, view: ResourceView, retry_statuses: frozenset[int]
    ) -> None:
        self.client = client
        self.view = view
        self.retry_statuses = retry_statuses
        self.page_params = endpoint_params(EndpointSpec(paginator=view.paginator))

    def walk(
        self, path: str, data_selector: str, params: dict[str, Any] | None = None
    ) -> Iterator[list[Any]]:
        checker = response_checker(
            self.view.provider, self.view.name, data_selector, self.retry_statuses
        )
        yield from self.client.paginate(
            path,
            params={**self.page_params, **(params or {})},
            # RESTClient takes paginator instances only (rest_api's config also takes dicts).
            paginator=create_paginator(dlt_paginator(paginator_config(self.view.paginator))),  # type: ignore[arg-type]
            data_selector=data_selector,
            hooks={"response": [checker]},
        )


class NestedListCompleter:
    """Replaces each declared list object of a record by all of its elements."""

    def __init__(self, walker: ListWalker, base_url: str) -> None:
        self.walker = walker
        self.view = walker.view
        self.origin = urlsplit(base_url)[:2]

    def record(self, record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        for nested in self.view.nested_lists:
            listed = record.get(nested.field)
            if isinstance(listed, dict) and isinstance(listed.get(nested.data), list):
                record[nested.field] = self._elements(record, nested, listed)
        return record

    def _elements(
        self, record: dict[str, Any], nested: NestedListSpec, listed: dict[str, Any]
    ) -> list[Any]:
        if listed.get(nested.has_more) is not True:
            return list(listed[nested.data])
        where = (
            f"{self.view.provider}/{self.view.name}: record {record.get('id', '?')}: "
            f"'{nested.field}' embeds {len(listed[nested.data])} elements and says it has more"
        )
        url = listed.get(nested.url)
        if not isinstance(url, str) or not url:
            raise NestedListError(f"{where}, but gives no '{nested.url}' to fetch the rest from")
        if url.startswith(("http://", "https://")) and urlsplit(url)[:2] != self.origin:
            raise NestedListError(
                f"{where}; its URL is on another host ({urlsplit(url).hostname}), where the "
                "provider's credentials are never sent"
            )
        try:
            return [element for page in self.walker.walk(url, nested.data) for element in page]
        except Exception as exc:  # any failure: the list stays cut, so the load must fail
            raise NestedListError(
                f"{where}; fetching the rest from {urlsplit(url).path} failed, so the load stops "
                f"instead of keeping a cut list: {exc}"
            ) from exc


def record_step(
    view: ResourceView, completer: NestedListCompleter | None
) -> Callable[[Any], Any] | None:
    """What every record of a resource goes through before masking and Arrow: nested lists
    made whole, never-land fields taken out (None: nothing to do)."""
    keep_out = never_land_keeper(view.never_land)
    steps = [step for step in (completer.record if completer else None, keep_out) if step]
    if not steps:
        return None

    def step(record: Any) -> Any:
        for one in steps:
            record = one(record)
        return record

    return step


def page_step(step: Callable[[Any], Any]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """`step` on every record of every page of a stream of pages."""

    def pages(stream: Iterator[Any]) -> Iterator[Any]:
        for page in stream:
            yield [step(item) for item in page] if isinstance(page, list) else step(page)

    return pages
