"""Fact and dimension marts generated from roles: one row per payment, refund, dispute, payout or
customer of every provider whose YAML gives a resource that role.

Each mart is a list of columns written in role terms (`feed.amount("amount")`); every feed of
the role contributes one SELECT over its staging table, and the SELECTs are unioned. A provider
added from `PAYMENTS_PROVIDERS_DIR` with roles is in these marts with no code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..specs import ProviderSpec
from ..warehouse_sql import literal, quote
from .amounts import AMOUNT_TYPE
from .feeds import BIGINT, TEXT, TIME, Feed, feeds_of, union
from .mart_spec import COLLECTED, Mart, day_sql


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    read: Callable[[Feed], str]


def common_columns(key: str, id_: str) -> list[Column]:
    return [
        Column("account", TEXT, lambda feed: '"account"'),
        Column(key, TEXT, lambda feed: feed.key("id")),
        Column("provider", TEXT, lambda feed: literal(feed.provider)),
        Column("source_resource", TEXT, lambda feed: literal(feed.resource)),
        Column(id_, TEXT, lambda feed: feed.text("id")),
    ]


def _money(amount: str = "amount") -> list[Column]:
    return [
        Column("amount", AMOUNT_TYPE, lambda feed: feed.amount(amount)),
        Column("amount_minor", BIGINT, lambda feed: feed.amount_minor(amount)),
        Column("currency", TEXT, lambda feed: feed.text("currency")),
        Column("status", TEXT, lambda feed: feed.status()),
        Column("provider_status", TEXT, lambda feed: feed.provider_status()),
    ]


def generated(
    specs: Sequence[ProviderSpec],
    role: str,
    columns: Sequence[Column],
    outer: Callable[[str], str],
    **mart: str | tuple[str, ...] | None,
) -> Mart:
    """A mart over every feed of `role`: the feeds' SELECTs unioned, wrapped by `outer`."""
    feeds = feeds_of(specs, role)
    inner = union(
        [(column.name, column.type) for column in columns],
        [feed.select([(column.name, column.read(feed)) for column in columns]) for feed in feeds],
    )
    reads = tuple(dict.fromkeys(feed.asset_key for feed in feeds))
    return Mart(sql=outer(inner), reads=reads, feeds=tuple(feeds), **mart)  # type: ignore[arg-type]


def listed(*names: str) -> str:
    return ", ".join(quote(name) for name in names)


def fct_payments(specs: Sequence[ProviderSpec]) -> Mart:
    columns = [
        *common_columns("payment_key", "payment_id"),
        Column("customer_key", TEXT, lambda feed: feed.key("customer")),
        Column("payout_id", TEXT, lambda feed: feed.text("payout")),
        Column("payment_method", TEXT, lambda feed: feed.text("method")),
        *_money(),
        Column("occurred_at", TIME, lambda feed: feed.time("occurred_at")),
        Column("updated_at", TIME, lambda feed: feed.time("updated_at", "occurred_at")),
        Column("fee_amount", AMOUNT_TYPE, lambda feed: feed.amount("fee")),
    ]
    collected = ", ".join(literal(status) for status in COLLECTED)
    return generated(
        specs,
        "payments",
        columns,
        lambda inner: (
            f"""
SELECT {listed(*(c.name for c in columns[:13]))},
  "status" IN ({collected}) AS "is_collected",
  "occurred_at", "updated_at", {day_sql('"occurred_at"')} AS "payment_date", "fee_amount"
FROM (
{inner}
) AS payments
"""
        ),
        name="fct_payments",
        grain=("account", "payment_key"),
        amount="amount",
        question=(
            "What payments did we take, across all our processors? One row per payment attempt "
            "of every resource with the `payments` role, with the amount as a decimal in its "
            "currency, the common status, `is_collected` (money taken in: succeeded, or "
            "succeeded and later refunded), `payment_date` (UTC) and the fee where the "
            "provider states one."
        ),
    )


