"""Roles: what a resource means is data in its YAML, and the marts are built from it.

A provider added from a folder lands in the marts with money equal to the sandbox's own records
to the cent; a held-out provider with its own field names, major units and negative refunds
lands as correctly; a role missing a field fails definitions load naming file, resource and key;
and the reconciliation checks catch a broken mart.
"""

import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import requests

from payments_assets.assets.marts import mart_assets, marts_for
from payments_assets.assets.staging import staging_assets
from payments_assets.checks import build_quality_checks
from payments_assets.checks.reconciliation import (
    MATCHES_STAGING,
    SETTLES_BALANCE_MOVEMENTS,
    build_reconciliation_checks,
    one_row_per_grain,
    payouts_settle_balance_movements,
    reconcile,
    settling_providers,
)
from payments_assets.checks.role_fields import ROLE_FIELDS_PRESENT
from payments_assets.checks.rules import Subject
from payments_assets.resources import Warehouse, reporting_exports
from payments_assets.sandbox import running_sandbox
from payments_assets.specs import (
    PROVIDERS_DIR,
    ProviderSpecError,
    load_providers,
    parse_provider,
)

from .conftest import SANDBOX_DEFAULTS
from .marts_fixtures import ALL_DAYS, SandboxRecords, downstream_assets
from .test_marts import major
from .warehouse_fixtures import Loader, point_env_at, query

LEDGER_YAML = Path(__file__).resolve().parents[1] / "docs" / "providers" / "ledger.yaml"


# Validation at definitions load ---------------------------------------------------------------


def _commerce_with(old: str, new: str) -> str:
    text = (PROVIDERS_DIR / "commerce.yaml").read_text()
    assert old in text
    return text.replace(old, new)


def test_roles_missing_field_fails_definitions_load_naming_file_resource_and_key() -> None:
    text = _commerce_with(
        "payments: {id: charge_id, customer: customer_id, amount: amount,",
        "payments: {id: charge_id, customer: customer_id,",
    )
    with pytest.raises(ProviderSpecError) as error:
        parse_provider(text, file="teams/commerce.yaml", name="commerce")
    assert str(error.value) == (
        "teams/commerce.yaml: resources[charges].roles.payments.amount: "
        "missing: role payments needs its amount field mapped"
    )


def test_roles_unknown_field_or_misused_unit_fails_naming_the_key() -> None:
    misspelt = _commerce_with("customer: customer_id,", "custmer: customer_id,")
    with pytest.raises(ProviderSpecError, match=r"roles\.payments\.custmer: not a field of role"):
        parse_provider(misspelt, file="commerce.yaml", name="commerce")
    unit_on_text = _commerce_with(
        "customer: customer_id,", "customer: {field: customer_id, unit: major},"
    )
    with pytest.raises(ProviderSpecError, match=r"roles\.payments\.customer: unit and sign"):
        parse_provider(unit_on_text, file="commerce.yaml", name="commerce")


def test_roles_invoice_lines_take_their_invoice_from_the_record_they_are_listed_in() -> None:
    text = (PROVIDERS_DIR / "billing.yaml").read_text()
    line_role = "invoice_lines: {list: lines, amount: amount"
    assert line_role in text
    mapped = text.replace(line_role, line_role.replace("lines,", "lines, invoice: invoice,"))
    with pytest.raises(ProviderSpecError, match=r"roles\.invoice_lines\.invoice: a line's invoice"):
        parse_provider(mapped, file="billing.yaml", name="billing")
    listed = text.replace("invoices: {id: id,", "invoices: {list: lines, id: id,")
    with pytest.raises(ProviderSpecError, match=r"roles\.invoices\.list: only invoice_lines"):
        parse_provider(listed, file="billing.yaml", name="billing")


def test_roles_every_shipped_provider_declares_its_money() -> None:
    roles = {
        (spec.name, view.name): set(view.roles)
        for spec in load_providers(environ={"PAYMENTS_PROVIDERS_DIR": str(LEDGER_YAML.parent)})
        for view in spec.views
        if view.roles
    }
    payments = {key[0] for key, played in roles.items() if "payments" in played}
    assert payments == {"gateway", "billing", "direct_debit", "commerce", "ledger"}
    assert roles[("commerce", "charges")] == {"payments", "refunds"}


# A provider added from a folder ---------------------------------------------------------------


class LedgerRecords:
    """The sandbox's ledger records over plain HTTP, walked as every Stripe list is walked."""

    def __init__(self, sandbox: Any) -> None:
        self.base = sandbox.env["PAYMENTS_LEDGER_BASE_URL"]
        self.headers = {"Authorization": f"Bearer {sandbox.env['PAYMENTS_LEDGER_SECRET_KEY']}"}

    def _get(self, url: str, **params: Any) -> requests.Response:
        response = requests.get(url, headers=self.headers, params=params, timeout=10)
        response.raise_for_status()
        return response

    def listed(self, resource: str) -> list[dict[str, Any]]:
        """A Stripe list (charges, refunds, disputes, payouts), walked with `starting_after`
        until `has_more` ends."""
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            body = self._get(f"{self.base}/v1/{resource}", **params).json()
            rows += body["data"]
            if not body["has_more"]:
                return rows
            params["starting_after"] = rows[-1]["id"]


