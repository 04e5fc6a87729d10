"""What a provider answers on a bad minute: a maintenance page or an empty body is waited out with
the provider's backoff, a refusal is explained in the provider's own words, and no secret it
echoes reaches the run's error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from requests import Response
from requests.structures import CaseInsensitiveDict

from payments_assets.sandbox.credentials import SECRETS
from payments_assets.sources.provider_reason import MAX_REASON_CHARS, provider_reason

from .source_fixtures import write_providers
from .test_ingest import failure_message
from .warehouse_fixtures import Loader, query, rows_in_sandbox

ALL_DAYS = ("2026-10-01", "2026-10-30")
RETRIES = 3
QUICK_RETRIES = {"max_retries": RETRIES, "backoff_factor": 0.05, "max_retry_delay": 1}
CHARGES = "/billing/v1/charges"


@pytest.fixture
def quick_specs(tmp_path: Path):
    """Every provider, retrying 3 times after 0.05, 0.1, 0.2 s: the shipped policy, faster."""
    return write_providers(tmp_path / "quick_providers", QUICK_RETRIES)


def _billing_counts(database: Path, specs) -> dict[str, tuple[int, int]]:
    [billing] = [spec for spec in specs if spec.name == "billing"]
    counts = {}
    for view in billing.windowed:
        [key] = view.primary_key
        [(rows, distinct)] = query(
            database, f'select count(*), count(distinct "{key}") from billing."{view.name}"'
        )
        counts[f"billing/{view.name}"] = (rows, distinct)
    return counts


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["html", "empty_body"])
def test_maintenance_page_twice_then_json_lands_exactly(
    sandbox, warehouse_path, instance, quick_specs, kind
):
    billing = [spec for spec in quick_specs if spec.name == "billing"]
    sandbox.reset_stats()
    sandbox.inject_fault(CHARGES, kind, count=2)
    try:
        result = Loader(billing, instance).partition_range(*ALL_DAYS)
    finally:
        sandbox.clear_faults()

    assert result.success
    assert sandbox.stats()["faults"][kind] == 2, "both maintenance answers were served"
    expected = {
        name: counts
        for name, counts in rows_in_sandbox(sandbox, billing, 200).items()
        if name in _billing_counts(warehouse_path, billing)
    }
    assert _billing_counts(warehouse_path, billing) == expected


@pytest.mark.timeout(90)
def test_maintenance_page_without_end_fails_clearly_within_the_retry_budget(
    sandbox, warehouse_path, instance, quick_specs
):
    billing = [spec for spec in quick_specs if spec.name == "billing"]
    sandbox.reset_stats()
    sandbox.inject_fault(CHARGES, "html")
    started = time.monotonic()
    try:
        result = Loader(billing, instance).partition("2026-10-05", raise_on_error=False)
    finally:
        sandbox.clear_faults()
    elapsed = time.monotonic() - started

    assert not result.success
    message = failure_message(result)
    assert f"billing/charges: GET {CHARGES}: expected JSON, got text/html" in message
    assert "4000 0566 5566 5556" not in message, "the page's card number is masked"
    assert sandbox.stats()["requests"][CHARGES] == RETRIES + 1, "one try and the retry budget"
    assert elapsed < 30


PROVIDER_PATHS = {
    "billing": "/billing/v1/invoices",  # API key in the query string
    "direct_debit": "/direct_debit/v1/mandates",  # bearer token
    "commerce": "/commerce/v1/products",  # HTTP basic (a snapshot: unpartitioned)
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("provider", sorted(PROVIDER_PATHS))
def test_provider_reason_of_a_400_is_in_the_run_error_without_the_secret_it_echoes(
    sandbox, warehouse_path, instance, quick_specs, provider
):
    path = PROVIDER_PATHS[provider]
    loader = Loader([spec for spec in quick_specs if spec.name == provider], instance)
    sandbox.inject_fault(path, "invalid_request")
    try:
        if provider == "commerce":
            result = loader.snapshots(raise_on_error=False)
        else:
            result = loader.partition("2026-10-05", raise_on_error=False)
    finally:
        sandbox.clear_faults()

    assert not result.success
    message = failure_message(result)
    assert f"GET {path} answered HTTP 400." in message
    assert (
        'The provider said: "This property cannot be expanded (customer). You may want to try '
        "expanding 'data.customer' instead. Request made with"
    ) in message
    assert not [secret for secret in SECRETS if secret in message]
    assert "Bearer dd_" not in message and "Basic c2" not in message


def _answer(body: bytes, content_type: str = "application/json", status: int = 400) -> Response:
    response = Response()
    response.status_code, response._content = status, body
    response.headers = CaseInsensitiveDict({"Content-Type": content_type})
    return response


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (  # Stripe
            b'{"error": {"type": "invalid_request_error", "message": "No such customer: cus_1"}}',
            "application/json",
            "No such customer: cus_1",
        ),
        (  # GoCardless: the summary and each field's message
            b'{"error": {"message": "Validation failed", "type": "validation_failed", '
            b'"errors": [{"field": "amount", "message": "must be positive"}]}}',
            "application/json",
            "Validation failed; must be positive",
        ),
        (  # OAuth2
            b'{"error": "invalid_client", "error_description": "Unknown client"}',
            "application/json",
            "Unknown client",
        ),
        (  # RFC 7807
            b'{"title": "Bad Request", "detail": "limit must be <= 100"}',
            "application/problem+json",
            "Bad Request: limit must be <= 100",
        ),
        (b'{"error": {"type": "api_error"}}', "application/json", "api_error"),
        (b"upstream timed out\n", "text/plain", "upstream timed out"),
        (b"<html><body>Bad gateway</body></html>", "text/html", None),
        (b"", "application/json", None),
    ],
)
def test_provider_reason_found_in_the_usual_shapes(body, content_type, reason):
    assert provider_reason(_answer(body, content_type)) == reason


def test_provider_reason_is_short_and_redacted():
    said = (
        "Invalid key sk_live_4eC39HqLyjWDarjtT1zdp7dc for account; webhook whsec_abc123def456; "
        "header Bearer eyJhbGciOi.payload.sig; card 4242 4242 4242 4242; " + "x" * 400
    )
    reason = provider_reason(_answer(f'{{"message": "{said}"}}'.encode()))
    assert reason is not None and len(reason) <= MAX_REASON_CHARS
    for secret in ("sk_live_4eC39", "whsec_abc", "eyJhbGciOi", "4242 4242 4242 4242"):
        assert secret not in reason
    assert reason.startswith(
        "Invalid key *** for account; webhook ***; header ***; card 4242 42** **** 4242;"
    )
