"""Webhook signature schemes, checked against the providers' documented definitions.

Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`, the hex HMAC-SHA256 of `"{t}.{body}"`
with the endpoint secret, refused when `t` is more than the tolerance (300 s) from now; several
`v1` while a secret rolls. GoCardless: `Webhook-Signature`, the hex HMAC-SHA256 of the raw body.
The expected values below are computed from those definitions with `hmac` directly, not with the
project's signing code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from payments_assets.webhooks.process import ReceiverHandle, running_receiver
from payments_assets.webhooks.signing import SCHEMES, SignatureError
from payments_assets.webhooks.store import WebhookStore

STRIPE_SECRET, OLD_STRIPE_SECRET = "whsec_test_stripe_new", "whsec_test_stripe_old"
GOCARDLESS_SECRET = "gc_webhook_secret_test"
BODY = (
    b'{"id":"evt_1","object":"event","type":"charge.refunded","created":1791000000,'
    b'"data":{"object":{"id":"ch_1","amount":500,"amount_refunded":500}}}'
)
PROVIDERS = Path(__file__).parents[1] / "payments_assets" / "providers"
LEDGER_YAML = Path(__file__).parents[1] / "docs" / "providers" / "ledger.yaml"


def stripe_v1(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def gocardless_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stripe_verify(header: str | None, body: bytes = BODY, secrets=(STRIPE_SECRET,)) -> None:
    SCHEMES["stripe"].verify(secrets, header, body, 300)


def test_webhook_signature_stripe_accepts_its_documented_signature():
    now = int(time.time())
    stripe_verify(f"t={now},v1={stripe_v1(STRIPE_SECRET, now, BODY)}")
    # Stripe also sends a `v0` (test-mode) entry; only `v1` is the scheme's.
    stripe_verify(f"t={now},v1={stripe_v1(STRIPE_SECRET, now, BODY)},v0=deadbeef")
    assert SCHEMES["stripe"].headers(STRIPE_SECRET, BODY, now) == {
        "Stripe-Signature": f"t={now},v1={stripe_v1(STRIPE_SECRET, now, BODY)}"
    }


@pytest.mark.parametrize(
    "header",
    [
        None,
        "v1=abc",  # no timestamp
        "t=not-a-time,v1=abc",
        "t={now},v0={good}",  # only the legacy scheme
        "t={now},v1={wrong_secret}",
        "t={now},v1={other_body}",
        "t={stale},v1={stale_good}",  # a captured delivery re-sent 6 minutes later
        "t={future},v1={future_good}",
    ],
)
def test_webhook_signature_stripe_refuses_forged_altered_and_stale(header):
    now = int(time.time())
    stale, future = now - 360, now + 360
    values = {
        "now": now,
        "stale": stale,
        "future": future,
        "good": stripe_v1(STRIPE_SECRET, now, BODY),
        "wrong_secret": stripe_v1("whsec_guess", now, BODY),
        "other_body": stripe_v1(STRIPE_SECRET, now, BODY.replace(b"500}", b"5}")),
        "stale_good": stripe_v1(STRIPE_SECRET, stale, BODY),
        "future_good": stripe_v1(STRIPE_SECRET, future, BODY),
    }
    with pytest.raises(SignatureError):
        stripe_verify(header.format(**values) if header else None)


def test_webhook_signature_stripe_passes_during_a_secret_rotation():
    """While rolling, Stripe signs with both secrets (two `v1`); either configured one passes."""
    now = int(time.time())
    header = (
        f"t={now},v1={stripe_v1(OLD_STRIPE_SECRET, now, BODY)},"
        f"v1={stripe_v1(STRIPE_SECRET, now, BODY)}"
    )
    stripe_verify(header, secrets=(STRIPE_SECRET,))
    stripe_verify(header, secrets=(OLD_STRIPE_SECRET,))
    only_old = f"t={now},v1={stripe_v1(OLD_STRIPE_SECRET, now, BODY)}"
    stripe_verify(only_old, secrets=(STRIPE_SECRET, OLD_STRIPE_SECRET))  # ours lists both
    with pytest.raises(SignatureError):
        stripe_verify(only_old, secrets=(STRIPE_SECRET,))  # the old one is retired


def test_webhook_signature_gocardless_is_the_hmac_of_the_body():
    scheme = SCHEMES["gocardless"]
    good = gocardless_signature(GOCARDLESS_SECRET, BODY)
    scheme.verify((GOCARDLESS_SECRET,), good, BODY, 300)
    assert scheme.headers(GOCARDLESS_SECRET, BODY) == {"Webhook-Signature": good}
    for header in (None, "", good[:-1], gocardless_signature("guess", BODY)):
        with pytest.raises(SignatureError):
            scheme.verify((GOCARDLESS_SECRET,), header, BODY, 300)
    with pytest.raises(SignatureError):
        scheme.verify((GOCARDLESS_SECRET,), good, BODY + b" ", 300)


# Through the receiver process, each provider verified by the scheme its YAML names --------------


@pytest.fixture
def signed_receiver(tmp_path, monkeypatch) -> Iterator[tuple[ReceiverHandle, WebhookStore]]:
    """The receiver, with the ledger (Stripe's scheme) and direct_debit declared as GoCardless."""
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "ledger.yaml").write_text(LEDGER_YAML.read_text())
    debit = yaml.safe_load((PROVIDERS / "direct_debit.yaml").read_text())
    debit["webhooks"] = {"signature": "gocardless"}
    (folder / "direct_debit.yaml").write_text(yaml.safe_dump(debit))
    monkeypatch.setenv("PAYMENTS_PROVIDERS_DIR", str(folder))
    db = tmp_path / "webhooks.sqlite"
    secrets = {"ledger": STRIPE_SECRET, "direct_debit": GOCARDLESS_SECRET}
    with running_receiver(db, secrets) as handle:
        yield handle, WebhookStore(db)