def _day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


@dataclass(frozen=True)
class WithLedger:
    database: Path
    result: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def with_ledger(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WithLedger]:
    """The four shipped providers and the ledger, added from a folder of one's own, built
    through every layer with the marts' checks."""
    folder = tmp_path_factory.mktemp("roles")
    team = folder / "team_providers"
    team.mkdir()
    shutil.copy(LEDGER_YAML, team / "ledger.yaml")
    with pytest.MonkeyPatch.context() as patch, dg.DagsterInstance.ephemeral() as instance:
        database = point_env_at(patch, sandbox, folder)
        patch.setenv("PAYMENTS_EXPORT_DIR", str(folder / "exports"))
        patch.setenv("PAYMENTS_PROVIDERS_DIR", str(team))
        specs = load_providers()
        loader = Loader(specs, instance)
        loader.partition_range(*ALL_DAYS)
        loader.snapshots()
        warehouse = Warehouse(duckdb_path=str(database))
        result = dg.materialize(
            [*downstream_assets(), *build_reconciliation_checks(marts_for(specs))],
            resources={"warehouse": warehouse, "exports": reporting_exports()},
            instance=instance,
        )
        yield WithLedger(database, result)


def test_roles_provider_added_from_a_folder_lands_in_every_mart(
    with_ledger: WithLedger, sandbox: Any
) -> None:
    ledger = LedgerRecords(sandbox)
    charges, refunds = ledger.listed("charges"), ledger.listed("refunds")
    payments = query(
        with_ledger.database,
        "select payment_id, amount, currency, is_collected, customer_key from marts.fct_payments "
        "where provider = 'ledger'",
    )
    assert {row[0]: row[1:] for row in payments} == {
        c["id"]: (
            major(c["amount"], c["currency"].upper()),
            c["currency"].upper(),
            c["status"] == "succeeded",
            f"ledger:{c['customer']}",
        )
        for c in charges
    }
    gross: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for charge in charges:
        if charge["status"] == "succeeded":
            currency = charge["currency"].upper()
            gross[(_day(charge["created"]), currency)] += major(charge["amount"], currency)
    refunded = _ledger_refunds_land_one_row_each(with_ledger.database, charges, refunds)
    revenue = query(
        with_ledger.database,
        "select cast(revenue_date as varchar), currency, gross_amount, refunded_amount, "
        "net_amount from marts.daily_revenue where provider = 'ledger'",
    )
    zero = Decimal(0)
    assert {(day, cur): (g, r, n) for day, cur, g, r, n in revenue} == {
        key: (
            gross.get(key, zero),
            refunded.get(key, zero),
            gross.get(key, zero) - refunded.get(key, zero),
        )
        for key in {*gross, *refunded}
    }

    disputed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for dispute in ledger.listed("disputes"):
        if dispute["status"] != "won":  # open or lost: the money is not ours
            currency = dispute["currency"].upper()
            disputed[(_day(dispute["created"]), currency)] += major(dispute["amount"], currency)
    paid_out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for payout in ledger.listed("payouts"):
        if payout["status"] != "failed":
            currency = payout["currency"].upper()
            paid_out[(_day(payout["created"]), currency)] += major(payout["amount"], currency)
    overview = query(
        with_ledger.database,
        "select cast(overview_date as varchar), currency, gross_amount, refunded_amount, "
        "disputed_amount, fee_amount, net_amount, payout_amount "
        "from marts.daily_overview where provider = 'ledger'",
    )
    expected = {
        key: (
            gross.get(key, zero),
            refunded.get(key, zero),
            disputed.get(key, zero),
            zero,
            gross.get(key, zero) - refunded.get(key, zero) - disputed.get(key, zero),
            paid_out.get(key, zero),
        )
        for key in {*gross, *refunded, *disputed, *paid_out}
    }
    assert {(day, cur): tuple(rest) for day, cur, *rest in overview} == expected
    assert sum(disputed.values()) > 0 and sum(paid_out.values()) > 0


