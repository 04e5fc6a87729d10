"""Bad days: a flaky, rate-limited API, a token revoked mid-run, malformed and endless answers
(killed runs: test_killed_runs.py). Every row lands exactly once or the run fails with a clear
message, in bounded time, and no secret or card number is written anywhere."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from dagster._serdes import serialize_value

from payments_assets.sources import Window
from payments_assets.specs import ProviderSpec, load_providers, parse_provider

from .reliability_fixtures import duckdb_text, files_text, leaks, secret_values
from .test_ingest import failure_message
from .warehouse_fixtures import Loader, gateway_token, point_env_at, query, rows_in_sandbox

ALL_DAYS = ("2026-10-01", "2026-10-30")
OCTOBER = Window(
    datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 10, 31, tzinfo=timezone.utc)
)


def _spec(specs: list[ProviderSpec], name: str) -> ProviderSpec:
    return next(spec for spec in specs if spec.name == name)


def _counts(
    database: Path, specs: list[ProviderSpec], windowed_only: bool = False
) -> dict[str, tuple[int, int]]:
    """(rows, distinct keys) of every resource table (or of the windowed ones)."""
    counts = {}
    for spec in specs:
        for resource in spec.views:
            if windowed_only and not resource.windowed:
                continue
            [key] = resource.primary_key
            [(rows, distinct)] = query(
                database,
                f'select count(*), count(distinct "{key}") from {spec.name}."{resource.name}"',
            )
            counts[f"{spec.name}/{resource.name}"] = (rows, distinct)
    return counts


@pytest.mark.timeout(150)
def test_flaky_rate_limited_api_lands_every_row_exactly_once(
    sandbox_factory, patient_specs, instance, tmp_path, monkeypatch
):
    # About 70 data requests: 30% answered 5xx, and beyond 8 a second per provider 429.
    sandbox = sandbox_factory(records=300, fail_rate=0.3, rate_limit=8)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    loader = Loader(patient_specs, instance)

    loader.partition_range(*ALL_DAYS)
    loader.snapshots()

    assert _counts(database, patient_specs) == rows_in_sandbox(sandbox, patient_specs, 300)
    faults = sandbox.stats()["faults"]
    assert sum(faults.get(code, 0) for code in ("500", "502", "503", "504")) >= 5, faults
    assert faults.get("429", 0) >= 1, faults


def _when_requests_reach(sandbox, count: int, action, deadline: float = 60) -> threading.Thread:
    """Run `action()` once the sandbox has answered `count` data requests (polled, bounded)."""

    def watch() -> None:
        stop = time.monotonic() + deadline
        while time.monotonic() < stop:
            if sandbox.stats()["requests_total"] >= count:
                action()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


@pytest.mark.timeout(90)
def test_token_expiring_mid_run_is_refreshed(sandbox_factory, instance, tmp_path, monkeypatch):
    # Tokens live one second and the API answers slowly: tokens run out while pages are read,
    # and halfway through the provider revokes every token at once (a 401 to recover from).
    sandbox = sandbox_factory(records=1500, latency_ms=100, token_ttl=1)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    gateway = _spec(load_providers(), "gateway")
    loader = Loader([gateway], instance)
    revoke = _when_requests_reach(
        sandbox, 8, lambda: sandbox.inject_fault("/gateway", "expire_tokens")
    )

    result = loader.partition_range(*ALL_DAYS)
    revoke.join(timeout=60)

    assert result.success
    stats = sandbox.stats()
    assert stats["auth_failures"] >= 1, "the revocation happened mid-run"
    assert stats["tokens_issued"] >= 3, stats
    assert _counts(database, [gateway], windowed_only=True) == {
        "gateway/transactions": (1500, 1500),
        "gateway/list_payments": (1500, 1500),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("path", "fault", "expected"),
    [
        ("/gateway/v1/transactions", "html_500", "HTTP 500"),
        ("/gateway/v1/payments", "status:503", "HTTP 503"),
        ("/direct_debit/v1/refunds", "truncated_json", "not valid JSON"),
        ("/direct_debit/v1/mandates", "html", "expected JSON"),
        ("/commerce/v1/customers", "missing_selector", "data selector 'data' matches nothing"),
        ("/commerce/v1/charges", "status:429", "HTTP 429"),
        ("/direct_debit/v1/payouts", "endless_cursor", "does not advance"),
    ],
)
def test_bad_answers_fail_the_run_clearly_on_every_provider(
    sandbox, warehouse_path, loader_for, impatient_specs, path, fault, expected
):
    provider, resource = path.split("/")[1], path.split("/")[-1]
    loader = loader_for(impatient_specs)
    sandbox.inject_fault(path, fault)
    try:
        result = loader.partition("2026-10-05", providers=[provider], raise_on_error=False)
    finally:
        sandbox.clear_faults()
    assert not result.success
    message = failure_message(result)
    assert path in message and provider in message and resource.rstrip("s") in message
    assert expected in message


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("provider", "variable", "wrong", "expected"),
    [
        ("gateway", "PAYMENTS_GATEWAY_CLIENT_SECRET", "gw_wrong_secret_0000", "client id"),
        ("billing", "PAYMENTS_BILLING_API_KEY", "bk_wrong_key_0000", "HTTP 401"),
        ("commerce", "PAYMENTS_COMMERCE_PASSWORD", "cm_wrong_password_0000", "HTTP 401"),
    ],
)
def test_refused_credentials_fail_clearly_without_echoing_them(
    warehouse_path, loader_for, impatient_specs, monkeypatch, provider, variable, wrong, expected
):
    monkeypatch.setenv(variable, wrong)
    result = loader_for(impatient_specs).partition(
        "2026-10-05", providers=[provider], raise_on_error=False
    )
    assert not result.success
    message = failure_message(result)
    assert expected in message and provider in message
    assert wrong not in message and "api_key=bk" not in message


@pytest.mark.timeout(60)
def test_an_unreachable_api_fails_without_the_key_from_its_url(
    warehouse_path, loader_for, impatient_specs, monkeypatch
):
    monkeypatch.setenv("PAYMENTS_BILLING_BASE_URL", "http://127.0.0.1:9/billing")  # discard port
    result = loader_for(impatient_specs).partition(
        "2026-10-05", providers=["billing"], raise_on_error=False
    )
    assert not result.success
    message = failure_message(result)
    assert "billing" in message and "Connection" in message
    assert os.environ["PAYMENTS_BILLING_API_KEY"] not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "must be a mapping"),
        ("- name: charges\n", "must be a mapping"),
        ("client:\n\tbase_url: x\n", "not valid YAML"),
        ("name: billing\nresources: []\n", "partitions"),
    ],
)
def test_a_broken_provider_file_is_refused_with_its_name(text, expected):
    with pytest.raises(ValueError) as refused:
        parse_provider(text, file="providers/billing.yaml", name="billing")
    assert "providers/billing.yaml" in str(refused.value)
    assert expected in str(refused.value)


def _card_numbers_served(sandbox) -> set[str]:
    """Every full card number the sandbox serves on gateway transactions."""
    env, token = sandbox.env, gateway_token(sandbox)
    numbers, cursor = set(), None
    for _ in range(100):
        response = requests.get(
            env["PAYMENTS_GATEWAY_BASE_URL"] + "/v1/transactions",
            params={"limit": 100, **({"cursor": cursor} if cursor else {})},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        numbers |= {r["card"]["number"] for r in response["data"] if r["card"].get("number")}
        if not (cursor := response["next_cursor"]):
            return numbers
    raise AssertionError("transactions did not end within 100 pages")


@pytest.mark.timeout(180)
def test_secret_never_in_logs_event_log_or_warehouse(
    sandbox_factory, patient_specs, impatient_specs, dagster_home, tmp_path, monkeypatch, capfd
):
    sandbox = sandbox_factory(records=200, fail_rate=0.1)  # retries log their URLs too
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    Loader(patient_specs, dagster_home).partition_range(*ALL_DAYS)
    failing = Loader(impatient_specs, dagster_home)
    wrong = ["bk_wrong_key_0000", "gw_wrong_secret_0000"]
    for fault, path in [
        ("html", "/billing/v1/invoices"),
        ("endless_cursor", "/gateway/v1/transactions"),
    ]:
        sandbox.inject_fault(path, fault)
        failing.partition("2026-10-05", providers=[path.split("/")[1]], raise_on_error=False)
        sandbox.clear_faults()
    for variable, value in [
        ("PAYMENTS_BILLING_API_KEY", wrong[0]),
        ("PAYMENTS_GATEWAY_CLIENT_SECRET", wrong[1]),
        ("PAYMENTS_BILLING_BASE_URL", "http://127.0.0.1:9/billing"),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(variable, value)
            provider = variable.split("_")[1].lower()
            failing.partition("2026-10-05", providers=[provider], raise_on_error=False)

    secrets, cards = secret_values(wrong), _card_numbers_served(sandbox)
    assert cards, "the sandbox serves full card numbers to mask"
    runs = dagster_home.get_runs()
    assert len(runs) == 6 and sum(run.is_failure for run in runs) == 5
    found: dict[str, list[str]] = {}
    events = "\n".join(
        serialize_value(entry) for run in runs for entry in dagster_home.all_logs(run.run_id)
    )
    assert "expected JSON" in events and "Connection" in events, "the failures were scanned"
    found["event log"] = leaks(events, secrets, cards)
    home = Path(os.environ["DAGSTER_HOME"])
    for folder in (home, tmp_path / "dlt"):
        for path, text in files_text(folder):
            if hits := leaks(text, secrets, cards):
                found[str(path.relative_to(tmp_path))] = hits
    captured = capfd.readouterr()
    found["captured output"] = leaks(captured.out + captured.err, secrets, cards)
    found["warehouse"] = leaks(duckdb_text(database), secrets, cards)
    raw_file = database.read_bytes().decode("latin-1")
    found["warehouse file"] = leaks(raw_file, secrets, cards, binary=True)
    assert {where: hits for where, hits in found.items() if hits} == {}
    assert any(home.rglob("*.err")) or any(home.rglob("*.out")), "compute logs were scanned"
