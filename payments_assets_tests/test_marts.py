"""Staging, marts and exports hold the numbers the providers' own records add up to.

Expected values are computed here from the sandbox's records fetched over plain HTTP, with the
business rules written out in each API's own words; nothing is read back from staging to build
an expectation.
"""

import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb
import pyarrow.csv
import pyarrow.parquet
import pytest

from payments_assets.assets.marts import marts_for
from payments_assets.assets.staging import UNKNOWN_STATUS, staging_assets
from payments_assets.resources import Warehouse
from payments_assets.specs import load_providers

from .marts_fixtures import BuiltWarehouse, SandboxRecords, load_everything
from .warehouse_fixtures import Loader, point_env_at, query

# Money taken in, per payment resource: (id field, time field, statuses as the API names them).
COLLECTED = {
    "gateway/list_payments": ("id", "created_at", {"captured", "settled"}),
    "billing/charges": ("id", "created_at", {"succeeded"}),
    "direct_debit/payments": ("id", "created_at", {"confirmed", "paid_out"}),
    "commerce/charges": ("charge_id", "occurred", {"captured", "refunded"}),
}
VOCABULARY = {"pending", "succeeded", "failed", "canceled", "refunded", "disputed"}


def major(amount: int, currency: str) -> Decimal:
    """Minor units to major units for the sandbox's currencies (JPY is zero-decimal)."""
    return Decimal(amount) if currency == "JPY" else Decimal(amount) / 100


def provider_of(name: str) -> str:
    return name.split("/")[0]


def refunds_money_went_back(records: SandboxRecords) -> list[tuple[str, str, str, Decimal]]:
    """(provider, UTC day, currency, amount) of every refund that returned money."""
    moved = [
        ("billing", r["created_at"], r["currency"], r["amount"])
        for r in records("billing/refunds")
        if r["status"] == "succeeded"
    ]
    moved += [
        ("direct_debit", r["created_at"], r["currency"], r["amount"])
        for r in records("direct_debit/refunds")
        if r["status"] == "paid"
    ]
    moved += [
        ("gateway", r["created_at"], r["currency"], r["amount"])
        for r in records("gateway/transactions")
        if r["type"] == "refund" and r["status"] == "succeeded"
    ]
    moved += [  # commerce has no refund object: a refunded charge went back whole
        ("commerce", r["occurred"], r["currency"], r["amount"])
        for r in records("commerce/charges")
        if r["status"] == "refunded"
    ]
    return [(p, when[:10], cur, major(amount, cur)) for p, when, cur, amount in moved]


def test_daily_revenue_equals_the_sums_of_the_providers_own_records(
    built: BuiltWarehouse, records: SandboxRecords
) -> None:
    expected: dict[tuple[str, str, str], list[Any]] = defaultdict(
        lambda: [0, Decimal(0), 0, Decimal(0)]
    )
    for name, (_, time_field, collected) in COLLECTED.items():
        for record in records(name):
            if record["status"] in collected:
                row = expected[(record[time_field][:10], provider_of(name), record["currency"])]
                row[0] += 1
                row[1] += major(record["amount"], record["currency"])
    for provider, day, currency, amount in refunds_money_went_back(records):
        row = expected[(day, provider, currency)]
        row[2] += 1
        row[3] += amount
    actual = {
        (str(day), provider, currency): [payments, gross, refunds, refunded, net]
        for day, provider, currency, payments, gross, refunds, refunded, net in query(
            built.database,
            "select revenue_date, provider, currency, payments, gross_amount, refunds, "
            "refunded_amount, net_amount from marts.daily_revenue",
        )
    }
    assert actual == {key: [*row, row[1] - row[3]] for key, row in expected.items()}
    # a day read the way finance reads it: gross card-gateway takings in yen on 15 October
    yen = sum(
        Decimal(r["amount"])
        for r in records("gateway/list_payments")
        if r["created_at"].startswith("2026-10-15")
        and r["currency"] == "JPY"
        and r["status"] in ("captured", "settled")
    )
    assert actual.get(("2026-10-15", "gateway", "JPY"), [0, Decimal(0)])[1] == yen


