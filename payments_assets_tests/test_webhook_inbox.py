"""The webhook inbox in PostgreSQL (the production profile): the receiver, the sensor and the
runs share nothing but the database — durable, idempotent on event id, ordered for the cursor.

Against the session's throwaway PostgreSQL server (postgres_fixtures), each test in its own
database; the receiver is a real `payments-webhooks` process.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest
import requests

from payments_assets.resources import webhook_store
from payments_assets.sandbox.credentials import WEBHOOK_SECRETS
from payments_assets.webhooks.postgres_store import PostgresWebhookStore
from payments_assets.webhooks.process import running_receiver
from payments_assets.webhooks.store import DEFAULT_WEBHOOK_DB, WebhookStore, open_store

from .webhook_fixtures import evaluate_sensor, make_event, post_event, requested_partitions

PAN = "4242424242424242"


def test_the_location_picks_the_engine(tmp_path):
    assert isinstance(open_store(tmp_path / "inbox.sqlite"), WebhookStore)
    postgres = open_store("postgresql://loader:s3cret@db.internal:5432/payments")
    assert isinstance(postgres, PostgresWebhookStore)
    assert "s3cret" not in postgres.where and "db.internal:5432/payments" in postgres.where


def test_the_production_profile_keeps_the_inbox_in_the_warehouse_database():
    url = "postgresql://loader:s3cret@db.internal/payments"
    production = {"PAYMENTS_DESTINATION": "postgres", "PAYMENTS_POSTGRES_URL": url}
    assert webhook_store(production).path == dg.EnvVar("PAYMENTS_POSTGRES_URL")
    own = {**production, "PAYMENTS_WEBHOOK_DB": "postgresql://hooks@db.internal/inbox"}
    assert webhook_store(own).path == dg.EnvVar("PAYMENTS_WEBHOOK_DB")
    assert webhook_store({}).path == DEFAULT_WEBHOOK_DB


@pytest.fixture
def inbox_url(postgres_server) -> str:
    return postgres_server.url(postgres_server.create_database("inbox"))


@pytest.mark.e2e
def test_postgres_inbox_stores_each_event_once_durably_and_in_order(inbox_url, instance, tmp_path):
    store = open_store(inbox_url)
    assert store.count() == 0 and store.after("billing", 0) == []  # a reader never creates it
    events = [
        make_event("billing", "charges", {"id": f"ch_{n}", "updated_at": "2026-10-03T10:00:00Z"})
        for n in range(40)
    ]
    card = make_event(
        "gateway",
        "transactions",
        {"id": "txn_7", "card": {"number": PAN}, "updated_at": "2026-10-04T10:00:00Z"},
    )
    before = set(os.listdir(tmp_path))
    with running_receiver(inbox_url, WEBHOOK_SECRETS) as receiver:
        with requests.Session() as session, ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda e: post_event(receiver, "billing", e, session=session), events * 2)
            )
        assert post_event(receiver, "gateway", card).status_code == 200
        output = receiver.output()
    assert [a.status_code for a in answers] == [200] * 80
    assert sorted(a.json()["duplicate"] for a in answers) == [False] * 40 + [True] * 40
    assert "s3cret" not in output and PAN not in output

    # The receiver is gone: what it answered is in the database, once, in commit order.
    stored = open_store(inbox_url).after("billing", 0)
    assert sorted(s.event_id for s in stored) == sorted(e["id"] for e in events)
    assert [s.row_id for s in stored] == sorted(s.row_id for s in stored)
    [masked] = open_store(inbox_url).after("gateway", 0)
    assert masked.event.object["card"]["number"] == "424242******4242"
    assert set(os.listdir(tmp_path)) == before, "the inbox wrote no local file"

    # The sensor reads the same table: one run request for the day the charges touched.
    tick = evaluate_sensor(instance, "billing_webhook_sensor", inbox_url)
    assert requested_partitions(tick) == {"2026-10-03": {"billing/charges"}}
    assert tick.cursor == str(open_store(inbox_url).last_row_id("billing"))


@pytest.mark.e2e
def test_two_receivers_on_one_inbox_commit_row_ids_in_order(inbox_url):
    """Replicas behind one load balancer: the sensor's `row_id > cursor` must never skip one."""
    events = [
        make_event(
            "commerce", "charges", {"charge_id": f"g{n}", "occurred": "2026-10-08T01:00:00Z"}
        )
        for n in range(60)
    ]
    with (
        running_receiver(inbox_url, WEBHOOK_SECRETS) as first,
        running_receiver(inbox_url, WEBHOOK_SECRETS) as second,
        ThreadPoolExecutor(8) as pool,
    ):
        seen: list[int] = []

        def post(index: int) -> int:
            receiver = first if index % 2 else second
            answer = post_event(receiver, "commerce", events[index])
            seen.append(open_store(inbox_url).last_row_id("commerce"))
            return answer.status_code

        started = time.monotonic()
        assert set(pool.map(post, range(len(events)))) == {200}
        assert time.monotonic() - started < 30
    stored = open_store(inbox_url).after("commerce", 0)
    assert len(stored) == 60
    # Every id a reader saw as the newest had all smaller ids already committed.
    ids = [s.row_id for s in stored]
    assert ids == sorted(ids)
    assert all(cursor in ids or cursor == 0 for cursor in seen)