def _ledger_refunds_land_one_row_each(
    database: Path, charges: list[dict[str, Any]], refunds: list[dict[str, Any]]
) -> dict[tuple[str, str], Decimal]:
    """fct_refunds holds the sandbox's refund objects, each against its charge, and the refunds
    of a charge add up to its `amount_refunded`; returns the refunds' sums by refund day."""
    rows = query(
        database,
        "select refund_id, payment_key, amount_minor, currency, status, "
        "cast(refund_date as varchar) from marts.fct_refunds where provider = 'ledger'",
    )
    assert {refund_id: tuple(rest) for refund_id, *rest in rows} == {
        r["id"]: (
            f"ledger:{r['charge']}",
            r["amount"],
            r["currency"].upper(),
            "succeeded",
            _day(r["created"]),
        )
        for r in refunds
    }
    per_charge: dict[str, int] = defaultdict(int)
    for payment_key, minor in query(
        database,
        "select payment_key, sum(amount_minor) from marts.fct_refunds "
        "where provider = 'ledger' group by 1",
    ):
        per_charge[payment_key.removeprefix("ledger:")] = minor
    assert {c["id"]: per_charge[c["id"]] for c in charges} == {
        c["id"]: c["amount_refunded"] for c in charges
    }
    assert sum(c["amount_refunded"] > 0 for c in charges) > 10, "the month has refunds"
    refunded: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for refund in refunds:
        currency = refund["currency"].upper()
        refunded[(_day(refund["created"]), currency)] += major(refund["amount"], currency)
    return refunded


def test_roles_added_provider_reaches_the_lineage_checks_and_exports(
    with_ledger: WithLedger,
) -> None:
    def reads(specs: list[Any]) -> set[str]:
        [payments] = [mart for mart in marts_for(specs) if mart.name == "fct_payments"]
        return {key.to_user_string() for key in payments.reads}

    assert "staging/ledger__charges" in reads(load_providers())  # the folder is in the env
    assert "staging/ledger__charges" not in reads(load_providers(PROVIDERS_DIR))
    events = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in with_ledger.result.get_asset_materialization_events()
    }
    assert events["exports/fct_disputes_export"]["dagster/row_count"].value > 0
    evaluations = with_ledger.result.get_asset_check_evaluations()
    matched = {
        e.asset_key.to_user_string(): e.metadata["figures"].value
        for e in evaluations
        if e.check_name == MATCHES_STAGING
    }
    assert "ledger/charges" in matched["marts/fct_payments"]
    assert "ledger/disputes" in matched["marts/fct_disputes"]
    assert "ledger/refunds" in matched["marts/fct_refunds"]
    assert all(evaluation.passed for evaluation in evaluations)


def test_roles_daily_overview_has_one_row_per_account_currency_and_day(
    with_ledger: WithLedger,
) -> None:
    [(rows, grains)] = query(
        with_ledger.database,
        "select count(*), count(distinct (overview_date, provider, account, currency)) "
        "from marts.daily_overview",
    )
    assert rows == grains > 0


# A held-out provider: its own names, major units, refunds written negative ---------------------

ACQUIRER = """
description: A held-out acquirer that writes major units and negative refunds.
partitions: {start: "2026-10-01"}
client:
  base_url: "http://127.0.0.1:9"
  auth: {type: bearer, token: {env: PAYMENTS_ACQUIRER_TOKEN}}
resource_defaults:
  primary_key: ref
  write_disposition: merge
  endpoint: {data_selector: rows, paginator: {type: single_page}}
resources:
  - name: sales
    endpoint: {path: /sales}
    statuses:
      {requires_capture: pending, captured: succeeded, settled: succeeded, voided: canceled,
       failed: failed}
    roles:
      payments:
        {id: ref, amount: gross, currency: ccy, status: state, occurred_at: booked, unit: major}
  - name: reversals
    endpoint: {path: /reversals}
    statuses:
      {pending: pending, succeeded: succeeded, failed: failed, refunded: refunded,
       disputed: disputed}
    roles:
      refunds:
        id: ref
        payment: sale
        amount: {field: value, unit: major, sign: negative}
        currency: ccy
        status: state
        occurred_at: booked
"""


def _major_float(amount: int, currency: str) -> float:
    return float(major(amount, currency.upper()))


def _write_acquirer(database: Path, records: SandboxRecords) -> None:
    """The acquirer's raw tables as it sends them: the sandbox gateway's payments and refund
    lines, renamed, in major units (12.34), refunds negative, currencies in lower case."""
    sales = [
        (
            p["id"],
            _major_float(p["amount"], p["currency"]),
            p["currency"].lower(),
            p["status"],
            p["created_at"],
        )
        for p in records("gateway/list_payments")
    ]
    reversals = [
        (
            t["id"],
            None,
            -_major_float(t["amount"], t["currency"]),
            t["currency"].lower(),
            t["status"],
            t["created_at"],
        )
        for t in records("gateway/transactions")
        if t["type"] == "refund"
    ]
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema acquirer")
        connection.execute(
            "create table acquirer.sales (ref varchar, gross double, ccy varchar, "
            "state varchar, booked timestamptz, _dlt_load_id varchar, _dlt_id varchar)"
        )
        connection.executemany(
            "insert into acquirer.sales values (?, ?, ?, ?, ?, '1', ?)",
            [(*row, row[0]) for row in sales],
        )
        connection.execute(
            "create table acquirer.reversals (ref varchar, sale varchar, value double, "
            "ccy varchar, state varchar, booked timestamptz, _dlt_load_id varchar, "
            "_dlt_id varchar)"
        )
        connection.executemany(
            "insert into acquirer.reversals values (?, ?, ?, ?, ?, ?, '1', ?)",
            [(*row, row[0]) for row in reversals],
        )


