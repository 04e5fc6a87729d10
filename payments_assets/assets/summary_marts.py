"""Marts over marts: daily figures per provider, account and currency, payouts against the
payments in them, and the deletions every other mart leaves out.

They read the fact marts, never staging, so they hold every provider the fact marts hold; the
only provider-dependent part is which providers name payouts on their payments, read from roles.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ..layers import STAGING
from ..warehouse_sql import literal, table_ref
from .amounts import AMOUNT_TYPE
from .mart_spec import Mart, day_sql, mart_ref
from .staging import DELETED_RECORDS

ZERO = f"CAST(0 AS {AMOUNT_TYPE})"
# A dispute withdraws the money while open and for good when lost; won (failed) or withdrawn
# (canceled) disputes return it. Payouts count unless they failed or were canceled.
MONEY_GONE = "\"status\" IN ('pending', 'succeeded')"
SUCCEEDED = "\"status\" = 'succeeded'"


def _reads(*marts: Mart) -> tuple[dg.AssetKey, ...]:
    return tuple(mart.key for mart in marts)


def daily_revenue(payments: Mart, refunds: Mart) -> Mart:
    return Mart(
        name="daily_revenue",
        grain=("revenue_date", "provider", "account", "currency"),
        question=(
            "What did we take in each day (UTC), per provider, account and currency, and how "
            "much went back out? `gross_amount` sums collected payments by payment day, "
            "`refunded_amount` sums succeeded refunds by refund day, `net_amount` is the "
            "difference. Currencies are never added together."
        ),
        reads=_reads(payments, refunds),
        sql=f"""
SELECT "revenue_date", "provider", "account", "currency",
  CAST(SUM("payments") AS BIGINT) AS "payments",
  CAST(SUM("gross_amount") AS {AMOUNT_TYPE}) AS "gross_amount",
  CAST(SUM("refunds") AS BIGINT) AS "refunds",
  CAST(SUM("refunded_amount") AS {AMOUNT_TYPE}) AS "refunded_amount",
  CAST(SUM("gross_amount") - SUM("refunded_amount") AS {AMOUNT_TYPE}) AS "net_amount"
FROM (
  SELECT "payment_date" AS "revenue_date", "provider", "account", "currency", 1 AS "payments",
    "amount" AS "gross_amount", 0 AS "refunds", {ZERO} AS "refunded_amount"
  FROM {mart_ref(payments.name)}
  WHERE "is_collected"
  UNION ALL
  SELECT "refund_date", "provider", "account", "currency", 0, {ZERO}, 1, "amount"
  FROM {mart_ref(refunds.name)}
  WHERE "status" = 'succeeded'
) AS movements
GROUP BY "revenue_date", "provider", "account", "currency"
""",
    )


def daily_overview(payments: Mart, refunds: Mart, disputes: Mart, payouts: Mart) -> Mart:
    figures = ("gross", "refunded", "disputed", "fee", "payout")

    def row(day: str, source: Mart, where: str, **amounts: str) -> str:
        values = ", ".join(
            f'CAST({amounts.get(figure, "0")} AS {AMOUNT_TYPE}) AS "{figure}_amount"'
            for figure in figures
        )
        counts = ", ".join(
            f'{1 if figure in amounts and figure != "fee" else 0} AS "{figure}_count"'
            for figure in figures
        )
        return (
            f'SELECT {day} AS "overview_date", "provider", "account", "currency", {values}, '
            f"{counts} FROM {mart_ref(source.name)} WHERE {where}"
        )

    fees = 'COALESCE("fee_amount", 0)'
    movements = "\n  UNION ALL\n".join(
        (
            row('"payment_date"', payments, '"is_collected"', gross='"amount"', fee=fees),
            row('"refund_date"', refunds, SUCCEEDED, refunded='"amount"'),
            row('"dispute_date"', disputes, MONEY_GONE, disputed='"amount"'),
            row('"payout_date"', payouts, MONEY_GONE, payout='"amount"', fee=fees),
        )
    )
    sums = ",\n  ".join(
        f'CAST(SUM("{figure}_amount") AS {AMOUNT_TYPE}) AS "{figure}_amount"' for figure in figures
    )
    return Mart(
        name="daily_overview",
        grain=("overview_date", "provider", "account", "currency"),
        question=(
            "What happened to our money each day (UTC), per provider, account and currency? "
            "`gross_amount` (collected payments, by payment day), `refunded_amount` (succeeded "
            "refunds, by refund day), `disputed_amount` (disputes open or lost, by the day "
            "they were opened), `fee_amount` (payment fees by payment day, payout fees by "
            "payout day), `net_amount` (gross - refunded - disputed - fees) and "
            "`payout_amount` (payouts not failed, by the day they were created), with counts."
        ),
        reads=_reads(payments, refunds, disputes, payouts),
        sql=f"""
SELECT "overview_date", "provider", "account", "currency",
  CAST(SUM("gross_count") AS BIGINT) AS "payments",
  CAST(SUM("refunded_count") AS BIGINT) AS "refunds",
  CAST(SUM("disputed_count") AS BIGINT) AS "disputes",
  CAST(SUM("payout_count") AS BIGINT) AS "payouts",
  {sums},
  CAST(SUM("gross_amount") - SUM("refunded_amount") - SUM("disputed_amount")
    - SUM("fee_amount") AS {AMOUNT_TYPE}) AS "net_amount"
