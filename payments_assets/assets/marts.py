"""Marts: the tables finance and analysts ask for, each one SQL query over staging (or marts).

Unlike staging, every mart is written by hand: which provider record counts as a payment, a
refund or a customer is a business decision, stated here once and tested against numbers computed
from the providers' own data. The SQL is portable between DuckDB and Postgres.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster import AssetExecutionContext

from ..layers import MARTS as MARTS_SCHEMA
from ..layers import STAGING as STAGING_SCHEMA
from ..layers import layer_tags, mart_key, writer_pool
from ..resources import Warehouse
from ..warehouse_sql import table_ref
from .amounts import AMOUNT_TYPE, major_units_sql
from .table_facts import table_facts

# Statuses (common vocabulary) under which a payment's money was taken in; `refunded` payments
# were taken in too, and their refunds are subtracted in `fct_refunds` / `daily_revenue`.
COLLECTED = ("succeeded", "refunded")


def _staging(provider: str, resource: str) -> str:
    return table_ref(STAGING_SCHEMA, f"{provider}__{resource}")


def _mart(name: str) -> str:
    return table_ref(MARTS_SCHEMA, name)


def _day(timestamp: str) -> str:
    """The UTC calendar day of a timestamp with time zone, whatever the session's zone."""
    return f"CAST(({timestamp} AT TIME ZONE 'UTC') AS DATE)"


@dataclass(frozen=True)
class Mart:
    """One mart table: the question it answers, what it reads, and its query."""

    name: str
    question: str
    grain: tuple[str, ...]  # the columns that identify a row
    reads: tuple[tuple[str, ...], ...]  # asset keys of its inputs
    sql: str

    @property
    def key(self) -> dg.AssetKey:
        return mart_key(self.name)

    def asset_spec(self, destination_kind: str) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=self.key,
            deps=[dg.AssetKey(list(key)) for key in self.reads],
            description=self.question,
            group_name=MARTS_SCHEMA,
            kinds={"sql", destination_kind},
            owners=["team:payments-data"],
            tags=layer_tags(MARTS_SCHEMA),
            metadata={
                "dagster/table_name": f"{MARTS_SCHEMA}.{self.name}",
                "grain": ", ".join(self.grain),
            },
        )


FCT_PAYMENTS = Mart(
    name="fct_payments",
    grain=("account", "payment_key"),
    question=(
        "What payments did we take, across all our processors? One row per payment attempt: "
        "gateway payments, billing charges, direct debit payments and commerce charges, with the "
        "amount as a decimal in its currency, the common status, and `is_collected` (money taken "
        "in: succeeded, or succeeded and later refunded). Gateway transactions are the ledger "
        "lines behind gateway payments and are not counted again."
    ),
    reads=(
        (STAGING_SCHEMA, "gateway__list_payments"),
        (STAGING_SCHEMA, "billing__charges"),
        (STAGING_SCHEMA, "direct_debit__payments"),
        (STAGING_SCHEMA, "commerce__charges"),
    ),
    sql=f"""
SELECT "account", "payment_key", "provider", "source_resource", "payment_id", "customer_key",
  "payout_id",
  "payment_method", "amount", "amount_minor", "currency", "status", "provider_status",
  "status" IN ({", ".join(f"'{status}'" for status in COLLECTED)}) AS "is_collected",
  "occurred_at", "updated_at", {_day('"occurred_at"')} AS "payment_date"
FROM (
  SELECT "account", 'gateway:' || "id" AS "payment_key", 'gateway' AS "provider",
    'list_payments' AS "source_resource", "id" AS "payment_id",
    CAST(NULL AS VARCHAR) AS "customer_key", CAST(NULL AS VARCHAR) AS "payout_id",
    "method" AS "payment_method", "amount", "amount_minor", "currency", "status",
    "provider_status", "created_at" AS "occurred_at", "updated_at"
  FROM {_staging("gateway", "list_payments")}
  UNION ALL
  SELECT "account", 'billing:' || "id", 'billing', 'charges', "id",
    'billing:' || "customer_id", NULL,
    "payment_method_details__type", "amount", "amount_minor", "currency", "status",
    "provider_status", "created_at", "updated_at"
  FROM {_staging("billing", "charges")}
  UNION ALL
  SELECT "account", 'direct_debit:' || "id", 'direct_debit', 'payments', "id",
    'direct_debit:' || "mandate_id", "payout_id", 'direct_debit', "amount", "amount_minor",
    "currency", "status", "provider_status", "created_at", "updated_at"
  FROM {_staging("direct_debit", "payments")}
  UNION ALL
  SELECT "account", 'commerce:' || "charge_id", 'commerce', 'charges', "charge_id",
    'commerce:' || "customer_id", NULL, NULL, "amount", "amount_minor", "currency", "status",
    "provider_status", "occurred", "occurred"
  FROM {_staging("commerce", "charges")}
) AS payments
""",
)