def test_roles_held_out_provider_with_major_units_and_negative_refunds_lands_to_the_cent(
    with_ledger: WithLedger,
    records: SandboxRecords,
    tmp_path: Path,
    instance: dg.DagsterInstance,
) -> None:
    database = tmp_path / "held_out.duckdb"
    shutil.copy(with_ledger.database, database)
    _write_acquirer(database, records)
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "acquirer.yaml").write_text(ACQUIRER)
    specs = [*load_providers(), *load_providers(folder)]
    marts = marts_for(specs)
    dg.materialize(
        [*staging_assets(specs, "duckdb"), *mart_assets("duckdb", marts)],
        resources={"warehouse": Warehouse(duckdb_path=str(database))},
        instance=instance,
    )
    payments = records("gateway/list_payments")
    rows = query(
        database,
        "select payment_id, amount, amount_minor, currency from marts.fct_payments "
        "where provider = 'acquirer'",
    )
    assert {pid: rest for pid, *rest in rows} == {
        p["id"]: [major(p["amount"], p["currency"]), p["amount"], p["currency"]] for p in payments
    }
    expected: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    for p in payments:
        if p["status"] in ("captured", "settled"):
            expected[(p["created_at"][:10], p["currency"])][0] += major(p["amount"], p["currency"])
    for t in records("gateway/transactions"):
        if t["type"] == "refund" and t["status"] == "succeeded":
            expected[(t["created_at"][:10], t["currency"])][1] += major(t["amount"], t["currency"])
    revenue = query(
        database,
        "select cast(revenue_date as varchar), currency, gross_amount, refunded_amount, "
        "net_amount from marts.daily_revenue where provider = 'acquirer'",
    )
    assert {(day, cur): [g, r, n] for day, cur, g, r, n in revenue} == {
        key: [gross, back, gross - back] for key, (gross, back) in expected.items()
    }
    assert all(r >= 0 for *_, r, _ in revenue), "refunds written negative count as money out"
    with Warehouse(duckdb_path=str(database)).session() as session:
        for mart in marts:
            if mart.feeds:
                assert reconcile(session, mart).passed, mart.name


def test_roles_field_the_records_lack_fails_the_raw_check_naming_resource_and_field(
    with_ledger: WithLedger, records: SandboxRecords, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    database = tmp_path / "misnamed.duckdb"
    shutil.copy(with_ledger.database, database)
    _write_acquirer(database, records)
    misnamed = parse_provider(
        ACQUIRER.replace("occurred_at: booked, unit: major", "occurred_at: booked_on, unit: major"),
        file="acquirer.yaml",
        name="acquirer",
    )
    right = parse_provider(ACQUIRER, file="acquirer.yaml", name="acquirer")
    with Warehouse(duckdb_path=str(database)).session() as session:
        wrong = ROLE_FIELDS_PRESENT.judge(
            Subject(misnamed.view("sales"), "acquirer", session, instance)
        )
        fine = ROLE_FIELDS_PRESENT.judge(
            Subject(right.view("sales"), "acquirer", session, instance)
        )
    assert not wrong.passed
    assert wrong.description.startswith(
        "acquirer resources[sales]: roles.payments.occurred_at (booked_on): no such column"
    )
    assert fine.passed, fine.description
    checks = {
        spec.asset_key.to_user_string(): spec.blocking
        for spec in build_quality_checks([misnamed])[0].check_specs
        if spec.name == ROLE_FIELDS_PRESENT.name
    }
    assert checks == {"acquirer/sales": True, "acquirer/reversals": True}


# Reconciliation fails on a broken mart --------------------------------------------------------


def test_reconciliation_fails_on_a_mart_that_lost_a_row_or_fanned_out(
    with_ledger: WithLedger, tmp_path: Path
) -> None:
    database = tmp_path / "broken.duckdb"
    shutil.copy(with_ledger.database, database)
    specs = load_providers(environ={"PAYMENTS_PROVIDERS_DIR": str(LEDGER_YAML.parent)})
    marts = {mart.name: mart for mart in marts_for(specs)}
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "delete from marts.fct_payments where payment_key = "
            "(select min(payment_key) from marts.fct_payments where provider = 'billing')"
        )
        connection.execute(
            "insert into marts.daily_overview select * from marts.daily_overview limit 1"
        )
        connection.execute(
            "update marts.fct_refunds set amount = amount + 0.01 where "
            "refund_key = (select min(refund_key) from marts.fct_refunds "
            "where provider = 'commerce')"
        )
    with Warehouse(duckdb_path=str(database)).session() as session:
        lost = reconcile(session, marts["fct_payments"])
        changed = reconcile(session, marts["fct_refunds"])
        fanned = one_row_per_grain(session, marts["daily_overview"])
        intact = reconcile(session, marts["dim_customers"])
    assert not lost.passed and lost.description.startswith("billing/charges: staging 200 rows")
    assert not changed.passed and "commerce/charges" in (changed.description or "")
    assert not fanned.passed and fanned.description.startswith("1 overview_date")
    assert intact.passed


