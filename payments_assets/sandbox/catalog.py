"""What the sandbox serves: one entry per provider resource, as docs/sandbox.md describes it.

The server, the record generator and the tests all read this table, so a path, an envelope or a
window parameter is written down exactly once.
"""

from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

BALANCE_CURRENCIES: tuple[str, ...] = ("usd", "eur", "gbp", "jpy", "chf", "cad")
LEDGER_CURRENCIES: tuple[str, ...] = ("usd", "eur", "jpy")


class Paging(str, Enum):
    """How a resource pages, named after what the client has to follow."""

    NEXT_CURSOR = "next_cursor"  # gateway: {"data", "next_cursor"}
    OFFSET_HAS_MORE = "offset_has_more"  # gateway: {"data", "has_more"}
    OFFSET_TOTAL = "offset_total"  # billing: {"object": "list", "data", "total"}
    AFTER_CURSOR = "after_cursor"  # direct_debit: {"<resource>", "meta": {"cursors": ...}}
    OFFSET_SHORT_PAGE = "offset_short_page"  # commerce: {"data"}; a short page is the end
    SINGLE_PAGE = "single_page"  # gateway balances: {"data"}
    STARTING_AFTER = "starting_after"  # ledger lists: {"object": "list", "has_more", "data"}
    SEARCH_PAGE = "search_page"  # ledger customers: {"object": "search_result", "next_page"}
    NEXT_URL = "next_url"  # ledger events: {"data", "next": "<absolute url>"}
    LINK_HEADER = "link_header"  # ledger payout_reports: a bare list, `Link: <url>; rel="next"`
    PAGE_NUMBER = "page_number"  # ledger dispute_reports: {"items", "page", "per_page", ...}
    SINGLE_OBJECT = "single_object"  # ledger balance: one object, not a list


