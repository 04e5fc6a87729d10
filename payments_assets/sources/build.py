"""A provider spec, its resolved connection and an optional window in; a dlt source out."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from dlt.common import jsonpath
from dlt.extract.source import DltSource
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.rest_api import rest_api_source

from ..card_numbers import record_masker
from ..specs import (
    ACCOUNT_COLUMN,
    DEFAULT_ACCOUNT,
    ProviderSpec,
    ResourceSpec,
    columns_config,
    endpoint_params,
    paginator_config,
)
from .arrow import load_pages_as_arrow
from .auth import build_auth
from .errors import InsecureURLError, MissingCredentialsError
from .redaction import Redactor
from .responses import response_checker
from .windows import Window, incremental_config

LOADED_AT = "_loaded_at"
REQUEST_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Connection:
    """Where a provider lives and the secrets its auth needs, resolved at run time."""

    base_url: str
    secrets: Mapping[str, str] = field(repr=False)
    token_url: str | None = None

    @property
    def redactor(self) -> Redactor:
        return Redactor(self.secrets.values())


def _loopback(host: str | None) -> bool:
    if host in (None, ""):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)):
        return
    raise InsecureURLError(
        f"{what} {parts.scheme}://{parts.hostname}{parts.path} is not HTTPS: credentials may only "
        "travel over HTTPS (plain HTTP is allowed on loopback, for the sandbox)"
    )


def _check_connection(spec: ProviderSpec, connection: Connection) -> None:
    missing = [name for name in spec.secret_fields if not connection.secrets.get(name)]
    if missing:
        raise MissingCredentialsError(
            f"{spec.name}: no value for {', '.join(missing)}; set the environment variables "
            "named in the provider YAML (see .env.example)"
        )
    require_secure(connection.base_url, f"{spec.name} base_url")
    if connection.token_url:
        require_secure(connection.token_url, f"{spec.name} token_url")


def _session(spec: ProviderSpec) -> Any:
    policy = spec.retry_policy
    return Client(
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        raise_for_status=False,
        status_codes=policy.retry_on_status_codes,
        request_max_attempts=policy.max_retries + 1,
        request_backoff_factor=policy.backoff_factor,
        request_max_retry_delay=policy.max_retry_delay,
        respect_retry_after_header=True,
    ).session


def _stamp_loaded_at(loaded_at: datetime) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def stamp(item: dict[str, Any]) -> dict[str, Any]:
        item[LOADED_AT] = loaded_at
        return item

    return stamp


def _as_dlt_key(key: str | tuple[str, ...] | None) -> str | list[str] | None:
    return list(key) if isinstance(key, tuple) else key


def _stamp_account(account: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def stamp(item: dict[str, Any]) -> dict[str, Any]:
        item[ACCOUNT_COLUMN] = account
        return item

    return stamp


def _resource_config(
    spec: ProviderSpec,
    resource: ResourceSpec,
    window: Window | None,
    account_params: Mapping[str, Any],
) -> dict[str, Any]:
    endpoint = spec.endpoint_of(resource)
    assert endpoint.paginator is not None and endpoint.data_selector is not None
    retry_statuses = frozenset(spec.retry_policy.retry_on_status_codes)
    config: dict[str, Any] = {
        "name": resource.name,
        "primary_key": _as_dlt_key(spec.primary_key_of(resource)),
        "write_disposition": spec.write_disposition_of(resource),
        "columns": columns_config(spec, resource),
        "endpoint": {
            "path": endpoint.path,
            "params": {**endpoint_params(endpoint), **account_params},
            # Compiled once: dlt would parse the JSONPath again for every page.
            "data_selector": jsonpath.compile_path(endpoint.data_selector),
            "paginator": paginator_config(endpoint.paginator),
            "response_actions": [
                response_checker(spec.name, resource.name, endpoint.data_selector, retry_statuses)
            ],
        },
    }
    if resource.max_table_nesting is not None:
        config["max_table_nesting"] = resource.max_table_nesting
    if window is not None and endpoint.incremental is not None:
        config["endpoint"]["incremental"] = incremental_config(window, endpoint.incremental)
        if not endpoint.incremental.server_side:
            logging.getLogger(__name__).warning(
                "%s/%s has no server-side window filter: reading every page and filtering %s "
                "client-side on %s",
                spec.name,
                resource.name,
                window,
                endpoint.incremental.cursor_path,
            )
    return {k: v for k, v in config.items() if v is not None}


def build_source(
    spec: ProviderSpec,
    connection: Connection,
    window: Window | None = None,
    resources: Iterable[str] | None = None,
    loaded_at: datetime | None = None,
    account: str = DEFAULT_ACCOUNT,
) -> DltSource:
    """The dlt rest_api source for `spec`; `window` limits windowed resources to it.

    Snapshot resources (no time cursor) get a `_loaded_at` column; every resource masks card
    numbers before anything is written. With accounts declared, requests carry the account's
    own header/parameters and every row its account.
    """
    _check_connection(spec, connection)
    wanted = set(resources) if resources is not None else {r.name for r in spec.resources}
    chosen = [r for r in spec.resources if r.name in wanted]
    declared = spec.account(account)
    headers = {**spec.client.headers, **(declared.headers if declared else {})}
    account_params = dict(declared.params) if declared else {}
    session = _session(spec)
    config: dict[str, Any] = {
        "client": {
            "base_url": connection.base_url,
            "auth": build_auth(
                spec.client.auth, dict(connection.secrets), connection.token_url, session
            ),
            "session": session,
            "headers": headers or None,
        },
        "resources": [
            _resource_config(spec, resource, window, account_params) for resource in chosen
        ],
    }
    config["client"] = {k: v for k, v in config["client"].items() if v is not None}
    source = rest_api_source(config, name=spec.name)
    stamped_at = loaded_at or datetime.now(timezone.utc)
    stamp = _stamp_loaded_at(stamped_at)
    for resource in chosen:
        dlt_resource = source.resources[resource.name]
        constants = {
            **({} if spec.is_windowed(resource) else {LOADED_AT: stamped_at}),
            **({ACCOUNT_COLUMN: account} if spec.multi_account else {}),
        }
        if not load_pages_as_arrow(dlt_resource, spec, resource, constants):
            dlt_resource.add_map(record_masker(resource.time_columns))
            if not spec.is_windowed(resource):
                dlt_resource.add_map(stamp)
            if spec.multi_account:
                dlt_resource.add_map(_stamp_account(account))
        # Resources extract side by side: one waits for its pages while another is parsed.
        dlt_resource.parallelize()
    return source


def connection_from_environ(spec: ProviderSpec, environ: Mapping[str, str]) -> Connection:
    """A connection read from an environment mapping: for scripts and tests outside Dagster."""
    from ..specs import OAuth2Auth, resolve_url

    auth = spec.client.auth
    secrets = {name: environ.get(getattr(auth, name).env, "") for name in spec.secret_fields}
    token_url = resolve_url(auth.token_url, environ) if isinstance(auth, OAuth2Auth) else None
    return Connection(resolve_url(spec.client.base_url, environ), secrets, token_url)