FCT_REFUNDS = Mart(
    name="fct_refunds",
    grain=("account", "refund_key"),
    question=(
        "What was refunded, by whom and against which payment? One row per refund: billing and "
        "direct debit refund objects, gateway transactions of type `refund`, and commerce "
        "charges in status `refunded` (the platform has no refund object: the whole charge went "
        "back, dated by the charge's only time field). `payment_key` joins `fct_payments`."
    ),
    reads=(
        (STAGING_SCHEMA, "billing__refunds"),
        (STAGING_SCHEMA, "direct_debit__refunds"),
        (STAGING_SCHEMA, "gateway__transactions"),
        (STAGING_SCHEMA, "commerce__charges"),
    ),
    sql=f"""
SELECT "account", "refund_key", "provider", "source_resource", "refund_id", "payment_key",
  "reason",
  "amount", "amount_minor", "currency", "status", "provider_status", "refunded_at",
  {_day('"refunded_at"')} AS "refund_date"
FROM (
  SELECT "account", 'billing:' || "id" AS "refund_key", 'billing' AS "provider",
    'refunds' AS "source_resource", "id" AS "refund_id",
    'billing:' || "charge_id" AS "payment_key", "reason", "amount", "amount_minor", "currency",
    "status", "provider_status", "created_at" AS "refunded_at"
  FROM {_staging("billing", "refunds")}
  UNION ALL
  SELECT "account", 'direct_debit:' || "id", 'direct_debit', 'refunds', "id",
    'direct_debit:' || "payment_id", NULL, "amount", "amount_minor", "currency", "status",
    "provider_status", "created_at"
  FROM {_staging("direct_debit", "refunds")}
  UNION ALL
  SELECT "account", 'gateway:' || "id", 'gateway', 'transactions', "id", NULL, NULL, "amount",
    "amount_minor", "currency", "status", "provider_status", "created_at"
  FROM {_staging("gateway", "transactions")}
  WHERE "type" = 'refund'
  UNION ALL
  SELECT "account", 'commerce:' || "charge_id", 'commerce', 'charges', "charge_id",
    'commerce:' || "charge_id", NULL, "amount", "amount_minor", "currency", 'succeeded',
    "provider_status", "occurred"
  FROM {_staging("commerce", "charges")}
  WHERE "status" = 'refunded'
) AS refunds
""",
)

DIM_CUSTOMERS = Mart(
    name="dim_customers",
    grain=("account", "customer_key"),
    question=(
        "Who are our customers, at each provider that knows them? One row per billing customer, "
        "commerce customer and direct debit mandate holder (direct debit knows a customer only "
        "through the mandate they signed, so the mandate id is their key). `customer_key` joins "
        "`fct_payments`."
    ),
    reads=(
        (STAGING_SCHEMA, "billing__customers"),
        (STAGING_SCHEMA, "commerce__customers"),
        (STAGING_SCHEMA, "direct_debit__mandates"),
    ),
    sql=f"""
SELECT "account", 'billing:' || "id" AS "customer_key", 'billing' AS "provider",
  "id" AS "customer_id",
  "name", "email", "phone", "address__country" AS "country", "currency" AS "preferred_currency",
  "status", "created_at" AS "first_seen_at", "updated_at"
FROM {_staging("billing", "customers")}
UNION ALL
SELECT "account", 'commerce:' || "customer_id", 'commerce', "customer_id", "name", "email",
  "phone", NULL,
  NULL, NULL, "first_seen", "first_seen"
FROM {_staging("commerce", "customers")}
UNION ALL
SELECT "account", 'direct_debit:' || "id", 'direct_debit', "id",
  TRIM(COALESCE("customer__given_name", '') || ' ' || COALESCE("customer__family_name", '')),
  "customer__email", NULL, "customer__address__country", NULL,
  CASE WHEN "status" = 'active' THEN 'active' ELSE 'inactive' END, "created_at", "updated_at"
FROM {_staging("direct_debit", "mandates")}
""",
)

DAILY_REVENUE = Mart(
    name="daily_revenue",
    grain=("revenue_date", "provider", "account", "currency"),
    question=(
        "What did we take in each day (UTC), per provider, account and currency, and how much went "
        "back out? `gross_amount` sums collected payments by payment day, `refunded_amount` sums "
        "succeeded refunds by refund day, `net_amount` is the difference. Currencies are never "
        "added together."
    ),
    reads=((MARTS_SCHEMA, "fct_payments"), (MARTS_SCHEMA, "fct_refunds")),
    sql=f"""
SELECT "revenue_date", "provider", "account", "currency",
  CAST(SUM("payments") AS BIGINT) AS "payments",
  CAST(SUM("gross_amount") AS {AMOUNT_TYPE}) AS "gross_amount",
  CAST(SUM("refunds") AS BIGINT) AS "refunds",
  CAST(SUM("refunded_amount") AS {AMOUNT_TYPE}) AS "refunded_amount",
  CAST(SUM("gross_amount") - SUM("refunded_amount") AS {AMOUNT_TYPE}) AS "net_amount"
FROM (
  SELECT "payment_date" AS "revenue_date", "provider", "account", "currency", 1 AS "payments",
    "amount" AS "gross_amount", 0 AS "refunds",
    CAST(0 AS {AMOUNT_TYPE}) AS "refunded_amount"
  FROM {_mart("fct_payments")}
  WHERE "is_collected"
  UNION ALL
  SELECT "refund_date", "provider", "account", "currency", 0, CAST(0 AS {AMOUNT_TYPE}), 1,
    "amount"
  FROM {_mart("fct_refunds")}
  WHERE "status" = 'succeeded'
) AS movements
GROUP BY "revenue_date", "provider", "account", "currency"
""",
)

