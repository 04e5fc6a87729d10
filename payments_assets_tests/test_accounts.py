"""Several accounts per provider: own credentials, rows kept apart, backfills one at a time."""

import os
from pathlib import Path

import dagster as dg
import pytest
import yaml

from payments_assets.assets.ingest import ingest_assets
from payments_assets.assets.marts import mart_assets
from payments_assets.assets.staging import staging_assets
from payments_assets.resources import build_resources
from payments_assets.specs import ACCOUNT_COLUMN, load_providers

from .trust_fixtures import CheckedLoader, evaluations, execute
from .warehouse_fixtures import Loader, point_env_at, query

PROVIDERS = Path(__file__).parents[1] / "payments_assets" / "providers"


def _billing_with_accounts(folder: Path, isolation: str = "column", us_key: str = "ACCT2_") -> Path:
    raw = yaml.safe_load((PROVIDERS / "billing.yaml").read_text())
    raw["accounts"] = [
        {
            "name": "eu",
            "credentials": {"api_key": {"env": "PAYMENTS_BILLING_API_KEY"}},
            "headers": {"X-Account": "acct1"},
        },
        {
            "name": "us",
            "credentials": {"api_key": {"env": f"PAYMENTS_BILLING_{us_key}API_KEY"}},
            "headers": {"X-Account": "acct2"},
        },
    ]
    raw["account_isolation"] = isolation
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "billing.yaml").write_text(yaml.safe_dump(raw))
    return folder


def _key(account: str, day: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"account": account, "date": day})


@pytest.fixture
def two_accounts(sandbox_factory, tmp_path, monkeypatch, instance):
    sandbox = sandbox_factory(accounts=2)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    loader = Loader(load_providers(_billing_with_accounts(tmp_path / "providers")), instance)
    return sandbox, database, loader


def test_two_accounts_with_overlapping_ids_load_side_by_side(two_accounts):
    _, database, loader = two_accounts
    for account in ("eu", "us"):
        loader.partition(_key(account, "2026-10-05"))
    [(rows, keys, accounts)] = query(
        database,
        f'select count(*), count(distinct ("{ACCOUNT_COLUMN}", id)), '
        f'count(distinct "{ACCOUNT_COLUMN}") from billing.charges',
    )
    assert rows == keys and accounts == 2
    [(shared_ids,)] = query(
        database,
        f"select count(*) from billing.charges a join billing.charges b on a.id = b.id "
        f"and a.{ACCOUNT_COLUMN} = 'eu' and b.{ACCOUNT_COLUMN} = 'us'",
    )
    assert shared_ids > 0, "the same ids exist in both accounts and neither overwrote the other"
    [(differing,)] = query(
        database,
        f"select count(*) from billing.charges a join billing.charges b on a.id = b.id "
        f"and a.{ACCOUNT_COLUMN} = 'eu' and b.{ACCOUNT_COLUMN} = 'us' and a.amount <> b.amount",
    )
    assert differing > 0, "each account keeps its own version of a shared id"


def test_each_account_sends_only_its_own_credentials(two_accounts):
    sandbox, _, loader = two_accounts
    sandbox.reset_stats()
    for account in ("eu", "us"):
        loader.partition(_key(account, "2026-10-06"))
    stats = sandbox.stats()
    assert stats["account_mismatches"] == 0 and stats["auth_failures"] == 0
    assert stats["requests_by_account"]["billing/acct1"] > 0
    assert stats["requests_by_account"]["billing/acct2"] > 0


def test_an_account_given_another_accounts_key_is_refused(
    sandbox_factory, tmp_path, monkeypatch, instance
):
    sandbox = sandbox_factory(accounts=2)
    point_env_at(monkeypatch, sandbox, tmp_path)
    folder = _billing_with_accounts(tmp_path / "providers", us_key="")  # us uses eu's key
    loader = Loader(load_providers(folder), instance)
    result = loader.partition(_key("us", "2026-10-06"), raise_on_error=False)
    assert not result.success
    assert sandbox.stats()["account_mismatches"] > 0


def test_backfilling_one_account_leaves_the_other_untouched(two_accounts):
    _, database, loader = two_accounts
    for account in ("eu", "us"):
        loader.partition(_key(account, "2026-10-05"))
    eu_sql = (
        f"select id, amount, status, _dlt_load_id from billing.charges "
        f"where {ACCOUNT_COLUMN} = 'eu' order by id"
    )
    eu_before = query(database, eu_sql)
    for day in ("2026-10-05", "2026-10-06", "2026-10-07"):
        loader.partition(_key("us", day))
    assert query(database, eu_sql) == eu_before
    [(us_rows,)] = query(
        database, f"select count(*) from billing.charges where {ACCOUNT_COLUMN} = 'us'"
    )
    assert us_rows > 0