# Invoices and their lines --------------------------------------------------------------------


def _invoice_lines_by_invoice(database: Path, provider: str) -> dict[str, list[tuple[Any, ...]]]:
    """Invoice id → its lines in fct_invoice_lines (line id, minor units, currency), by key."""
    rows = query(
        database,
        "select invoice_id, line_id, amount_minor, currency from marts.fct_invoice_lines "
        f"where provider = '{provider}' order by invoice_id, line_key",
    )
    lines: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for invoice_id, *line in rows:
        lines[invoice_id].append(tuple(line))
    return lines


def test_roles_invoice_lines_add_up_to_every_invoice_the_api_totals(
    with_ledger: WithLedger, sandbox: Any, records: SandboxRecords
) -> None:
    """Every ledger invoice (0, 1, 10, 11, 3, 100, 101 and 250 lines, only the first 10 embedded)
    and every billing invoice: its lines in fct_invoice_lines, each with the invoice's id from
    the invoice, add up to the amount_due the API states, and fct_invoices holds that amount."""
    invoices = LedgerRecords(sandbox).listed("invoices")
    lines = _invoice_lines_by_invoice(with_ledger.database, "ledger")
    sizes: dict[int, int] = defaultdict(int)
    for invoice in invoices:
        mine = lines.get(invoice["id"], [])
        assert len(mine) == invoice["lines"]["total_count"], invoice["id"]
        assert sum(minor for _, minor, _ in mine) == invoice["amount_due"], invoice["id"]
        assert {currency for *_, currency in mine} <= {invoice["currency"].upper()}
        embedded = {line["id"]: line["amount"] for line in invoice["lines"]["data"]}
        assert {i: m for i, m, _ in mine if i in embedded} == embedded
        sizes[len(mine)] += 1
    assert sizes == {0: 25, 1: 25, 10: 25, 11: 25, 3: 25, 100: 25, 101: 25, 250: 25}
    assert set(lines) <= {invoice["id"] for invoice in invoices}

    billed = records("billing/invoices")
    lines = _invoice_lines_by_invoice(with_ledger.database, "billing")
    assert {
        invoice["id"]: [
            (f"{invoice['id']}:{position}", line["amount"], invoice["currency"])
            for position, line in enumerate(invoice["lines"])
        ]
        for invoice in billed
    } == lines
    assert all(sum(line["amount"] for line in i["lines"]) == i["amount_due"] for i in billed)

    totals = query(
        with_ledger.database,
        "select provider, invoice_id, amount_minor, currency, status from marts.fct_invoices",
    )
    common = {"paid": "succeeded", "void": "canceled", "uncollectible": "failed"}
    assert {(p, i): rest for p, i, *rest in totals} == {
        (provider, invoice["id"]): [
            invoice["amount_due"],
            invoice["currency"].upper(),
            common.get(invoice["status"], "pending"),
        ]
        for provider, listed in (("ledger", invoices), ("billing", billed))
        for invoice in listed
    }


# Subscriptions and monthly recurring revenue ---------------------------------------------------

PER_MONTH = {"day": (365, 12), "week": (52, 12), "month": (1, 1), "year": (1, 12)}
COUNTING = {"active", "past_due", "canceled"}  # common statuses whose MRR counts until the end


@dataclass(frozen=True)
class Subscribed:
    """One subscription as its API states it, in the terms the MRR rules use."""

    provider: str
    currency: str
    monthly_minor: int  # amount x quantity per month, rounded half up
    counts: bool
    start: datetime
    end: datetime | None
    last_change: datetime


def _per_month(amount: int, quantity: int, interval: str) -> int:
    num, den = PER_MONTH[interval]
    return (2 * amount * quantity * num + den) // (2 * den)


