"""GoCardless' child list by query parameter: `GET /direct_debit/v1/payout_items?payout=PO…`.

The items of one payout, paged like direct_debit's other lists (`after`, `limit`,
`{"payout_items", "meta": {"cursors", "limit"}}`), through the same gate (auth, rate limit,
faults). Payout i has `PAYOUT_ITEM_COUNTS[i % 5]` items; when it has any, they sum to its
`amount`: the payments paid out are its amount plus its fees, and one `gocardless_fee` item
takes the fees back. Like GoCardless' items, they have no id.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_assets.sandbox.api import Endpoint, _gate, refusal
from payments_assets.sandbox.catalog import BY_KEY, _direct_debit
from payments_assets.sandbox.draws import RecordRandom
from payments_assets.sandbox.errors import ApiError
from payments_assets.sandbox.paging import decode_cursor, encode_cursor, read_limit
from payments_assets.sandbox.records import Record, _stream_base
from payments_assets.sandbox.responses import FastJSONResponse
from payments_assets.sandbox.state import SandboxState

PAYOUTS = BY_KEY[("direct_debit", "payouts")]
PAYMENTS = BY_KEY[("direct_debit", "payments")]
PAYOUT_ITEMS = _direct_debit("payout_items", "", ())
"""Not in the catalog (no records of its own, no window): it pages and refuses like one."""
PAYOUT_ITEMS_PATH = PAYOUT_ITEMS.path
PAYOUT_ITEM_COUNTS: tuple[int, ...] = (0, 1, 2, 5, 12)
"""Items of the payout at index i: none, a lone payment, a payment and its fee, and more than
one page of 5."""


def payout_item_count(index: int) -> int:
    return PAYOUT_ITEM_COUNTS[index % len(PAYOUT_ITEM_COUNTS)]


def payout_items(seed: int, index: int, payout: Record, payments: int) -> list[Record]:
    """The items of the payout at `index` (its record is `payout`), linking to distinct payments
    of the `payments` the account has."""
    count = payout_item_count(index)
    if count == 0:
        return []
    fees = payout["deducted_fees"] if count > 1 else 0
    paid_out = payout["amount"] + fees
    rng = RecordRandom(_stream_base(seed, "direct_debit", "payout_items") + index)
    cuts = sorted(rng.randint(1, paid_out - 1) for _ in range(count - 2))
    amounts = [high - low for low, high in zip([0, *cuts], [*cuts, paid_out], strict=True)]
    first = rng.randrange(payments)
    links = [PAYMENTS.record_id((first + step) % payments) for step in range(count - 1 or 1)]
    items = [
        {"amount": amount, "type": "payment_paid_out", "links": {"payment": link}}
        for amount, link in zip(amounts, links, strict=False)
    ]
    if count > 1:
        items.append({"amount": -fees, "type": "gocardless_fee", "links": {"payment": links[0]}})
    return [{**item, "currency": payout["currency"]} for item in items]


def payout_items_endpoint(state: SandboxState) -> Endpoint:
    async def list_items(request: Request) -> Response:
        state.stats.requests[PAYOUT_ITEMS_PATH] += 1
        refused = _gate(state, PAYOUT_ITEMS, request)
        if isinstance(refused, Response):
            return refused
        datasets = state.accounts[request.state.account]
        payouts = datasets[PAYOUTS.key]
        params = request.query_params
        try:
            payout_id = params.get("payout")
            if not payout_id:
                raise ApiError(422, "invalid_request", "payout is required", param="payout")
            index = PAYOUTS.index_of(payout_id)
            if index is None or index >= payouts.count or payouts.is_deleted(index):
                raise ApiError(404, "resource_not_found", f"No such payout: '{payout_id[:40]}'")
            limit = read_limit(PAYOUT_ITEMS, params)
            cursor = params.get("after")
            start = decode_cursor(PAYOUT_ITEMS, cursor)[0] if cursor else 0
        except ApiError as error:
            return refusal(PAYOUT_ITEMS.provider, error)
        payments = datasets[PAYMENTS.key].count
        items = payout_items(payouts.seed, index, payouts.record(index), payments)
        following = start + limit if start + limit < len(items) else None
        after = None if following is None else encode_cursor(PAYOUT_ITEMS, following, None)
        body = {
            "payout_items": items[start : start + limit],
            "meta": {"cursors": {"before": None, "after": after}, "limit": limit},
        }
        return FastJSONResponse(body)

    return list_items


def payout_item_routes(state: SandboxState) -> list[Route]:
    return [Route(PAYOUT_ITEMS_PATH, payout_items_endpoint(state), methods=["GET"])]