def test_every_payment_appears_once_with_its_decimal_amount(
    built: BuiltWarehouse, records: SandboxRecords
) -> None:
    expected = {
        f"{provider_of(name)}:{r[id_field]}": (major(r["amount"], r["currency"]), r["currency"])
        for name, (id_field, _, _) in COLLECTED.items()
        for r in records(name)
    }
    rows = query(built.database, "select payment_key, amount, currency from marts.fct_payments")
    assert len(rows) == len(expected)
    assert {key: (amount, currency) for key, amount, currency in rows} == expected
    statuses = {
        status for (status,) in query(built.database, "select status from marts.fct_payments")
    }
    assert statuses <= VOCABULARY


def test_refunds_point_at_payments_of_their_provider(
    built: BuiltWarehouse, records: SandboxRecords
) -> None:
    counts = dict(
        query(built.database, "select provider, count(*) from marts.fct_refunds group by 1")
    )
    assert counts == {
        "billing": len(records("billing/refunds")),
        "direct_debit": len(records("direct_debit/refunds")),
        "gateway": sum(r["type"] == "refund" for r in records("gateway/transactions")),
        "commerce": sum(r["status"] == "refunded" for r in records("commerce/charges")),
    }
    dangling = query(
        built.database,
        "select r.refund_key from marts.fct_refunds r left join marts.fct_payments p "
        "on p.payment_key = r.payment_key "
        "where r.payment_key is not null and p.payment_key is null",
    )
    assert dangling == []


def test_customers_dimension_holds_every_customer_payments_name(
    built: BuiltWarehouse, records: SandboxRecords
) -> None:
    customers = query(
        built.database, "select customer_key, provider, email from marts.dim_customers"
    )
    assert Counter(provider for _, provider, _ in customers) == {
        "billing": len(records("billing/customers")),
        "commerce": len(records("commerce/customers")),
        "direct_debit": len(records("direct_debit/mandates")),
    }
    emails = {key: email for key, _, email in customers}
    first = records("commerce/customers")[0]
    assert emails[f"commerce:{first['customer_id']}"] == first["email"]
    unknown = query(
        built.database,
        "select distinct p.customer_key from marts.fct_payments p left join marts.dim_customers "
        "c on c.customer_key = p.customer_key where p.customer_key is not null "
        "and c.customer_key is null",
    )
    assert unknown == []


def test_payouts_reconcile_against_the_payments_that_name_them(
    built: BuiltWarehouse, records: SandboxRecords
) -> None:
    payments_by_payout = defaultdict(list)
    for payment in records("direct_debit/payments"):
        if payment["payout_id"]:
            payments_by_payout[payment["payout_id"]].append(payment)
    expected = {}
    for payout in records("direct_debit/payouts"):
        named = payments_by_payout[payout["id"]]
        currency = payout["currency"]
        same = [major(p["amount"], currency) for p in named if p["currency"] == currency]
        fees = major(payout["deducted_fees"], currency)
        expected_amount = sum(same, Decimal(0)) - fees
        paid = major(payout["amount"], currency)
        if not named:
            status = "no_payments"
        elif len(same) < len(named):
            status = "currency_mismatch"
        else:
            status = "matched" if paid == expected_amount else "amount_mismatch"
        expected[payout["id"]] = (len(named), expected_amount, paid - expected_amount, status)
    rows = query(
        built.database,
        "select payout_id, payments, expected_amount, difference, reconciliation_status "
        "from marts.payouts_reconciliation",
    )
    assert {payout_id: tuple(rest) for payout_id, *rest in rows} == expected
    assert {status for *_, status in expected.values()} >= {"no_payments", "currency_mismatch"}


def test_staging_types_amounts_timestamps_and_statuses(built: BuiltWarehouse) -> None:
    types = dict(
        query(
            built.database,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'gateway__list_payments'",
        )
    )
    assert types["amount"] == "DECIMAL(18,3)" and types["amount_minor"] == "BIGINT"
    assert types["created_at"] == types["captured_at"] == "TIMESTAMP WITH TIME ZONE"
    [(yen, yen_minor)] = query(
        built.database,
        "select amount, amount_minor from staging.gateway__list_payments "
        "where currency = 'JPY' order by id limit 1",
    )
    assert yen == yen_minor  # zero-decimal: 1492 yen stay 1492, not 14.92
    [(charge_date,)] = query(
        built.database,
        "select data_type from information_schema.columns where table_schema = 'staging' "
        "and table_name = 'direct_debit__payments' and column_name = 'charge_date'",
    )
    assert charge_date == "DATE"
    mapped = [view for spec in load_providers() for view in spec.views if view.statuses]
    assert len(mapped) == 15, "every resource with a status says how its words map"
    for view in mapped:
        table = f"staging.{view.provider}__{view.name}"
        pairs = set(query(built.database, f"select distinct provider_status, status from {table}"))
        assert pairs <= set(view.statuses.items()), f"{view.provider}/{view.name}: {pairs}"
        assert UNKNOWN_STATUS not in {status for _, status in pairs}