def _epoch(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _subscriptions_from_the_apis(sandbox: Any, records: SandboxRecords) -> list[Subscribed]:
    found = []
    billing = {"unpaid": "past_due"}
    for s in records("billing/subscriptions"):
        plan, status = s["plan"], billing.get(s["status"], s["status"])
        updated = datetime.fromisoformat(s["updated_at"])
        found.append(
            Subscribed(
                "billing",
                plan["currency"],
                _per_month(plan["amount"], s["quantity"], plan["interval"]),
                status in COUNTING,
                datetime.fromisoformat(s["created_at"]),
                updated if status == "canceled" else None,  # no cancellation time: last update
                updated,
            )
        )
    for s in records("commerce/subscriptions"):
        seen = _epoch(s["first_seen"])
        status = "canceled" if s["status"] == "cancelled" else s["status"]
        found.append(
            Subscribed(
                "commerce",
                s["currency"],
                _per_month(s["amount"], 1, "month"),
                status in COUNTING,
                seen,
                seen if status == "canceled" else None,
                seen,
            )
        )
    for s in LedgerRecords(sandbox).listed("subscriptions"):
        canceled = _epoch(s["canceled_at"]) if s["canceled_at"] else None
        found.append(
            Subscribed(
                "ledger",
                s["currency"].upper(),
                _per_month(s["plan"]["amount"], 1, s["plan"]["interval"]),
                s["status"] in COUNTING,
                _epoch(s["created"]),
                canceled,
                max(_epoch(s["created"]), canceled or _epoch(s["created"])),
            )
        )
    return found


def _month_after(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _expected_mrr(subscribed: list[Subscribed]) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """(month, provider, currency) → (mrr, counting, new, new mrr, churned, churned mrr), from
    the API's subscriptions: each counts at a month's end if its status counts, it started
    before that instant and had not ended by it."""

    def first_of(moment: datetime) -> date:
        return date(moment.year, moment.month, 1)

    last = max(first_of(max(s.start, s.end or s.start, s.last_change)) for s in subscribed)
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 6)
    for s in subscribed:
        month, previous, ever = first_of(s.start), None, False
        while month <= last:
            end_of_month = datetime.combine(_month_after(month), datetime.min.time(), UTC)
            counting = (
                s.counts and s.start < end_of_month and (s.end is None or s.end >= end_of_month)
            )
            mrr = s.monthly_minor if counting else 0
            row = sums[(month.isoformat(), s.provider, s.currency)]
            row[0] += mrr
            row[1] += mrr > 0
            if mrr > 0 and not ever:
                row[2], row[3] = row[2] + 1, row[3] + mrr
            if previous and mrr == 0:
                row[4], row[5] = row[4] + 1, row[5] + previous
            ever, previous, month = ever or mrr > 0, mrr, _month_after(month)
    return {
        key: (major(m, key[2]), n, new, major(new_mrr, key[2]), gone, major(gone_mrr, key[2]))
        for key, (m, n, new, new_mrr, gone, gone_mrr) in sums.items()
    }


@dataclass(frozen=True)
class TwoMonths:
    """A sandbox over October and November 2026, its subscription marts built."""

    sandbox: Any
    database: Path


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoMonths]:
    """Billing, commerce and the ledger (added from a folder) over two months, so subscriptions
    made in one month and canceled in the next churn; staging and the subscription marts."""
    folder = tmp_path_factory.mktemp("mrr")
    team = folder / "team_providers"
    team.mkdir()
    shutil.copy(LEDGER_YAML, team / "ledger.yaml")
    options = {**SANDBOX_DEFAULTS, "records": 150, "days": 61}
    with (
        running_sandbox(**options) as sandbox,
        pytest.MonkeyPatch.context() as patch,
        dg.DagsterInstance.ephemeral() as instance,
    ):
        database = point_env_at(patch, sandbox, folder)
        patch.setenv("PAYMENTS_PROVIDERS_DIR", str(team))
        providers = ["billing", "commerce", "ledger"]
        specs = [spec for spec in load_providers() if spec.name in providers]
        Loader(specs, instance).partition_range("2026-10-01", "2026-11-30", providers)
        marts = [mart for mart in marts_for(specs) if "subscription" in mart.name]
        staged = {key for mart in marts for key in mart.reads if key.path[0] == "staging"}
        dg.materialize(
            [*staging_assets(specs, "duckdb"), *mart_assets("duckdb", marts)],
            selection=[*staged, *(mart.key for mart in marts)],
            resources={"warehouse": Warehouse(duckdb_path=str(database))},
            instance=instance,
        )
        yield TwoMonths(sandbox, database)