@dataclass(frozen=True)
class Resource:
    """One list endpoint: where it lives, how it pages and filters, and what its rows look like."""

    provider: str
    name: str
    path: str
    paging: Paging
    data_key: str
    primary_key: str
    id_prefix: str
    statuses: tuple[str, ...]
    default_limit: int = 100
    max_limit: int = 100
    limit_param: str = "limit"
    time_field: str | None = "updated_at"
    time_format: Literal["iso", "epoch"] = "iso"
    window_params: tuple[str, str] | None = None
    updates: bool = True
    fixed_ids: tuple[str, ...] | None = None
    expandable: tuple[tuple[str, str], ...] = ()
    """(field, resource of the same provider) pairs `expand[]=<field>` replaces by the object."""
    deletion: Literal["flag", "status", "vanish"] = "vanish"
    """How the provider shows a record deleted through `/__records/.../delete`: still listed
    with `deleted: true` (`flag`) or `status: deleted` (`status`), updated at the deletion; or
    gone from every list (`vanish`), announced by an event and a webhook."""
    event_log: bool = False
    """A provider's events resource: its records are the events the sandbox logged."""
    lists: str | None = None
    """A paging fixture, not the provider's API: this path lists the records of that resource of
    the same provider, paged its own way (touches and deletions show in both lists)."""
    events: tuple[str, str] | None = None
    """Stripe-shaped state changes: a list filters on creation only, and the record's later
    changes (a refund, a cancellation, a dispute's status) are told by events of these types —
    (on creation, on each change; `{status}` reads the status) — each carrying the whole object."""
    refunds_of: str | None = None
    """Stripe's refunds list: the records are not generated but derived from the event log,
    one per rise of `amount_refunded` of this resource's records (the ledger's `charges`)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.name)

    @property
    def records_key(self) -> tuple[str, str]:
        """Whose records this path lists: its own, or a paging fixture's resource's."""
        return (self.provider, self.lists or self.name)

    def record_id(self, index: int) -> str:
        """Stable id of the record at `index` (`txn_000001` for index 0)."""
        if self.fixed_ids is not None:
            return self.fixed_ids[index]
        return f"{self.id_prefix}{index + 1:06d}"

    def index_of(self, record_id: str) -> int | None:
        """Inverse of `record_id`; None when the id cannot belong to this resource."""
        if self.fixed_ids is not None:
            return self.fixed_ids.index(record_id) if record_id in self.fixed_ids else None
        digits = record_id.removeprefix(self.id_prefix)
        if digits == record_id or not digits.isdigit() or int(digits) < 1:
            return None
        return int(digits) - 1


def _gateway(
    name: str, route: str, paging: Paging, prefix: str, statuses: tuple[str, ...]
) -> Resource:
    return Resource(
        provider="gateway",
        name=name,
        path=f"/gateway/v1/{route}",
        paging=paging,
        data_key="data",
        primary_key="id",
        id_prefix=prefix,
        statuses=statuses,
        window_params=("updated_from", "updated_to"),
    )


def _billing(name: str, prefix: str, statuses: tuple[str, ...]) -> Resource:
    return Resource(
        provider="billing",
        name=name,
        path=f"/billing/v1/{name}",
        paging=Paging.OFFSET_TOTAL,
        data_key="data",
        primary_key="id",
        id_prefix=prefix,
        statuses=statuses,
        window_params=("updated_gte", "updated_lt"),
    )


def _direct_debit(name: str, prefix: str, statuses: tuple[str, ...]) -> Resource:
    return Resource(
        provider="direct_debit",
        name=name,
        path=f"/direct_debit/v1/{name}",
        paging=Paging.AFTER_CURSOR,
        data_key=name,
        primary_key="id",
        id_prefix=prefix,
        statuses=statuses,
        default_limit=50,
        max_limit=500,
        window_params=("updated_at[gte]", "updated_at[lt]"),
    )


def _commerce(
    name: str, prefix: str, statuses: tuple[str, ...], time_field: str | None
) -> Resource:
    windows = {
        "occurred": ("occurred_gte", "occurred_lt"),
        "first_seen": ("first_seen_gte", "first_seen_lt"),
    }
    return Resource(
        provider="commerce",
        name=name,
        path=f"/commerce/v1/{name}",
        paging=Paging.OFFSET_SHORT_PAGE,
        data_key="data",
        primary_key=f"{name.removesuffix('s')}_id",
        id_prefix=prefix,
        statuses=statuses,
        max_limit=500,
        time_field=time_field,
        time_format="epoch" if time_field == "first_seen" else "iso",
        window_params=windows.get(time_field or ""),
        updates=False,
    )


def _ledger(
    name: str,
    paging: Paging,
    prefix: str,
    statuses: tuple[str, ...],
    default_limit: int,
    data_key: str = "data",
    limit_param: str = "limit",
    expandable: tuple[tuple[str, str], ...] = (),
    events: tuple[str, str] | None = None,
    event_log: bool = False,
) -> Resource:
    # Stripe-like: epoch `created`, lists filtered on it only, at most 100 rows a page; records
    # with `events` change after creation, and say so in the events resource.
    return Resource(
        provider="ledger",
        name=name,
        path=f"/ledger/v1/{name}",
        paging=paging,
        data_key=data_key,
        primary_key="id",
        id_prefix=prefix,
        statuses=statuses,
        default_limit=default_limit,
        time_field="created",
        time_format="epoch",
        window_params=("created[gte]", "created[lt]"),
        updates=events is not None,
        limit_param=limit_param,
        expandable=expandable,
        events=events,
        event_log=event_log,
    )


RESOURCES: tuple[Resource, ...] = (
    _gateway(
        "transactions",
        "transactions",
        Paging.NEXT_CURSOR,
        "txn_",
        ("pending", "succeeded", "failed", "refunded", "disputed"),
    ),
    Resource(
        provider="gateway",
        name="balances",
        path="/gateway/v1/balances",
        paging=Paging.SINGLE_PAGE,
        data_key="data",
        primary_key="id",
        id_prefix="bal_",
        statuses=("available", "frozen"),
        fixed_ids=tuple(f"bal_{currency}" for currency in BALANCE_CURRENCIES),
        updates=False,
    ),
    _gateway(
        "list_payments",
        "payments",
        Paging.OFFSET_HAS_MORE,
        "pay_",
        ("requires_capture", "captured", "settled", "voided", "failed"),
    ),
    _billing("customers", "cus_", ("active", "inactive", "archived")),
    Resource(
        provider="billing",
        name="events",
        path="/billing/v1/events",
        paging=Paging.OFFSET_TOTAL,
        data_key="data",
        primary_key="id",
        id_prefix="evt_",
        statuses=(),
        time_field="created",
        window_params=("created_gte", "created_lt"),
        updates=False,
        event_log=True,
    ),
    _billing("invoices", "in_", ("draft", "open", "paid", "void", "uncollectible")),
    _billing("charges", "ch_", ("pending", "succeeded", "failed")),
    _billing("subscriptions", "sub_", ("trialing", "active", "past_due", "canceled", "unpaid")),
    _billing("refunds", "re_", ("pending", "succeeded", "failed", "canceled")),
    _direct_debit(
        "payments",
        "PM",
        ("pending_submission", "submitted", "confirmed", "paid_out", "failed", "cancelled"),
    ),
    _direct_debit(
        "refunds", "RF", ("created", "pending_submission", "submitted", "paid", "bounced")
    ),
    replace(
        _direct_debit(
            "mandates", "MD", ("pending_submission", "submitted", "active", "failed", "cancelled")
        ),
        deletion="status",
    ),
    _direct_debit("payouts", "PO", ("pending", "paid", "bounced")),
    _commerce("charges", "chg_", ("authorized", "captured", "declined", "refunded"), "occurred"),
    _commerce("products", "prod_", ("active", "draft", "archived"), None),
    replace(_commerce("customers", "cust_", ("active", "blocked"), "first_seen"), deletion="flag"),
    _commerce("subscriptions", "csub_", ("active", "paused", "cancelled"), "first_seen"),
    _ledger(
        "charges",
        Paging.STARTING_AFTER,
        "ch_",
        ("succeeded", "pending", "failed"),
        10,
        expandable=(("customer", "customers"),),
        events=("charge.{status}", "charge.refunded"),
    ),
    _ledger("customers", Paging.SEARCH_PAGE, "cus_", (), 10),
    _ledger("events", Paging.NEXT_URL, "evt_", (), 50, event_log=True),
    _ledger(
        "payouts", Paging.STARTING_AFTER, "po_", ("paid", "pending", "in_transit", "failed"), 10
    ),
    _ledger(
        "disputes",
        Paging.STARTING_AFTER,
        "dp_",
        ("warning_needs_response", "needs_response", "under_review", "won", "lost"),
        10,
        events=("charge.dispute.created", "charge.dispute.updated"),
    ),
    # Not Stripe: the payouts and disputes again, paged as other APIs do, so the dialect's
    # `link_header` and `page_number` paginators are tested over HTTP (docs/sandbox.md).
    replace(
        _ledger(
            "payout_reports", Paging.LINK_HEADER, "po_", (), 30, data_key="", limit_param="per_page"
        ),
        lists="payouts",
    ),
    replace(
        _ledger(
            "dispute_reports",
            Paging.PAGE_NUMBER,
            "dp_",
            (),
            20,
            data_key="items",
            limit_param="per_page",
        ),
        lists="disputes",
    ),
    _ledger(
        "subscriptions",
        Paging.STARTING_AFTER,
        "sub_",
        ("active", "trialing"),
        10,
        events=("customer.subscription.created", "customer.subscription.updated"),
    ),
    _ledger("invoices", Paging.STARTING_AFTER, "in_", ("draft", "open", "paid", "void"), 10),
    replace(
        _ledger("refunds", Paging.STARTING_AFTER, "re_", ("succeeded",), 10),
        refunds_of="charges",
    ),
    _ledger(
        "payment_intents",
        Paging.STARTING_AFTER,
        "pi_",
        ("requires_payment_method", "processing", "succeeded", "canceled"),
        10,
    ),
    Resource(
        provider="ledger",
        name="balance",
        path="/ledger/v1/balance",
        paging=Paging.SINGLE_OBJECT,
        data_key="available",  # what `missing_selector` drops
        primary_key="object",
        id_prefix="",
        statuses=(),
        time_field=None,
        fixed_ids=("balance",),
        updates=False,
    ),
)

BY_KEY: dict[tuple[str, str], Resource] = {resource.key: resource for resource in RESOURCES}
DELETION_MARKS: dict[str, tuple[str, object]] = {
    "flag": ("deleted", True),
    "status": ("status", "deleted"),
}
"""How a `flag` or `status` deletion marks the record: (field, value)."""
EVENT_LOGS: dict[str, Resource] = {r.provider: r for r in RESOURCES if r.event_log}
"""Provider → its events resource (billing's `/v1/events` lists the deletions it logged; the
ledger's, Stripe-shaped, every creation and change of its records with `events`)."""
PROVIDERS: tuple[str, ...] = ("gateway", "billing", "direct_debit", "commerce", "ledger")
"""Every provider the sandbox serves; `ledger` is a Stripe-shaped API no shipped YAML reads."""
