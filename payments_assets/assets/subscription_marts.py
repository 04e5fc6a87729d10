"""Subscriptions and their monthly recurring revenue (MRR), generated from the `subscriptions` role.

`fct_subscriptions` is one row per subscription with its amount normalised to a month;
`subscription_mrr_monthly` is MRR at each month's end per provider, account and currency, and
its movements (new, expansion, contraction, churn, reactivation) as the reference dbt package
for Stripe classifies them (`stripe__subscription_item_mrr_report`). The exact rules and what
they cannot know from a subscription's current state alone are in docs/lineage.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..specs import ProviderSpec
from ..warehouse_sql import literal
from .amounts import AMOUNT_TYPE, major_units_sql
from .fact_marts import Column, common_columns, generated, listed
from .feeds import BIGINT, TEXT, TIME, Feed
from .mart_spec import Mart, mart_ref

MONTHLY = {"day": (365, 12), "week": (52, 12), "month": (1, 1), "year": (1, 12)}
"""Billing interval → (numerator, denominator) turning one interval's amount into a month's."""
PAYING = ("active", "past_due", "canceled")
"""Common statuses of a subscription that counts in MRR (a canceled one until it ends);
trialing, paused and unknown ones count nothing."""


def monthly_minor_sql(amount_minor: str, quantity: str, interval: str) -> str:
    """A subscription's amount per month in integer minor units, rounded half up: the amount
    times the quantity (1 when not stated), per its interval (`MONTHLY`); NULL for another
    interval. Exact: the division is of integers, in DECIMAL."""
    total = f"{amount_minor} * COALESCE({quantity}, 1)"
    cases = " ".join(
        f"WHEN {literal(name)} THEN FLOOR(CAST(2 * {total} * {num} + {den} AS DECIMAL(38,0)) "
        f"/ {2 * den})"
        for name, (num, den) in MONTHLY.items()
    )
    return f"CAST(CASE LOWER({interval}) {cases} END AS {BIGINT})"


def _monthly_minor(feed: Feed) -> str:
    return monthly_minor_sql(
        feed.amount_minor("amount"), feed.number("quantity"), feed.text("interval")
    )


def fct_subscriptions(specs: Sequence[ProviderSpec]) -> Mart:
    columns = [
        *common_columns("subscription_key", "subscription_id"),
        Column("customer_key", TEXT, lambda feed: feed.key("customer")),
        Column("amount", AMOUNT_TYPE, lambda feed: feed.amount("amount")),
        Column("amount_minor", BIGINT, lambda feed: feed.amount_minor("amount")),
        Column("currency", TEXT, lambda feed: feed.text("currency")),
        Column("quantity", BIGINT, lambda feed: feed.number("quantity")),
        Column("billing_interval", TEXT, lambda feed: f"LOWER({feed.text('interval')})"),
        Column("monthly_amount_minor", BIGINT, _monthly_minor),
        Column("status", TEXT, lambda feed: feed.status()),
        Column("provider_status", TEXT, lambda feed: feed.provider_status()),
        Column("created_at", TIME, lambda feed: feed.time("occurred_at")),
        Column("canceled_at", TIME, lambda feed: feed.time("canceled_at")),
        Column("updated_at", TIME, lambda feed: feed.time("updated_at", "occurred_at")),
    ]
    # A canceled subscription ends when it was canceled; a provider that gives no such time
    # ends it at its last update (the change that canceled it, as far as we can know).
    ended = (
        'COALESCE("canceled_at", CASE WHEN "status" = \'canceled\' '
        'THEN COALESCE("updated_at", "created_at") END)'
    )
    monthly_amount = major_units_sql('"monthly_amount_minor"', '"currency"')
    return generated(
        specs,
        "subscriptions",
        columns,
        lambda inner: (
            f"SELECT {listed(*(c.name for c in columns))},\n"
            f'  {monthly_amount} AS "monthly_amount",\n'
            f'  {ended} AS "ended_at"\nFROM (\n{inner}\n) AS subscriptions'
        ),
        name="fct_subscriptions",
        grain=("account", "subscription_key"),
        amount="amount",
        question=(
            "What do our subscribers pay, per month? One row per subscription of every "
            "resource with the `subscriptions` role: the plan's amount and interval, the "
            "quantity, `monthly_amount` (amount x quantity per month: year / 12, week x 52 / "
            "12, day x 365 / 12, rounded half up to the minor unit), the common status, "
            "`created_at`, `canceled_at` and `ended_at` (when it stopped counting)."
        ),
    )


def _next_month(month: str) -> str:
    return f"CAST(CAST({month} + INTERVAL '1 month' AS DATE) AS TIMESTAMP)"


def _utc(timestamp: str) -> str:
    return f"({timestamp} AT TIME ZONE 'UTC')"


def _month_of(timestamp: str) -> str:
    return f"CAST(DATE_TRUNC('month', {_utc(timestamp)}) AS DATE)"


def subscription_mrr_monthly(subscriptions: Mart) -> Mart:
    """MRR at each month's end and its movements, from `fct_subscriptions`."""
    paying = ", ".join(literal(status) for status in PAYING)
    month_end = _next_month('months."month"')
    latest = (
        'GREATEST("created_at", COALESCE("ended_at", "created_at"), '
        'COALESCE("updated_at", "created_at"))'
    )
    figures = {
        "new": 'COALESCE("earlier_max", 0) = 0 AND "mrr" > 0',
        "expansion": '"previous" > 0 AND "mrr" > "previous"',
        "contraction": '"previous" > 0 AND "mrr" > 0 AND "mrr" < "previous"',
        "churned": '"previous" > 0 AND "mrr" = 0',
        "reactivated": '"earlier_max" > 0 AND COALESCE("previous", 0) = 0 AND "mrr" > 0',
    }
    change = {
        "new": '"mrr"',
        "expansion": '"mrr" - "previous"',
        "contraction": '"previous" - "mrr"',
        "churned": '"previous"',
        "reactivated": '"mrr"',
    }

    def money(sql: str) -> str:
        return major_units_sql(f"SUM({sql})", '"currency"')

    sums = ",\n  ".join(
        [
            f'CAST(SUM(CASE WHEN {rule} THEN 1 ELSE 0 END) AS BIGINT) AS "{name}_subscriptions",\n'
            f'  {money(f"CASE WHEN {rule} THEN {change[name]} ELSE 0 END")} AS "{name}_mrr"'
            for name, rule in figures.items()
        ]
    )
    return Mart(
        name="subscription_mrr_monthly",
        grain=("mrr_month", "provider", "account", "currency"),
        question=(
            "What is our monthly recurring revenue, and why did it move? One row per month, "
            "provider, account and currency (from the month of the first subscription): "
            "`mrr` at the month's end (every subscription counting then: active, past due, or "
            "canceled but not yet ended; trials count nothing), `subscriptions` counting, and "
            "the movements from the month before: new (first month a subscription counts), "
            "expansion, contraction, churned (stopped counting) and reactivated (counts again), "
            "each as MRR and as subscriptions. Movements add up: mrr = previous month's mrr + "
            "new + expansion + reactivated - contraction - churned."
        ),
        reads=(subscriptions.key,),
        sql=f"""
WITH RECURSIVE bounds AS (
  SELECT MIN({_month_of('"created_at"')}) AS "first_month",
    MAX({_month_of(latest)}) AS "last_month"
  FROM {mart_ref(subscriptions.name)}
  WHERE "monthly_amount_minor" IS NOT NULL
), months AS (
  SELECT "first_month" AS "month" FROM bounds WHERE "first_month" IS NOT NULL
  UNION ALL
  SELECT CAST(months."month" + INTERVAL '1 month' AS DATE)
  FROM months, bounds WHERE months."month" < bounds."last_month"
), counted AS (
  SELECT months."month", s."provider", s."account", s."currency", s."subscription_key",
    CASE WHEN s."status" IN ({paying}) AND {_utc('s."created_at"')} < {month_end}
      AND (s."ended_at" IS NULL OR {_utc('s."ended_at"')} >= {month_end})
      THEN s."monthly_amount_minor" ELSE 0 END AS "mrr"
  FROM {mart_ref(subscriptions.name)} AS s
  JOIN months ON months."month" >= {_month_of('s."created_at"')}
  WHERE s."monthly_amount_minor" IS NOT NULL
), lagged AS (
  SELECT *,
    LAG("mrr") OVER (PARTITION BY "account", "subscription_key" ORDER BY "month") AS "previous",
    MAX("mrr") OVER (PARTITION BY "account", "subscription_key" ORDER BY "month"
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS "earlier_max"
  FROM counted
)
SELECT "month" AS "mrr_month", "provider", "account", "currency",
  {money('"mrr"')} AS "mrr",
  CAST(SUM(CASE WHEN "mrr" > 0 THEN 1 ELSE 0 END) AS BIGINT) AS "subscriptions",
  {sums}
FROM lagged
GROUP BY "month", "provider", "account", "currency"
""",
    )


def subscription_marts(specs: Sequence[ProviderSpec]) -> tuple[Mart, Mart]:
    subscriptions = fct_subscriptions(specs)
    return subscriptions, subscription_mrr_monthly(subscriptions)
