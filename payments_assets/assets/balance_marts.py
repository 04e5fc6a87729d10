"""Balance transactions, generated from the `balance_transactions` role: every movement of the
money a provider holds for us (a charge's net, a refund, a fee, a payout), where a provider
reports them (Stripe's `/v1/balance_transactions`).

Amounts keep the API's sign: money into the balance is positive, money out negative (a refund,
a payout), so the movements of an account add up to its balance. `net_amount` is what the
movement leaves in the balance after fees: the provider's `net`, or amount - fee.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..specs import ProviderSpec
from .amounts import AMOUNT_TYPE
from .fact_marts import Column, common_columns, generated
from .feeds import BIGINT, TEXT, TIME, Feed
from .mart_spec import Mart, day_sql


def _net(feed: Feed) -> str:
    if feed.maps("net"):
        return feed.amount("net")
    return f"{feed.amount('amount')} - COALESCE({feed.amount('fee')}, 0)"


def fct_balance_transactions(specs: Sequence[ProviderSpec]) -> Mart:
    columns = [
        *common_columns("balance_transaction_key", "balance_transaction_id"),
        Column("type", TEXT, lambda feed: f"LOWER({feed.text('type')})"),
        Column("source_key", TEXT, lambda feed: feed.key("source")),
        Column("payout_id", TEXT, lambda feed: feed.text("payout")),
        Column("amount", AMOUNT_TYPE, lambda feed: feed.amount("amount")),
        Column("amount_minor", BIGINT, lambda feed: feed.amount_minor("amount")),
        Column("fee_amount", AMOUNT_TYPE, lambda feed: feed.amount("fee")),
        Column("net_amount", AMOUNT_TYPE, lambda feed: f"CAST({_net(feed)} AS {AMOUNT_TYPE})"),
        Column("currency", TEXT, lambda feed: feed.text("currency")),
        Column("created_at", TIME, lambda feed: feed.time("occurred_at")),
    ]
    transaction_date = day_sql('"created_at"')
    return generated(
        specs,
        "balance_transactions",
        columns,
        lambda inner: (
            f'SELECT *, {transaction_date} AS "transaction_date"\n'
            f"FROM (\n{inner}\n) AS balance_transactions"
        ),
        name="fct_balance_transactions",
        grain=("account", "balance_transaction_key"),
        amount="amount",
        question=(
            "What moved the money each provider holds for us? One row per balance transaction "
            "of every resource with the `balance_transactions` role: `type` (charge, refund, "
            "fee, payout, …), `amount` signed as the API writes it (in positive, out "
            "negative), `fee_amount`, `net_amount` (after fees), `source_key` (the payment or "
            "refund behind it) and `payout_id` (the payout that settled it)."
        ),
    )
