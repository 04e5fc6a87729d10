"""A provider spec, its resolved connection and an optional window in; a dlt source out."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from dlt.common import jsonpath
from dlt.extract.source import DltSource
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.rest_api import rest_api_source

from ..specs import (
    ACCOUNT_COLUMN,
    DEFAULT_ACCOUNT,
    ProviderSpec,
    ResourceView,
    columns_config,
    endpoint_params,
    paginator_config,
)
from .arrow import load_pages_as_arrow
from .auth import build_auth
from .connection import Connection, check_connection
from .deletions import DeletionNotes
from .dependent import dependent_resource
from .dlt_internals import replace_pages
from .event_updates import EventStates
from .nested_lists import ListWalker, NestedListCompleter, page_step, record_step
from .paginators import dlt_paginator
from .rate_limit import RequestBudget, mount_budget
from .record_steps import dict_record_steps
from .responses import response_checker, retry_not_json
from .windows import Window, incremental_config

LOADED_AT = "_loaded_at"
REQUEST_TIMEOUT_SECONDS = 60


def _session(spec: ProviderSpec, account: str) -> Any:
    """dlt's retrying session with the provider's error_handler, and its request budget: one per
    source, so every resource of a run (and its token requests) shares it."""
    policy = spec.retry_policy
    session = Client(
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        raise_for_status=False,
        status_codes=policy.retry_on_status_codes,
        request_max_attempts=policy.max_retries + 1,
        request_backoff_factor=policy.backoff_factor,
        request_max_retry_delay=policy.max_retry_delay,
        respect_retry_after_header=True,
        retry_condition=retry_not_json,
    ).session
    if (limit := spec.rate_limit_of(account)) is not None:
        mount_budget(session, RequestBudget.of(limit))
    return session


def _resource_config(
    spec: ProviderSpec, view: ResourceView, window: Window | None, account_params: Mapping[str, Any]
) -> dict[str, Any]:
    endpoint = view.endpoint
    retry_statuses = frozenset(spec.retry_policy.retry_on_status_codes)
    config: dict[str, Any] = {
        "name": view.name,
        "primary_key": view.dlt_primary_key,
        "write_disposition": view.write_disposition,
        "columns": columns_config(view),
        "endpoint": {
            "path": view.path,
            "params": {**endpoint_params(endpoint), **account_params},
            # Compiled once: dlt would parse the JSONPath again for every page.
            "data_selector": jsonpath.compile_path(view.data_selector),
            # A fresh paginator per source: one holds the walk's position.
            "paginator": dlt_paginator(paginator_config(view.paginator)),
            "response_actions": [
                response_checker(spec.name, view.name, view.data_selector, retry_statuses)
            ],
        },
    }
    if view.max_table_nesting is not None:
        config["max_table_nesting"] = view.max_table_nesting
    if window is not None and view.incremental is not None:
        config["endpoint"]["incremental"] = incremental_config(window, view.incremental)
        if not view.incremental.server_side:
            logging.getLogger(__name__).warning(
                "%s/%s has no server-side window filter: reading every page and filtering %s "
                "client-side on %s",
                spec.name,
                view.name,
                window,
                view.incremental.cursor_path,
            )
    return {k: v for k, v in config.items() if v is not None}


def build_source(
    spec: ProviderSpec,
    connection: Connection,
    window: Window | None = None,
    resources: Iterable[str] | None = None,
    loaded_at: datetime | None = None,
    account: str = DEFAULT_ACCOUNT,
    deletions: DeletionNotes | None = None,
    event_states: EventStates | None = None,
) -> DltSource:
    """The dlt rest_api source for `spec`; `window` limits windowed resources to it.

    Snapshot resources (no time cursor) get a `_loaded_at` column; every resource masks card
    numbers before anything is written. With accounts declared, requests carry the account's
    own header/parameters and every row its account. Records the provider lists as deleted get
    `_deleted_at` and are noted in `deletions` (for the ledger the load writes afterwards).
    With `event_states`, the event feed's pages leave the object states they carry there.
    """
    check_connection(spec, connection)
    wanted = set(resources) if resources is not None else {view.name for view in spec.views}
    chosen = [view for view in spec.views if view.name in wanted]
    # A dependent resource is fed by its parent's records: the parent is fetched too (dlt
    # loads it only when it is chosen itself).
    parents = {view.parent.resource for view in chosen if view.parent is not None}
    listed = [v for v in spec.views if v.parent is None and (v.name in wanted or v.name in parents)]
    declared = spec.account(account)
    headers = {**spec.client.headers, **(declared.headers if declared else {})}
    account_params = dict(declared.params) if declared else {}
    session = _session(spec, account)
    auth = build_auth(spec.client.auth, dict(connection.secrets), connection.token_url, session)
    config: dict[str, Any] = {
        "client": {
            "base_url": connection.base_url,
            "auth": auth,
            "session": session,
            "headers": headers or None,
        },
        "resources": [_resource_config(spec, view, window, account_params) for view in listed],
    }
    config["client"] = {k: v for k, v in config["client"].items() if v is not None}
    source = rest_api_source(config, name=spec.name)
    # The same client for what rest_api does not walk itself: nested lists, dependent resources.
    client = RESTClient(connection.base_url, headers or None, auth, session=session)
    retry_statuses = frozenset(spec.retry_policy.retry_on_status_codes)
    stamped_at = loaded_at or datetime.now(timezone.utc)
    for view in chosen:
        walker = ListWalker(client, view, retry_statuses)
        completer = NestedListCompleter(walker, connection.base_url) if view.nested_lists else None
        if view.parent is not None:
            params = {**endpoint_params(view.endpoint), **account_params}
            parent = source.resources[view.parent.resource]
            source.resources.add(dependent_resource(view, parent, walker, params))
        dlt_resource = source.resources[view.name]
        constants = {
            **({} if view.windowed else {LOADED_AT: stamped_at}),
            **({ACCOUNT_COLUMN: account} if spec.multi_account else {}),
        }
        notes = deletions or DeletionNotes()
        if event_states is not None and view.name == event_states.feed.resource:
            replace_pages(dlt_resource, event_states.tap)  # the states its events carry
        if (step := record_step(view, completer)) is not None:
            if view.parent is not None:
                dlt_resource.add_map(step)
            else:
                replace_pages(dlt_resource, page_step(step))
        if view.parent is not None or not load_pages_as_arrow(
            dlt_resource, view, constants, notes, stamped_at
        ):
            dict_record_steps(dlt_resource, view, constants, notes, stamped_at)
        # Resources extract side by side: one waits for its pages while another is parsed.
        if view.parent is None:
            dlt_resource.parallelize()
    for name in parents - wanted:
        source.resources[name].parallelize()
    return source.with_resources(*(view.name for view in chosen))