FROM (
{movements}
) AS movements
GROUP BY "overview_date", "provider", "account", "currency"
""",
    )


def payouts_reconciliation(payments: Mart, payouts: Mart) -> Mart:
    """Payouts of the providers whose payments say which payout took them."""
    linked = sorted({feed.provider for feed in payments.feeds if feed.maps("payout")})
    providers = ", ".join(literal(provider) for provider in linked) or "NULL"
    expected = 'COALESCE(linked."payments_amount", 0) - COALESCE(payouts."fee_amount", 0)'
    return Mart(
        name="payouts_reconciliation",
        grain=("provider", "account", "payout_id"),
        question=(
            "Does each payout match the payments in it? One row per payout (and per payout id "
            "that payments name but the API did not return) of every provider whose payments "
            "name their payout: the payments that name it, their sum in the payout's currency, "
            "fees, the expected payout (payments - fees), the difference to what was paid out, "
            "and `reconciliation_status` (matched, amount_mismatch, currency_mismatch, "
            "no_payments, payout_missing). Which payment is in which payout: "
            "`fct_payments.payout_id`."
        ),
        reads=_reads(payouts, payments),
        sql=f"""
SELECT "provider", "account", "payout_id", "reference", "status", "provider_status", "currency",
  "arrival_date",
  "payout_amount", "deducted_fees", "payments", "payments_amount", "other_currency_payments",
  "expected_amount", CAST("payout_amount" - "expected_amount" AS {AMOUNT_TYPE}) AS "difference",
  CASE
    WHEN "known_payout" IS NULL THEN 'payout_missing'
    WHEN "payments" = 0 THEN 'no_payments'
    WHEN "other_currency_payments" > 0 THEN 'currency_mismatch'
    WHEN "payout_amount" = "expected_amount" THEN 'matched'
    ELSE 'amount_mismatch'
  END AS "reconciliation_status"
FROM (
  SELECT COALESCE(payouts."provider", linked."provider") AS "provider",
    COALESCE(payouts."account", linked."account") AS "account",
    COALESCE(payouts."payout_id", linked."payout_id") AS "payout_id",
    payouts."payout_id" AS "known_payout", payouts."reference",
    payouts."status", payouts."provider_status", payouts."currency", payouts."arrival_date",
    payouts."amount" AS "payout_amount", payouts."fee_amount" AS "deducted_fees",
    CAST(COALESCE(linked."payments", 0) AS BIGINT) AS "payments",
    CAST(COALESCE(linked."payments_amount", 0) AS {AMOUNT_TYPE}) AS "payments_amount",
    CAST(COALESCE(linked."other_currency_payments", 0) AS BIGINT) AS "other_currency_payments",
    CAST({expected} AS {AMOUNT_TYPE}) AS "expected_amount"
  FROM (
    SELECT * FROM {mart_ref(payouts.name)} WHERE "provider" IN ({providers})
  ) AS payouts
  FULL OUTER JOIN (
    SELECT payments."provider", payments."account", payments."payout_id", COUNT(*) AS "payments",
      SUM(CASE WHEN payments."currency" = payouts."currency" THEN payments."amount" END)
        AS "payments_amount",
      SUM(CASE WHEN payments."currency" <> payouts."currency" THEN 1 ELSE 0 END)
        AS "other_currency_payments"
    FROM {mart_ref(payments.name)} AS payments
    LEFT JOIN {mart_ref(payouts.name)} AS payouts
      ON payouts."provider" = payments."provider" AND payouts."account" = payments."account"
      AND payouts."payout_id" = payments."payout_id"
    WHERE payments."payout_id" IS NOT NULL AND payments."provider" IN ({providers})
    GROUP BY payments."provider", payments."account", payments."payout_id"
  ) AS linked ON linked."provider" = payouts."provider" AND linked."account" = payouts."account"
    AND linked."payout_id" = payouts."payout_id"
) AS reconciled
""",
    )


FCT_DELETIONS = Mart(
    name="fct_deletions",
    grain=("provider", "resource", "account", "record_id"),
    question=(
        "What did the providers delete, and when did we learn it? One row per deleted record: "
        "provider, resource, account, `record_key` (`provider:id`, as the other marts key "
        "records), `deleted_at` and `deletion_date` (UTC), the signal it came by (marked on the "
        "record, an events resource, a webhook, absence from a snapshot) and the mode (soft: "
        "the raw row is kept and marked; hard: removed). Every other mart leaves deleted "
        "records out; this is the one that counts them, to reconcile with a provider's log."
    ),
    reads=(dg.AssetKey([STAGING, DELETED_RECORDS]),),
    sql=f"""
SELECT "provider", "resource", "account", "record_id",
  "provider" || ':' || "record_id" AS "record_key",
  "deleted_at", {day_sql('"deleted_at"')} AS "deletion_date", "signal", "mode"
FROM {table_ref(STAGING, DELETED_RECORDS)}
""",
)


def summary_marts(facts: Sequence[Mart]) -> tuple[Mart, ...]:
    by_name = {mart.name: mart for mart in facts}
    payments, refunds = by_name["fct_payments"], by_name["fct_refunds"]
    disputes, payouts = by_name["fct_disputes"], by_name["fct_payouts"]
    return (
        daily_revenue(payments, refunds),
        daily_overview(payments, refunds, disputes, payouts),
        payouts_reconciliation(payments, payouts),
        FCT_DELETIONS,
    )