def test_roles_subscription_mrr_by_month_equals_the_apis_subscriptions(
    two_months: TwoMonths,
) -> None:
    """MRR at each month's end, new and churned subscriptions per month, provider and
    currency, computed here from the subscription lists of billing (monthly and yearly plans
    with quantities), commerce and the ledger (cancellations from its event feed)."""
    subscribed = _subscriptions_from_the_apis(
        two_months.sandbox, SandboxRecords(two_months.sandbox)
    )
    rows = query(
        two_months.database,
        "select cast(mrr_month as varchar), provider, currency, mrr, subscriptions, "
        "new_subscriptions, new_mrr, churned_subscriptions, churned_mrr, "
        "expansion_mrr + contraction_mrr + reactivated_mrr, "
        "expansion_subscriptions + contraction_subscriptions + reactivated_subscriptions "
        "from marts.subscription_mrr_monthly",
    )
    built = {(month, p, c): tuple(rest[:6]) for month, p, c, *rest in rows}
    assert built == _expected_mrr(subscribed)
    assert {tuple(row[9:]) for row in rows} == {(0, 0)}, (
        "one state per subscription: no expansion, contraction or reactivation to see"
    )
    assert {month for month, _, _ in built} == {"2026-10-01", "2026-11-01"}
    assert {provider for _, provider, _ in built} == {"billing", "commerce", "ledger"}
    new = sum(row[2] for row in built.values())
    churned = sum(row[4] for row in built.values())
    assert new > 100 and churned > 0, (new, churned)  # seed 1: 180 new, 4 churned
    previous: dict[tuple[str, str], Decimal] = {}
    for (month, provider, currency), (mrr, _, _, new_mrr, _, churned_mrr) in sorted(built.items()):
        before = previous.get((provider, currency), Decimal(0))
        assert mrr == before + new_mrr - churned_mrr, (month, provider, currency)
        previous[(provider, currency)] = mrr


# Balance transactions and the payouts that settle them ------------------------------------------

PROCESSOR = """
description: A held-out processor that reports its balance transactions and payouts.
partitions: {start: "2026-10-01"}
client:
  base_url: "http://127.0.0.1:9"
  auth: {type: bearer, token: {env: PAYMENTS_PROCESSOR_TOKEN}}
resource_defaults:
  primary_key: id
  write_disposition: merge
  endpoint: {data_selector: data, paginator: {type: single_page}}
resources:
  - name: payouts
    endpoint: {path: /payouts}
    statuses: {paid: succeeded, failed: failed}
    roles:
      payouts: {id: id, amount: amount, currency: currency, status: status, occurred_at: created}
  - name: balance_transactions
    endpoint: {path: /balance_transactions}
    roles:
      balance_transactions:
        {id: id, type: type, amount: amount, fee: fee, net: net, currency: currency,
         source: source, payout: payout, occurred_at: created}
"""


def _write_processor(database: Path, sandbox: Any) -> list[tuple[Any, ...]]:
    """The processor's raw tables, made of the ledger's charges and refunds over HTTP: a
    movement per succeeded charge (net of a 2.9% + 30 fee) and per refund (negative), settled
    by one payout per currency and ISO week, whose own movement (type payout) is negative.
    Returns the movements (id, type, amount, fee, net, currency, source, payout, created)."""
    ledger = LedgerRecords(sandbox)
    moves = []
    for c in ledger.listed("charges"):
        if c["status"] == "succeeded":
            fee = c["amount"] * 29 // 1000 + 30
            moves.append(["txn_" + c["id"], "charge", c["amount"], fee, c["amount"] - fee, c])
    for r in ledger.listed("refunds"):
        moves.append(["txn_" + r["id"], "refund", -r["amount"], 0, -r["amount"], r])
    movements, payouts = [], defaultdict(int)
    for txn, kind, amount, fee, net, record in moves:
        created = _epoch(record["created"])
        payout = f"po_{record['currency']}_{created.isocalendar().week}"
        payouts[(payout, record["currency"].upper())] += net
        source = record["id"]
        movements.append(
            (txn, kind, amount, fee, net, record["currency"].upper(), source, payout, created)
        )
    paid_at = datetime(2026, 11, 2, tzinfo=UTC)
    for (payout, currency), total in payouts.items():
        movements.append(
            ("txn_" + payout, "payout", -total, 0, -total, currency, payout, payout, paid_at)
        )
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema processor")
        connection.execute(
            "create table processor.payouts (id varchar, amount bigint, currency varchar, "
            "status varchar, created timestamptz, _dlt_load_id varchar, _dlt_id varchar)"
        )
        connection.executemany(
            "insert into processor.payouts values (?, ?, ?, 'paid', ?, '1', ?)",
            [(p, total, cur, paid_at, p) for (p, cur), total in payouts.items()],
        )
        connection.execute(
            "create table processor.balance_transactions (id varchar, type varchar, "
            "amount bigint, fee bigint, net bigint, currency varchar, source varchar, "
            "payout varchar, created timestamptz, _dlt_load_id varchar, _dlt_id varchar)"
        )
        connection.executemany(
            "insert into processor.balance_transactions values (?, ?, ?, ?, ?, ?, ?, ?, ?, '1', ?)",
            [(*move, move[0]) for move in movements],
        )
    return movements


