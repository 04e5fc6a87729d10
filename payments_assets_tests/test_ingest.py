"""Raw assets against the sandbox: every resource lands, merged, masked, and failures are loud."""

from pathlib import Path

import pytest

from payments_assets.specs import load_providers

from .warehouse_fixtures import query, rows_in_sandbox

RECORDS = 200  # the session sandbox's --records
ALL_DAYS = ("2026-10-01", "2026-10-30")


def failure_message(result) -> str:
    """The step failure's message with its causes, as the UI shows it."""
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error, parts = failure.step_failure_data.error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def _table_counts(database: Path) -> dict[str, tuple[int, int]]:
    counts = {}
    for spec in load_providers():
        for resource in spec.views:
            [key] = resource.primary_key
            rows, distinct = query(
                database,
                f'select count(*), count(distinct "{key}") from {spec.name}."{resource.name}"',
            )[0]
            counts[f"{spec.name}/{resource.name}"] = (rows, distinct)
    return counts


def test_every_resource_lands_exactly_once_after_two_runs(sandbox, loader, warehouse_path):
    for _ in range(2):
        loader.partition_range(*ALL_DAYS)
        loader.snapshots()
    assert _table_counts(warehouse_path) == rows_in_sandbox(sandbox, load_providers(), RECORDS)


def test_commerce_rows_are_keyed_by_their_own_ids(loader, warehouse_path):
    loader.partition("2026-10-04", providers=["commerce"])
    columns = {
        table: {row[0] for row in query(warehouse_path, f"describe commerce.{table}")}
        for table in ("charges", "customers", "subscriptions")
    }
    assert "charge_id" in columns["charges"] and "id" not in columns["charges"]
    assert "customer_id" in columns["customers"]
    assert "subscription_id" in columns["subscriptions"]
    [(rows, distinct)] = query(
        warehouse_path, "select count(*), count(distinct charge_id) from commerce.charges"
    )
    assert rows == distinct > 0


def test_card_numbers_are_masked_in_the_destination(loader, warehouse_path):
    loader.partition_range(*ALL_DAYS, providers=["gateway"])
    numbers = [
        row[0]
        for row in query(
            warehouse_path,
            "select card__number from gateway.transactions where card__number is not null",
        )
    ]
    assert numbers, "the sandbox serves card numbers on some transactions"
    for number in numbers:
        assert number[:6].isdigit() and number[-4:].isdigit(), number
        assert set(number[6:-4]) == {"*"}, number
    refs = [
        row[0]
        for row in query(warehouse_path, "select metadata__order_ref from gateway.transactions")
    ]
    assert all(ref.isdigit() and len(ref) == 16 for ref in refs), "non-PAN digits stay intact"


def test_epoch_and_iso_cursors_are_typed_as_timestamps(loader, warehouse_path):
    loader.partition("2026-10-04", providers=["commerce"])
    types = dict(
        query(
            warehouse_path,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'commerce' and table_name in ('customers', 'charges') "
            "and column_name in ('first_seen', 'occurred', 'amount')",
        )
    )
    assert types["first_seen"].startswith("TIMESTAMP")
    assert types["occurred"].startswith("TIMESTAMP")
    assert types["amount"] == "BIGINT"


def test_a_window_without_records_says_so_in_the_metadata(loader):
    result = loader.partition("2026-11-20", providers=["billing"])
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        assert metadata["rows_loaded"].value == 0
        assert "no records" in metadata["note"].value


def test_materialization_carries_schema_and_row_counts(loader):
    result = loader.partition("2026-10-05", providers=["direct_debit"])
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(events) == {
        f"direct_debit/{r}" for r in ("payments", "refunds", "mandates", "payouts")
    }
    payments = events["direct_debit/payments"]
    columns = {column.name for column in payments["dagster/column_schema"].schema.columns}
    assert {"id", "amount", "currency", "updated_at"} <= columns
    assert payments["rows_loaded"].value == payments["dagster/row_count"].value > 0


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("html", "expected JSON"),
        ("missing_selector", "data selector 'data' matches nothing"),
        ("truncated_json", "not valid JSON"),
        ("status:404", "HTTP 404"),
        ("status:403", "HTTP 403"),
    ],
)
def test_malformed_responses_fail_the_run_with_provider_resource_and_path(
    sandbox, loader, fault, expected
):
    sandbox.inject_fault("/billing/v1/invoices", fault)
    try:
        result = loader.partition("2026-10-05", providers=["billing"], raise_on_error=False)
    finally:
        sandbox.clear_faults()
    assert not result.success
    message = failure_message(result)
    assert "billing/invoices" in message and "/billing/v1/invoices" in message
    assert expected in message
    assert "api_key" not in message


def test_missing_secret_variable_fails_the_run_naming_file_key_and_variable(
    loader, monkeypatch, sandbox
):
    """Unset when definitions load (a second terminal, CI): the run fails before any request
    with the provider file, the YAML key and the variable, not a Dagster config traceback."""
    monkeypatch.delenv("PAYMENTS_BILLING_API_KEY")
    before = sandbox.stats()["requests"]
    result = loader.partition("2026-10-05", providers=["billing"], raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert (
        "billing: PAYMENTS_BILLING_API_KEY is not set in this environment "
        "(payments_assets/providers/billing.yaml: client.auth.api_key names "
        "PAYMENTS_BILLING_API_KEY)"
    ) in message
    assert "DagsterInvalidConfigError" not in message
    after = sandbox.stats()["requests"]
    billing = {path: n for path, n in after.items() if path.startswith("/billing")}
    assert billing == {path: n for path, n in before.items() if path.startswith("/billing")}


def test_wrong_credentials_fail_with_a_clear_message(loader, monkeypatch):
    monkeypatch.setenv("PAYMENTS_DIRECT_DEBIT_ACCESS_TOKEN", "dd_wrong_token_0000")
    result = loader.partition("2026-10-05", providers=["direct_debit"], raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "HTTP 401" in message and "credentials" in message
    assert "dd_wrong_token_0000" not in message
