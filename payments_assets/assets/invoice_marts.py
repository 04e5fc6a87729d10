"""Invoices and their lines, generated from the `invoices` and `invoice_lines` roles.

A provider's lines are usually a list inside each invoice (`lines`, dlt's child table
`invoices__lines`): the role says `list: lines`, and the lines are read from the staged list
(`staged_lists.py`), each with its invoice's id and currency taken from the invoice. So the sum
of an invoice's lines in `fct_invoice_lines` is comparable with its amount in `fct_invoices`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..specs import ProviderSpec
from .amounts import AMOUNT_TYPE
from .fact_marts import Column, common_columns, generated, listed
from .feeds import BIGINT, TEXT, TIME
from .mart_spec import Mart, day_sql


def fct_invoices(specs: Sequence[ProviderSpec]) -> Mart:
    columns = [
        *common_columns("invoice_key", "invoice_id"),
        Column("customer_key", TEXT, lambda feed: feed.key("customer")),
        Column("subscription_key", TEXT, lambda feed: feed.key("subscription")),
        Column("amount", AMOUNT_TYPE, lambda feed: feed.amount("amount")),
        Column("amount_minor", BIGINT, lambda feed: feed.amount_minor("amount")),
        Column("amount_paid", AMOUNT_TYPE, lambda feed: feed.amount("amount_paid")),
        Column("currency", TEXT, lambda feed: feed.text("currency")),
        Column("status", TEXT, lambda feed: feed.status()),
        Column("provider_status", TEXT, lambda feed: feed.provider_status()),
        Column("created_at", TIME, lambda feed: feed.time("occurred_at")),
    ]
    invoice_date = day_sql('"created_at"')
    return generated(
        specs,
        "invoices",
        columns,
        lambda inner: (
            f'SELECT {listed(*(c.name for c in columns))}, {invoice_date} AS "invoice_date"\n'
            f"FROM (\n{inner}\n) AS invoices"
        ),
        name="fct_invoices",
        grain=("account", "invoice_key"),
        amount="amount",
        question=(
            "What did we invoice, to whom, and is it paid? One row per invoice of every "
            "resource with the `invoices` role: `amount` (what the customer owes on it, as the "
            "provider totals it), `amount_paid`, the common status (paid: succeeded; draft or "
            "open: pending; void: canceled) and `invoice_date` (UTC)."
        ),
    )


def fct_invoice_lines(specs: Sequence[ProviderSpec]) -> Mart:
    columns = [
        *common_columns("line_key", "line_id"),
        Column("invoice_key", TEXT, lambda feed: feed.key("invoice")),
        Column("invoice_id", TEXT, lambda feed: feed.text("invoice")),
        Column("subscription_key", TEXT, lambda feed: feed.key("subscription")),
        Column("description", TEXT, lambda feed: feed.text("description")),
        Column("quantity", BIGINT, lambda feed: feed.number("quantity")),
        Column("amount", AMOUNT_TYPE, lambda feed: feed.amount("amount")),
        Column("amount_minor", BIGINT, lambda feed: feed.amount_minor("amount")),
        Column("currency", TEXT, lambda feed: feed.text("currency")),
        Column("period_start", TIME, lambda feed: feed.time("period_start")),
    ]
    return generated(
        specs,
        "invoice_lines",
        columns,
        lambda inner: f"SELECT * FROM (\n{inner}\n) AS invoice_lines",
        name="fct_invoice_lines",
        grain=("account", "line_key"),
        amount="amount",
        question=(
            "What was each invoice for? One row per invoice line of every resource with the "
            "`invoice_lines` role; lines inside their invoice (`list: lines`) take the "
            "invoice's id and currency from the invoice, and a line without an id of its own "
            "is keyed `<invoice id>:<position>`. `invoice_key` joins `fct_invoices`; an "
            "invoice's lines add up to its amount where the provider totals it so."
        ),
    )


INVOICE_MARTS = (fct_invoices, fct_invoice_lines)