def test_reconciliation_roles_payouts_settle_the_balance_movements_they_name(
    with_ledger: WithLedger, sandbox: Any, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """No sandbox provider serves balance transactions: a held-out processor's raw tables are
    written from the ledger's charges and refunds. fct_balance_transactions holds every
    movement to the cent, each payout equals the net of the movements it settles, and a
    movement off by a cent fails the check naming the payout."""
    database = tmp_path / "settled.duckdb"
    shutil.copy(with_ledger.database, database)
    movements = _write_processor(database, sandbox)
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "processor.yaml").write_text(PROCESSOR)
    specs = [*load_providers(), *load_providers(folder)]
    marts = {mart.name: mart for mart in marts_for(specs)}
    dg.materialize(
        [*staging_assets(specs, "duckdb"), *mart_assets("duckdb", list(marts.values()))],
        resources={"warehouse": Warehouse(duckdb_path=str(database))},
        instance=instance,
    )
    rows = query(
        database,
        "select balance_transaction_id, type, amount, fee_amount, net_amount, currency, "
        "source_key, payout_id from marts.fct_balance_transactions where provider = 'processor'",
    )
    assert {txn: tuple(rest) for txn, *rest in rows} == {
        txn: (
            kind,
            major(amount, cur),
            major(fee, cur),
            major(net, cur),
            cur,
            f"processor:{source}",
            payout,
        )
        for txn, kind, amount, fee, net, cur, source, payout, _ in movements
    }
    assert settling_providers(list(marts.values())) == ["processor"]
    assert settling_providers(marts_for(load_providers())) == []
    checks = build_reconciliation_checks(list(marts.values()))[0].check_specs
    assert any(spec.name == SETTLES_BALANCE_MOVEMENTS for spec in checks)
    with Warehouse(duckdb_path=str(database)).session() as session:
        settled = payouts_settle_balance_movements(session, marts["fct_payouts"], ["processor"])
        assert reconcile(session, marts["fct_balance_transactions"]).passed
    payouts = {payout for *_, payout, _ in movements}
    assert settled.passed, settled.description
    assert (
        settled.description
        == f"{len(payouts)} payouts equal the net of the balance movements they settle"
    )
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "update marts.fct_balance_transactions set net_amount = net_amount - 0.01 "
            "where balance_transaction_id = (select min(balance_transaction_id) from "
            "marts.fct_balance_transactions where provider = 'processor' and type = 'charge')"
        )
        [(payout,)] = connection.execute(
            "select payout_id from marts.fct_balance_transactions where balance_transaction_id "
            "= (select min(balance_transaction_id) from marts.fct_balance_transactions "
            "where provider = 'processor' and type = 'charge')"
        ).fetchall()
    with Warehouse(duckdb_path=str(database)).session() as session:
        broken = payouts_settle_balance_movements(session, marts["fct_payouts"], ["processor"])
    assert not broken.passed
    assert broken.description.startswith(f"1 of {len(payouts)} payouts differ")
    assert f"processor/{payout}: paid" in broken.description


def test_roles_line_field_the_items_lack_fails_the_raw_check_naming_the_list(
    with_ledger: WithLedger, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    text = (PROVIDERS_DIR / "billing.yaml").read_text()
    right = parse_provider(text, file="billing.yaml", name="billing")
    misnamed = parse_provider(
        text.replace("{list: lines, amount: amount,", "{list: lines, amount: amt,"),
        file="billing.yaml",
        name="billing",
    )
    with Warehouse(duckdb_path=str(with_ledger.database)).session() as session:
        wrong = ROLE_FIELDS_PRESENT.judge(
            Subject(misnamed.view("invoices"), "billing", session, instance)
        )
        fine = ROLE_FIELDS_PRESENT.judge(
            Subject(right.view("invoices"), "billing", session, instance)
        )
    assert not wrong.passed
    assert wrong.description.startswith(
        "billing resources[invoices]: roles.invoice_lines.amount (lines.amt): no such column"
    )
    assert fine.passed and fine.description.startswith("5 required role field(s)")


def test_reconciliation_fails_on_invoice_lines_that_lost_a_line(
    with_ledger: WithLedger, tmp_path: Path
) -> None:
    database = tmp_path / "lines.duckdb"
    shutil.copy(with_ledger.database, database)
    specs = load_providers(environ={"PAYMENTS_PROVIDERS_DIR": str(LEDGER_YAML.parent)})
    marts = {mart.name: mart for mart in marts_for(specs)}
    with Warehouse(duckdb_path=str(database)).session() as session:
        assert reconcile(session, marts["fct_invoice_lines"]).passed
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "delete from marts.fct_invoice_lines where line_key = (select min(line_key) "
            "from marts.fct_invoice_lines where provider = 'ledger')"
        )
    with Warehouse(duckdb_path=str(database)).session() as session:
        lost = reconcile(session, marts["fct_invoice_lines"])
    assert not lost.passed
    assert (lost.description or "").startswith("ledger/invoices.lines: staging ")
