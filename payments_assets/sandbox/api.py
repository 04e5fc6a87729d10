"""The provider-facing endpoints: OAuth2 token issue and every list resource.

A data request goes through the same gate for every provider (count, latency, auth, rate
limit per credential, injected fault, random failure) before its page is built, so faults
behave alike everywhere.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from payments_assets.sandbox.auth import check_request, client_credentials
from payments_assets.sandbox.catalog import Resource
from payments_assets.sandbox.credentials import account_id
from payments_assets.sandbox.dataset import Dataset, Listed, Listing
from payments_assets.sandbox.errors import ApiError, error_body, invalid_request
from payments_assets.sandbox.expansion import expand
from payments_assets.sandbox.faults import status_of
from payments_assets.sandbox.paging import Page, build_page
from payments_assets.sandbox.responses import FastJSONResponse, html_page, truncated_json
from payments_assets.sandbox.state import SandboxState

Endpoint = Callable[[Request], Awaitable[Response]]

TOKEN_PATH = "/gateway/oauth/token"


def refusal(provider: str, error: ApiError) -> Response:
    return FastJSONResponse(error_body(provider, error), error.status, headers=error.headers)


def token_endpoint(state: SandboxState) -> Endpoint:
    async def issue_token(request: Request) -> Response:
        state.stats.requests[TOKEN_PATH] += 1
        try:
            account = client_credentials(
                request.headers, await request.body(), state.options.accounts
            )
        except ApiError as error:
            state.stats.auth_failures += error.status == 401
            return refusal("gateway", error)
        state.stats.tokens_issued += 1
        body = {
            "access_token": state.tokens.issue(account),
            "token_type": "Bearer",
            "expires_in": state.tokens.ttl,
        }
        return FastJSONResponse(body, headers={"Cache-Control": "no-store"})

    return issue_token


def _gate(state: SandboxState, resource: Resource, request: Request) -> Response | str | None:
    """Refuse or fail the request as configured; else return the injected fault kind, if any."""
    provider = resource.provider
    state.stats.data_request(provider)
    try:
        account = check_request(
            provider, request.headers, request.query_params, state.tokens, state.options.accounts
        )
    except ApiError as error:
        state.stats.auth_failures += error.status == 401
        state.stats.account_mismatches += error.code == "account_mismatch"
        return refusal(provider, error)
    request.state.account = account
    state.stats.by_account[f"{provider}/{account_id(account)}"] += 1
    if not state.buckets[(provider, account)].allow():  # each credential has its own budget
        state.stats.faults["429"] += 1
        state.stats.rate_limited[provider] += 1
        limited = ApiError(429, "rate_limited", "too many requests", {"Retry-After": "1"})
        return refusal(provider, limited)
    kind = state.faults.take(request.url.path)
    if kind == "invalid_request":
        state.stats.faults["400"] += 1
        credential = request.headers.get("Authorization") or request.query_params.get("api_key")
        return refusal(provider, invalid_request(credential or ""))
    status = status_of(kind) if kind else state.failures.draw()
    if status is not None:
        state.stats.faults[str(status)] += 1
        return refusal(provider, ApiError(status, "server_error", f"sandbox fault {status}"))
    return kind


def _faulty(resource: Resource, kind: str, page: Page) -> Response:
    if kind in ("html", "html_500"):
        return html_page(500 if kind == "html_500" else 200)
    if kind == "empty_body":
        return Response(b"", headers=page.headers, media_type="application/json")
    if kind == "truncated_json":
        return truncated_json(page.body, page.headers)
    if kind == "missing_selector":
        return FastJSONResponse(_without_data(resource, page.body), headers=page.headers)
    return FastJSONResponse(page.body, headers=page.headers)


def _without_data(resource: Resource, body: Any) -> Any:
    """The body without its data key; a bare list has none, so an empty object stands in it."""
    if isinstance(body, list):
        return {}
    return {k: v for k, v in body.items() if k != resource.data_key}


def _listed(resource: Resource, datasets: dict[tuple[str, str], Dataset]) -> Listed:
    """The records `resource` pages through: its own, or (a paging fixture) another's."""
    records = datasets[resource.records_key]
    return records if resource.lists is None else Listing(resource, records)


def list_endpoint(state: SandboxState, resource: Resource) -> Endpoint:
    async def list_records(request: Request) -> Response:
        state.stats.requests[resource.path] += 1
        if state.options.latency_ms:
            await asyncio.sleep(state.options.latency_ms / 1000)
        gate = _gate(state, resource, request)
        if isinstance(gate, Response):
            return gate
        datasets = state.accounts[request.state.account]
        try:
            page = build_page(
                _listed(resource, datasets),
                request.query_params,
                endless=gate == "endless_cursor",
                url=str(request.url.replace(query="")),
            )
        except ApiError as error:
            return refusal(resource.provider, error)
        if resource.expandable:
            expand(resource, page.rows, request.query_params.getlist("expand[]"), datasets)
        if gate is None:
            return FastJSONResponse(page.body, headers=page.headers)
        state.stats.faults["500" if gate == "html_500" else gate] += 1
        return _faulty(resource, gate, page)

    return list_records
