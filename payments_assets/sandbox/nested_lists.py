"""Stripe's nested lists, served whole: `GET /v1/invoices/{id}/lines` pages an invoice's lines.

A ledger invoice embeds only the first page of its lines (`has_more`, `url`); this endpoint is
where a client finds the rest, paged like every Stripe list (`limit`, `starting_after`,
`has_more`), through the same gate (auth, rate limit, faults) as the lists themselves.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_assets.sandbox.api import Endpoint, _gate, refusal
from payments_assets.sandbox.catalog import BY_KEY
from payments_assets.sandbox.errors import ApiError
from payments_assets.sandbox.records import INVOICE_LINES_URL, invoice_lines
from payments_assets.sandbox.responses import FastJSONResponse
from payments_assets.sandbox.state import SandboxState

INVOICES = BY_KEY[("ledger", "invoices")]
LINES_PATH = "/ledger" + INVOICE_LINES_URL.format(id="{invoice_id}")
MAX_LIMIT = 100


def _limit(text: str | None) -> int:
    try:
        limit = 10 if text is None else int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_request", f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def invoice_lines_endpoint(state: SandboxState) -> Endpoint:
    async def list_lines(request: Request) -> Response:
        state.stats.requests[LINES_PATH] += 1
        refused = _gate(state, INVOICES, request)
        if isinstance(refused, Response):
            return refused
        invoice_id = request.path_params["invoice_id"]
        dataset = state.accounts[request.state.account][INVOICES.key]
        index = INVOICES.index_of(invoice_id)
        try:
            if index is None or index >= dataset.count or dataset.is_deleted(index):
                raise ApiError(404, "resource_missing", f"No such invoice: '{invoice_id[:40]}'")
            limit = _limit(request.query_params.get("limit"))
            currency = dataset.record(index)["currency"]
            lines = invoice_lines(dataset.seed, index, currency)
            after = request.query_params.get("starting_after")
            start = 0
            if after:
                ids = [line["id"] for line in lines]
                if after not in ids:
                    raise ApiError(400, "invalid_request", f"No such line item: '{after[:40]}'")
                start = ids.index(after) + 1
        except ApiError as error:
            return refusal(INVOICES.provider, error)
        page = lines[start : start + limit]
        body = {
            "object": "list",
            "url": INVOICE_LINES_URL.format(id=invoice_id),
            "has_more": start + limit < len(lines),
            "data": page,
        }
        return FastJSONResponse(body)

    return list_lines


def nested_list_routes(state: SandboxState) -> list[Route]:
    return [Route(LINES_PATH, invoice_lines_endpoint(state), methods=["GET"])]