def _money_event(
    specs: Sequence[ProviderSpec], role: str, noun: str, verb: str, question: str
) -> Mart:
    """Refunds and disputes: money going back against a payment, dated by its own time."""
    columns = [
        *common_columns(f"{noun}_key", f"{noun}_id"),
        Column("payment_key", TEXT, lambda feed: feed.key("payment")),
        Column("reason", TEXT, lambda feed: feed.text("reason")),
        *_money(),
        Column(f"{verb}_at", TIME, lambda feed: feed.time("occurred_at")),
    ]
    return generated(
        specs,
        role,
        columns,
        lambda inner: (
            f"""
SELECT {listed(*(c.name for c in columns))},
  {day_sql(quote(verb + "_at"))} AS {quote(noun + "_date")}
FROM (
{inner}
) AS {role}
"""
        ),
        name=f"fct_{role}",
        grain=("account", f"{noun}_key"),
        amount="amount",
        question=question,
    )


def fct_refunds(specs: Sequence[ProviderSpec]) -> Mart:
    return _money_event(
        specs,
        "refunds",
        "refund",
        "refunded",
        "What was refunded, by whom and against which payment? One row per refund of every "
        "resource with the `refunds` role (a role's `when` picks records, such as ledger "
        "lines of type refund or charges refunded whole), amounts positive whatever sign the "
        "API writes, dated by the refund's own time. `payment_key` joins `fct_payments`.",
    )


def fct_disputes(specs: Sequence[ProviderSpec]) -> Mart:
    return _money_event(
        specs,
        "disputes",
        "dispute",
        "disputed",
        "What did customers dispute with their bank? One row per dispute of every resource "
        "with the `disputes` role, dated by the day it was opened; `status` pending while "
        "open, succeeded when lost (the money is gone), failed when won. `payment_key` joins "
        "`fct_payments`.",
    )


def fct_payouts(specs: Sequence[ProviderSpec]) -> Mart:
    columns = [
        *common_columns("payout_key", "payout_id"),
        Column("reference", TEXT, lambda feed: feed.text("reference")),
        *_money(),
        Column("fee_amount", AMOUNT_TYPE, lambda feed: feed.amount("fee")),
        Column("created_at", TIME, lambda feed: feed.time("occurred_at")),
        Column("arrival_date", "DATE", lambda feed: f"CAST({feed.time('arrival_date')} AS DATE)"),
    ]
    return generated(
        specs,
        "payouts",
        columns,
        lambda inner: (
            f"""
SELECT {listed(*(c.name for c in columns))}, {day_sql('"created_at"')} AS "payout_date"
FROM (
{inner}
) AS payouts
"""
        ),
        name="fct_payouts",
        grain=("account", "payout_key"),
        amount="amount",
        question=(
            "What did the providers pay out to our bank accounts? One row per payout of every "
            "resource with the `payouts` role: amount, fees deducted, status, `payout_date` "
            "(the UTC day it was created) and `arrival_date`."
        ),
    )


def dim_customers(specs: Sequence[ProviderSpec]) -> Mart:
    def status(feed: Feed) -> str:
        common = feed.status()
        return (
            f"CASE WHEN {common} IS NULL THEN NULL WHEN {common} = 'active' THEN 'active' "
            "ELSE 'inactive' END"
        )

    columns = [
        Column("account", TEXT, lambda feed: '"account"'),
        Column("customer_key", TEXT, lambda feed: feed.key("id")),
        Column("provider", TEXT, lambda feed: literal(feed.provider)),
        Column("customer_id", TEXT, lambda feed: feed.text("id")),
        *(Column(name, TEXT, lambda feed, n=name: feed.text(n)) for name in FIELDS),
        Column("preferred_currency", TEXT, lambda feed: feed.text("currency")),
        Column("status", TEXT, status),
        Column("first_seen_at", TIME, lambda feed: feed.time("occurred_at")),
        Column("updated_at", TIME, lambda feed: feed.time("updated_at", "occurred_at")),
        Column("source_resource", TEXT, lambda feed: literal(feed.resource)),
    ]
    return generated(
        specs,
        "customers",
        columns,
        lambda inner: f"SELECT * FROM (\n{inner}\n) AS customers",
        name="dim_customers",
        grain=("account", "customer_key"),
        question=(
            "Who are our customers, at each provider that knows them? One row per record of "
            "every resource with the `customers` role (a direct debit mandate holder is known "
            "only through the mandate, so the mandate is the customer). `customer_key` joins "
            "`fct_payments`."
        ),
    )


FIELDS = ("name", "email", "phone", "country")

FACT_MARTS: tuple[Callable[[Sequence[ProviderSpec]], Mart], ...] = (
    fct_payments,
    fct_refunds,
    fct_disputes,
    fct_payouts,
    dim_customers,
)