def _event(event_id: str) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "charge.refunded",
            "created": int(time.time()),
            "data": {"object": {"id": "ch_000001", "amount": 900, "amount_refunded": 900}},
        }
    ).encode()


def _post(handle: ReceiverHandle, provider: str, body: bytes, headers: dict[str, str]):
    return requests.post(
        handle.url(provider),
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )


@pytest.mark.timeout(60)
def test_webhook_signature_forged_stale_and_replayed_stripe_events_are_stored_nowhere(
    signed_receiver,
):
    handle, store = signed_receiver
    body, now = _event("evt_signed_1"), int(time.time())
    good = {"Stripe-Signature": f"t={now},v1={stripe_v1(STRIPE_SECRET, now, body)}"}
    assert _post(handle, "ledger", body, good).json() == {"received": True, "duplicate": False}

    forged = {"Stripe-Signature": f"t={now},v1={stripe_v1('whsec_guess', now, body)}"}
    stale_at = now - 301
    stale = {"Stripe-Signature": f"t={stale_at},v1={stripe_v1(STRIPE_SECRET, stale_at, body)}"}
    ours = {"X-Payments-Signature": good["Stripe-Signature"]}  # the right value, wrong header
    other = _event("evt_signed_2")
    for headers, sent in ((forged, other), (stale, other), (ours, other)):
        refused = _post(handle, "ledger", sent, headers)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_signature"
    replayed = _post(handle, "ledger", body, good)  # the same delivery again, still in time
    assert replayed.json() == {"received": True, "duplicate": True}
    assert [e.event_id for e in store.after("ledger", 0)] == ["evt_signed_1"]


@pytest.mark.timeout(60)
def test_webhook_signature_gocardless_deliveries_are_verified_by_their_body(signed_receiver):
    handle, store = signed_receiver
    body = json.dumps(
        {
            "id": "EV0001",
            "type": "payments.confirmed",
            "created": int(time.time()),
            "data": {"object": {"id": "PM000001"}},
        }
    ).encode()
    good = {"Webhook-Signature": gocardless_signature(GOCARDLESS_SECRET, body)}
    assert _post(handle, "direct_debit", body, good).status_code == 200
    forged = {"Webhook-Signature": gocardless_signature("guess", body)}
    refused = _post(handle, "direct_debit", body.replace(b"EV0001", b"EV0002"), forged)
    assert refused.status_code == 498, "GoCardless documents 498 for an invalid signature"
    assert _post(handle, "direct_debit", body, good).json()["duplicate"] is True
    assert [e.event_id for e in store.after("direct_debit", 0)] == ["EV0001"]


# A provider without webhooks ---------------------------------------------------------------------


def _ledger_without_webhooks(folder: Path, **extra: object) -> Path:
    raw = yaml.safe_load(LEDGER_YAML.read_text())
    raw["webhooks"] = {"enabled": False, **extra}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ledger.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_webhooks_disabled_provider_gets_no_route_sensor_or_events_asset(tmp_path, monkeypatch):
    """`webhooks: {enabled: false}`: nothing that could only ever wait for a delivery."""
    from payments_assets.assets.webhook_events import webhook_event_assets
    from payments_assets.automation.jobs import ingest_jobs
    from payments_assets.automation.sensors.webhook_events import webhook_events_sensors
    from payments_assets.automation.sensors.webhooks import webhook_sensors
    from payments_assets.specs import load_provider, load_providers

    folder = tmp_path / "providers"
    ledger = load_provider(_ledger_without_webhooks(folder))
    billing = load_provider(PROVIDERS / "billing.yaml")
    specs = [billing, ledger]
    sensors = [
        *webhook_sensors(specs, ingest_jobs(specs)),
        *webhook_events_sensors(specs),
    ]
    assert sorted(sensor.name for sensor in sensors) == [
        "billing_webhook_events_sensor",
        "billing_webhook_sensor",
    ]
    keys = {key for asset in webhook_event_assets(specs, "duckdb") for key in asset.keys}
    assert {key.path[0] for key in keys} == {"billing"}

    monkeypatch.setenv("PAYMENTS_PROVIDERS_DIR", str(folder))
    assert "ledger" in {spec.name for spec in load_providers()}
    db = tmp_path / "webhooks.sqlite"
    with running_receiver(db, {"ledger": STRIPE_SECRET, "billing": "whsec_billing"}) as handle:
        body = _event("evt_disabled")
        answer = _post(handle, "ledger", body, SCHEMES["stripe"].headers(STRIPE_SECRET, body))
        assert answer.status_code == 404, answer.text
    assert WebhookStore(db).after("ledger", 0) == []


def test_webhooks_disabled_provider_cannot_expect_deletes_from_webhooks(tmp_path):
    from payments_assets.specs import load_provider
    from payments_assets.specs.loading import ProviderSpecError

    raw = yaml.safe_load((PROVIDERS / "billing.yaml").read_text())
    raw["webhooks"] = {"enabled": False}
    path = tmp_path / "billing.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ProviderSpecError) as error:
        load_provider(path)
    message = str(error.value)
    assert "billing.yaml" in message and "deletes" in message and "webhooks" in message
    assert "customers.deleted" in message