def test_staging_keeps_the_latest_version_of_each_key(
    built: BuiltWarehouse, tmp_path, instance: dg.DagsterInstance
) -> None:
    database = tmp_path / "copy.duckdb"
    shutil.copy(built.database, database)
    with duckdb.connect(str(database)) as connection:  # an older version lands again
        connection.execute(
            "insert into billing.charges by name select * replace ("
            "updated_at - interval 3 day as updated_at, 'pending' as status, "
            "'stale' as _dlt_id) from billing.charges where id = 'ch_000001'"
        )
        [(latest,)] = connection.execute(
            "select status from billing.charges where id = 'ch_000001' and _dlt_id <> 'stale'"
        ).fetchall()
    result = dg.materialize(
        staging_assets(load_providers(), "duckdb"),
        selection=["staging/billing__charges"],
        resources={"warehouse": Warehouse(duckdb_path=str(database))},
        instance=instance,
    )
    rows = query(
        database, "select provider_status from staging.billing__charges where id = 'ch_000001'"
    )
    assert rows == [(latest,)]
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["raw_rows"].value == metadata["dagster/row_count"].value + 1


def test_exports_hold_every_mart_as_csv_and_parquet(built: BuiltWarehouse) -> None:
    for mart in marts_for(load_providers()):
        rows = query(built.database, f"select count(*) from marts.{mart.name}")[0][0]
        parquet = pyarrow.parquet.read_table(built.exports / f"{mart.name}.parquet")
        csv = pyarrow.csv.read_csv(built.exports / f"{mart.name}.csv")
        assert parquet.num_rows == csv.num_rows == rows, mart.name
        # Nothing is deleted in this sandbox (test_deletes.py fills fct_deletions), and no
        # shipped provider has disputes (test_roles.py loads the ledger's) or balance
        # transactions (test_roles.py writes a held-out provider's).
        empty = ("fct_deletions", "fct_disputes", "fct_balance_transactions")
        assert rows > 0 or mart.name in empty, mart.name
        assert parquet.column_names == csv.column_names
    revenue = pyarrow.parquet.read_table(built.exports / "daily_revenue.parquet")
    assert str(revenue.schema.field("gross_amount").type) == "decimal128(18, 3)"
    exported = sum(revenue.column("net_amount").to_pylist())
    [(in_warehouse,)] = query(built.database, "select sum(net_amount) from marts.daily_revenue")
    assert exported == in_warehouse
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in built.result.get_asset_materialization_events()
    }
    csv_url = events["exports/fct_payments_export"]["csv_url"].value
    assert csv_url == (built.exports / "fct_payments.csv").resolve().as_uri()


@pytest.mark.e2e
def test_marts_are_the_same_on_postgres(
    sandbox, postgres_server, tmp_path, monkeypatch, built: BuiltWarehouse
) -> None:
    url = postgres_server.url(postgres_server.create_database("marts"))
    point_env_at(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("PAYMENTS_DESTINATION", "postgres")
    monkeypatch.setenv("PAYMENTS_POSTGRES_URL", url)
    monkeypatch.setenv("PAYMENTS_EXPORT_DIR", str(tmp_path / "exports"))
    with dg.DagsterInstance.ephemeral() as instance:
        load_everything(
            Loader(load_providers(), instance), Warehouse(kind="postgres", postgres_url=url)
        )
    for mart in marts_for(load_providers()):
        tables = [
            pyarrow.parquet.read_table(folder / f"{mart.name}.parquet").to_pylist()
            for folder in (tmp_path / "exports", built.exports)
        ]
        on_postgres, on_duckdb = (
            sorted(rows, key=lambda row: tuple(str(row[c]) for c in mart.grain)) for rows in tables
        )
        assert on_postgres == on_duckdb, mart.name
