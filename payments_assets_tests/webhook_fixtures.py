"""Fixtures for webhook tests: a running receiver with the sandbox's secrets, and signed posts.

Loaded from conftest through `pytest_plugins`. The receiver is a real `payments-webhooks`
process on a loopback port, as a provider would meet it.
"""

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from payments_assets.resources import WebhookEventStore
from payments_assets.sandbox.credentials import WEBHOOK_SECRETS
from payments_assets.webhooks.process import ReceiverHandle, running_receiver
from payments_assets.webhooks.signing import SCHEMES, SIGNATURE_HEADER, sign
from payments_assets.webhooks.store import WebhookStore


@pytest.fixture(scope="session")
def receiver_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webhooks") / "webhooks.sqlite"


@pytest.fixture(scope="session")
def receiver(receiver_db: Path) -> Iterator[ReceiverHandle]:
    """`payments-webhooks` for all four providers, signing secrets as the sandbox's."""
    with running_receiver(receiver_db, WEBHOOK_SECRETS) as handle:
        yield handle


@pytest.fixture(scope="session")
def receiver_store(receiver_db: Path) -> WebhookStore:
    return WebhookStore(receiver_db)


def make_event(provider: str, resource: str, record: dict[str, Any], **fields: Any) -> dict:
    """An `<resource>.updated` event about `record`, with a fresh id unless one is given."""
    return {
        "id": f"evt_{secrets.token_hex(8)}",
        "type": f"{resource}.updated",
        "provider": provider,
        "created": int(time.time()),
        "data": {"object": record},
        **fields,
    }


def post_event(
    receiver: ReceiverHandle,
    provider: str,
    event: dict[str, Any],
    secret: str | None = None,
    timestamp: int | None = None,
    session: Any = requests,
    scheme: str | None = None,
) -> requests.Response:
    """POST `event` signed with `secret` (default: the provider's) at `timestamp` (now), by the
    project's own scheme or by a provider's (`scheme="stripe"`) as its YAML declares."""
    body = json.dumps(event).encode()
    key = secret or WEBHOOK_SECRETS[provider]
    if scheme is None:
        signed = {SIGNATURE_HEADER: sign(key, body, timestamp)}
    else:
        signed = SCHEMES[scheme].headers(key, body, timestamp)
    return session.post(
        receiver.url(provider),
        data=body,
        headers={**signed, "Content-Type": "application/json"},
        timeout=10,
    )


def evaluate_sensor(
    instance: dg.DagsterInstance, sensor_name: str, store_path: Path, cursor: str | None = None
) -> Any:
    """One tick of a sensor of the code location, reading the webhook store at `store_path`."""
    from payments_assets.definitions import defs

    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources={"webhook_store": WebhookEventStore(path=str(store_path))},
    ) as context:
        return defs.resolve_sensor_def(sensor_name).evaluate_tick(context)


def requested_partitions(result: Any) -> dict[str, set[str]]:
    """Partition key → the assets a sensor tick's run requests for it."""
    return {
        r.partition_key: {"/".join(key.path) for key in r.asset_selection}
        for r in result.run_requests
    }