# Payouts carry `amount` (converted in staging) and `deducted_fees` (integer minor units: the
# payouts spec lists only `amount` as an amount column).
PAYOUTS_RECONCILIATION = Mart(
    name="payouts_reconciliation",
    grain=("account", "payout_id"),
    question=(
        "Does each direct debit payout match the payments in it? One row per payout (and per "
        "payout id that payments name but the API did not return): the payments that name it, "
        "their sum in the payout's currency, fees, the expected payout (payments - fees), the "
        "difference to what was paid out, and `reconciliation_status` (matched, "
        "amount_mismatch, currency_mismatch, no_payments, payout_missing). Which payment is in "
        "which payout: `fct_payments.payout_id`."
    ),
    reads=((STAGING_SCHEMA, "direct_debit__payouts"), (STAGING_SCHEMA, "direct_debit__payments")),
    sql=f"""
SELECT "account", "payout_id", "reference", "status", "provider_status", "currency",
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
  SELECT COALESCE(payouts."account", linked."account") AS "account",
    COALESCE(payouts."id", linked."payout_id") AS "payout_id",
    payouts."id" AS "known_payout", payouts."reference",
    payouts."status", payouts."provider_status", payouts."currency", payouts."arrival_date",
    payouts."amount" AS "payout_amount",
    {major_units_sql('payouts."deducted_fees"', 'payouts."currency"')} AS "deducted_fees",
    CAST(COALESCE(linked."payments", 0) AS BIGINT) AS "payments",
    CAST(COALESCE(linked."payments_amount", 0) AS {AMOUNT_TYPE}) AS "payments_amount",
    CAST(COALESCE(linked."other_currency_payments", 0) AS BIGINT) AS "other_currency_payments",
    CAST(COALESCE(linked."payments_amount", 0)
      - {major_units_sql('payouts."deducted_fees"', 'payouts."currency"')} AS {AMOUNT_TYPE})
      AS "expected_amount"
  FROM {_staging("direct_debit", "payouts")} AS payouts
  FULL OUTER JOIN (
    SELECT payments."account", payments."payout_id", COUNT(*) AS "payments",
      SUM(CASE WHEN payments."currency" = payouts."currency" THEN payments."amount" END)
        AS "payments_amount",
      SUM(CASE WHEN payments."currency" <> payouts."currency" THEN 1 ELSE 0 END)
        AS "other_currency_payments"
    FROM {_staging("direct_debit", "payments")} AS payments
    LEFT JOIN {_staging("direct_debit", "payouts")} AS payouts
      ON payouts."id" = payments."payout_id" AND payouts."account" = payments."account"
    WHERE payments."payout_id" IS NOT NULL
    GROUP BY payments."account", payments."payout_id"
  ) AS linked ON linked."payout_id" = payouts."id" AND linked."account" = payouts."account"
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
    reads=((STAGING_SCHEMA, "deleted_records"),),
    sql=f"""
SELECT "provider", "resource", "account", "record_id",
  "provider" || ':' || "record_id" AS "record_key",
  "deleted_at", {_day('"deleted_at"')} AS "deletion_date", "signal", "mode"
FROM {table_ref(STAGING_SCHEMA, "deleted_records")}
""",
)

MARTS: tuple[Mart, ...] = (  # in build order: a mart comes after the marts it reads
    FCT_PAYMENTS,
    FCT_REFUNDS,
    DIM_CUSTOMERS,
    DAILY_REVENUE,
    PAYOUTS_RECONCILIATION,
    FCT_DELETIONS,
)


def mart_assets(destination_kind: str, marts: Sequence[Mart] = MARTS) -> list[dg.AssetsDefinition]:
    """Every mart in one op, built in order, so a refresh of all marts is one step."""

    @dg.multi_asset(
        name="mart_tables",
        specs=[mart.asset_spec(destination_kind) for mart in marts],
        can_subset=True,
        pool=writer_pool(destination_kind),
        op_tags=layer_tags(MARTS_SCHEMA),
    )
    def build_marts(
        context: AssetExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.MaterializeResult]:
        with warehouse.session() as session:
            for mart in marts:
                if mart.key in context.selected_asset_keys:
                    session.replace_table(MARTS_SCHEMA, mart.name, mart.sql)
                    yield dg.MaterializeResult(
                        asset_key=mart.key, metadata=table_facts(session, MARTS_SCHEMA, mart.name)
                    )

    return [build_marts]
