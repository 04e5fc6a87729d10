"""Webhooks from the sandbox: a signed event for every touched record, delivered like a provider.

One thread delivers in order to `<--webhook-url>/<provider>`, re-signing and retrying on 5xx,
429 and connection errors with backoff. Faults on demand — duplicates, out-of-order deliveries,
forged signatures — make a receiver prove it is idempotent, order-free and checks signatures.
"""

from __future__ import annotations

import json
import queue
import random
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests

from payments_assets.sandbox.credentials import WEBHOOK_SCHEMES, WEBHOOK_SECRETS
from payments_assets.sandbox.stats import Stats
from payments_assets.webhooks.signing import SCHEMES

FAULTS: tuple[str, ...] = ("duplicate", "out_of_order", "forged")
"""duplicate: delivered twice; out_of_order: held back until the next event has gone (at most
`HOLD_SECONDS`); forged: a tampered copy signed with a wrong secret goes first."""

FORGED_SECRET = "whsec_not_the_providers_secret"
HOLD_SECONDS = 1.0
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.2
_STOP = object()


class WebhookFaultError(ValueError):
    """A `--webhook-faults` value or a touch's `webhook` field that cannot be honoured."""


def parse_fault_rates(text: str | None) -> dict[str, float]:
    """`"duplicate=0.1,forged=0.05"` → each fault's chance per event (missing ones are 0)."""
    rates = dict.fromkeys(FAULTS, 0.0)
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        if name not in rates:
            raise WebhookFaultError(f"unknown webhook fault {name!r}; expected {', '.join(FAULTS)}")
        try:
            rates[name] = float(value)
        except ValueError:
            raise WebhookFaultError(f"webhook fault {name} needs a rate, e.g. {name}=0.1") from None
        if not 0 <= rates[name] <= 1:
            raise WebhookFaultError(f"webhook fault {name}: rate must be between 0 and 1")
    return rates


def parse_touch_faults(value: Any) -> dict[str, bool]:
    """A touch's `"webhook": {"duplicate": true, ...}`; faults not named are drawn at random."""
    if value is None:
        return {}
    if not isinstance(value, dict) or any(
        name not in FAULTS or not isinstance(flag, bool) for name, flag in value.items()
    ):
        raise WebhookFaultError(f'"webhook" must map some of {", ".join(FAULTS)} to true/false')
    return value


@dataclass(frozen=True)
class Delivery:
    provider: str
    event_id: str
    body: bytes
    forged: bool = False
    held: bool = False

    def overtakes(self, other: Delivery) -> bool:
        """A genuine delivery of another event releases a held one behind it."""
        return not self.forged and self.event_id != other.event_id


class WebhookEmitter:
    """Queues events and delivers them from one thread, counting outcomes in `stats.webhooks`."""

    def __init__(self, url: str, rates: Mapping[str, float], seed: int, stats: Stats) -> None:
        self.url = url.rstrip("/")
        self.rates = rates
        self.stats = stats
        self._random = random.Random(seed)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="webhook-emitter", daemon=True)
        self._thread.start()

    def emit(
        self,
        provider: str,
        resource: str,
        record: Mapping[str, Any],
        faults: Mapping[str, bool],
        action: str = "updated",
    ) -> str:
        """Queue a `<resource>.<action>` event for `record`; returns the event id."""
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "type": f"{resource}.{action}",
            "provider": provider,
            "created": int(time.time()),
            "data": {"object": dict(record)},
        }
        return self.send_event(provider, event, faults)

    def send_event(
        self, provider: str, event: Mapping[str, Any], faults: Mapping[str, bool]
    ) -> str:
        """Queue `event` as it stands (a Stripe event, as the events resource lists it)."""
        event_id, record = str(event["id"]), event["data"]["object"]
        chosen = {
            name: faults.get(name, self._random.random() < self.rates[name]) for name in FAULTS
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        if chosen["forged"]:
            tampered = {**event, "data": {"object": {**record, "status": "forged"}}}
            forged = json.dumps(tampered, separators=(",", ":")).encode()
            self._put(Delivery(provider, event_id, forged, forged=True))
        self._put(Delivery(provider, event_id, body, held=chosen["out_of_order"]))
        if chosen["duplicate"]:
            self._put(Delivery(provider, event_id, body))
        return event_id

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (bounded by `timeout`), then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _put(self, delivery: Delivery) -> None:
        self.stats.webhooks["emitted"] += 1
        self._queue.put(delivery)

    def _run(self) -> None:
        session = requests.Session()
        held: list[tuple[float, Delivery]] = []
        while True:
            wait = max(0.0, held[0][0] - time.monotonic()) if held else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if isinstance(item, Delivery) and item.held:
                held.append((time.monotonic() + HOLD_SECONDS, replace(item, held=False)))
                continue
            if isinstance(item, Delivery):
                self._deliver(session, item)
            now, waiting = time.monotonic(), []
            for due, delivery in held:
                if (
                    item is _STOP
                    or due <= now
                    or (isinstance(item, Delivery) and item.overtakes(delivery))
                ):
                    self._deliver(session, delivery)
                else:
                    waiting.append((due, delivery))
            held = waiting
            if item is _STOP:
                return

    def _deliver(self, session: requests.Session, delivery: Delivery) -> None:
        url = f"{self.url}/{delivery.provider}"
        secret = FORGED_SECRET if delivery.forged else WEBHOOK_SECRETS[delivery.provider]
        for attempt in range(MAX_ATTEMPTS):
            scheme = SCHEMES[WEBHOOK_SCHEMES.get(delivery.provider, "payments")]
            headers = {"Content-Type": "application/json", **scheme.headers(secret, delivery.body)}
            try:
                status = session.post(
                    url, data=delivery.body, headers=headers, timeout=10
                ).status_code
            except requests.RequestException:
                status = None
            if status is not None and 200 <= status < 300:
                self.stats.webhooks["delivered"] += 1
                return
            if status is not None and status < 500 and status != 429:
                self.stats.webhooks["refused"] += 1
                if not delivery.forged:
                    print(f"webhook to {url} refused with {status}", flush=True)
                return
            if attempt + 1 < MAX_ATTEMPTS:
                self.stats.webhooks["retried"] += 1
                time.sleep(BACKOFF_SECONDS * 2**attempt)
        self.stats.webhooks["failed"] += 1
        print(f"webhook to {url} failed after {MAX_ATTEMPTS} attempts", flush=True)