def test_strict_isolation_writes_each_account_to_its_own_schema(
    sandbox_factory, tmp_path, monkeypatch, instance
):
    sandbox = sandbox_factory(accounts=2)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    folder = _billing_with_accounts(tmp_path / "providers", isolation="dataset")
    loader = Loader(load_providers(folder), instance)
    for account in ("eu", "us"):
        loader.partition(_key(account, "2026-10-05"))
    schemas = {
        row[0]
        for row in query(
            database,
            "select distinct table_schema from information_schema.tables "
            "where table_name = 'charges' and table_schema not like '%_staging'",
        )
    }
    assert schemas == {"billing_eu", "billing_us"}


def test_staging_and_marts_carry_the_account(two_accounts, monkeypatch, tmp_path):
    _, database, loader = two_accounts
    monkeypatch.setenv("PAYMENTS_EXPORT_DIR", str(tmp_path / "exports"))
    for account in ("eu", "us"):
        loader.partition(_key(account, "2026-10-05"))
    others = [s for s in load_providers() if s.name != "billing"]
    Loader(others, loader.instance).partition("2026-10-05")
    Loader(others, loader.instance).snapshots()
    specs = [*loader.specs, *others]
    dg.materialize(
        [*staging_assets(specs, "duckdb"), *mart_assets("duckdb")],
        resources=build_resources(specs, os.environ),
        instance=loader.instance,
    )
    [(rows, keys, accounts)] = query(
        database,
        "select count(*), count(distinct (account, payment_key)), count(distinct account) "
        "from marts.fct_payments where provider = 'billing'",
    )
    assert rows == keys and accounts == 2
    [(shared,)] = query(
        database,
        "select count(*) from marts.fct_payments a join marts.fct_payments b "
        "on a.payment_key = b.payment_key and a.account = 'eu' and b.account = 'us'",
    )
    assert shared > 0, "equal ids in two accounts stay two payments"
    assert {
        row[0]
        for row in query(
            database, "select distinct account from marts.daily_revenue where provider = 'gateway'"
        )
    } == {"default"}


def test_a_single_account_provider_behaves_as_before():
    billing = next(s for s in load_providers() if s.name == "billing")
    [windowed] = [a for a in ingest_assets([billing], "duckdb")]
    assert isinstance(windowed.partitions_def, dg.TimeWindowPartitionsDefinition)
    assert billing.view("charges").primary_key == ("id",)
    assert billing.account_names == ("default",)


def test_checks_of_a_dataset_isolated_provider_read_its_own_schemas(
    sandbox_factory, tmp_path, monkeypatch, instance
):
    """Each account's rows live in `billing_eu` / `billing_us`: the checks read those (not
    `billing`, where they would find no table and pass), and a duplicate in one fails."""
    sandbox = sandbox_factory(accounts=2)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    folder = _billing_with_accounts(tmp_path / "providers", isolation="dataset")
    checked = CheckedLoader(Loader(load_providers(folder), instance))
    for account in ("eu", "us"):
        assert checked.partition(_key(account, "2026-10-05")).success
    execute(
        database,
        "insert into billing_us.charges select * from billing_us.charges order by id limit 1",
    )
    result = checked.partition(_key("eu", "2026-10-06"))
    unique = evaluations(result)[("billing/charges", "primary_key_unique")]
    assert not unique.passed
    assert "billing_us:" in unique.description and "billing_eu:" in unique.description
    assert unique.metadata["datasets"].value == ["billing_eu", "billing_us"]
    assert unique.metadata["billing_us.duplicated_keys"].value == 1
    assert unique.metadata["billing_eu.duplicated_keys"].value == 0


def test_a_check_that_cannot_see_its_table_fails(two_accounts, instance):
    """A load counted rows in `billing.charges`; if the table is gone, the checks fail."""
    _, database, loader = two_accounts
    checked = CheckedLoader(loader)
    assert checked.partition(_key("eu", "2026-10-05")).success
    execute(database, "drop table billing.charges")
    result = checked.checks_only(
        dg.AssetCheckKey(dg.AssetKey(["billing", "charges"]), "primary_key_unique")
    )
    unique = evaluations(result)[("billing/charges", "primary_key_unique")]
    assert not unique.passed and "is not in the warehouse" in unique.description
