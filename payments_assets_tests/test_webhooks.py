"""Webhooks: signed events are stored once, forged or replayed ones nowhere, and the sensor turns
them into runs of exactly the partitions they touch — landing the latest version within a tick."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest
import requests

from payments_assets.assets.webhook_events import webhook_event_assets
from payments_assets.definitions import defs
from payments_assets.resources import Warehouse, WebhookEventStore
from payments_assets.sandbox import SandboxOptions
from payments_assets.specs import load_providers
from payments_assets.webhooks.events import WebhookEvent, parse_event
from payments_assets.webhooks.store import WebhookStore

from .warehouse_fixtures import Loader, billing_charges_updated_on, point_env_at, query
from .webhook_fixtures import evaluate_sensor, make_event, post_event, requested_partitions

PAN = "4242424242424242"
CHARGE = {"id": "ch_000042", "status": "succeeded", "updated_at": "2026-10-03T10:00:00Z"}


def _stored_ids(store: WebhookStore, provider: str) -> list[str]:
    return [stored.event_id for stored in store.after(provider, 0)]


def test_forged_signature_is_refused_and_stored_nowhere(receiver, receiver_store):
    event = make_event("billing", "charges", CHARGE)
    forged = post_event(receiver, "billing", event, secret="whsec_guessed")
    tampered = make_event("billing", "charges", {**CHARGE, "status": "refunded"}, id=event["id"])
    signed_other_body = requests.post(
        receiver.url("billing"),
        json=tampered,
        headers={"X-Payments-Signature": forged.request.headers["X-Payments-Signature"]},
        timeout=10,
    )
    unsigned = requests.post(receiver.url("billing"), json=event, timeout=10)

    assert [r.status_code for r in (forged, signed_other_body, unsigned)] == [401, 401, 401]
    assert event["id"] not in _stored_ids(receiver_store, "billing")
    assert f"{event['id']}" not in receiver.output(), "a refused event is not even logged by id"


def test_replayed_timestamp_is_refused_and_stored_nowhere(receiver, receiver_store):
    now = int(time.time())
    replayed = make_event("billing", "charges", CHARGE)
    from_the_future = make_event("billing", "charges", CHARGE)
    recent = make_event("billing", "charges", CHARGE)

    assert post_event(receiver, "billing", replayed, timestamp=now - 301).status_code == 401
    assert post_event(receiver, "billing", from_the_future, timestamp=now + 301).status_code == 401
    assert post_event(receiver, "billing", recent, timestamp=now - 200).status_code == 200
    stored = _stored_ids(receiver_store, "billing")
    assert replayed["id"] not in stored and from_the_future["id"] not in stored
    assert recent["id"] in stored


def test_a_duplicate_event_is_stored_once(receiver, receiver_store):
    event = make_event("billing", "charges", CHARGE)
    answers = [post_event(receiver, "billing", event) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    assert _stored_ids(receiver_store, "billing").count(event["id"]) == 1


def test_card_numbers_and_secrets_reach_neither_the_store_nor_the_log(receiver, receiver_store):
    record = {"id": "txn_000007", "card": {"number": PAN}, "updated_at": "2026-10-03T10:00:00Z"}
    event = make_event("gateway", "transactions", record)
    assert post_event(receiver, "gateway", event).status_code == 200
    [stored] = [
        s for s in receiver_store.after("gateway", 0) if s.event.object["id"] == "txn_000007"
    ]
    assert stored.event.object["card"]["number"] == "424242******4242"
    assert PAN not in receiver.output() and PAN not in str(stored.payload)
    assert "whsec_" not in receiver.output()


def test_a_signed_event_without_a_record_is_refused(receiver, receiver_store):
    answer = post_event(receiver, "billing", {"id": "evt_no_record", "type": "charges.updated"})
    assert answer.status_code == 400 and "data.object" in answer.json()["message"]
    assert "evt_no_record" not in _stored_ids(receiver_store, "billing")


# The sensor ------------------------------------------------------------------------------------


def _parsed(event: dict) -> WebhookEvent:
    return parse_event(event["provider"], json.dumps(event).encode())


def test_sensor_requests_exactly_the_affected_partitions(instance, tmp_path):
    store = WebhookStore(tmp_path / "webhooks.sqlite")
    moment = datetime.now(timezone.utc)
    now, today = moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d")
    billing = [
        make_event("billing", "charges", {"id": "ch_1", "updated_at": "2026-10-03T00:00:00Z"}),
        make_event("billing", "charges", {"id": "ch_1", "updated_at": "2026-10-03T23:59:59Z"}),
        make_event("billing", "invoices", {"id": "in_1", "updated_at": "2026-10-03T12:00:00Z"}),
        make_event("billing", "customers", {"id": "cus_1", "updated_at": "2026-10-05T08:00:00Z"}),
        make_event("billing", "customers", {"id": "cus_2", "updated_at": "2026-10-05T09:00:00Z"}),
        make_event("billing", "widgets", {"id": "w_1", "updated_at": "2026-10-06T00:00:00Z"}),
        make_event("billing", "refunds", {"id": "re_1", "updated_at": now}),  # today, in progress
        make_event("billing", "refunds", {"id": "re_2", "updated_at": "2026-09-15T00:00:00Z"}),
        make_event("billing", "refunds", {"id": "re_3"}),  # no update time
    ]
    commerce = [
        make_event("commerce", "customers", {"customer_id": "c1", "first_seen": 1791331200}),
        make_event("commerce", "charges", {"charge_id": "g1", "occurred": "2026-10-08T01:00:00Z"}),
        make_event("commerce", "products", {"product_id": "p1"}),  # a snapshot
    ]
    store.store([_parsed(event) for event in billing + commerce], time.time())

    first = evaluate_sensor(instance, "billing_webhook_sensor", store.path)
    assert requested_partitions(first) == {
        "2026-10-03": {"billing/charges", "billing/invoices"},
        "2026-10-05": {"billing/customers"},
        today: {"billing/refunds"},  # the window in progress exists: minute-old data loads now
    }
    assert {r.job_name for r in first.run_requests} <= {None, "billing_windowed_job"}
    assert len({r.run_key for r in first.run_requests}) == 3
    assert first.cursor == str(store.last_row_id("billing"))

    again = evaluate_sensor(instance, "billing_webhook_sensor", store.path, cursor=first.cursor)
    assert again.run_requests == [] and again.cursor in (None, first.cursor)

    commerce_tick = evaluate_sensor(instance, "commerce_webhook_sensor", store.path)
    assert requested_partitions(commerce_tick) == {
        "2026-10-07": {"commerce/customers"},  # first_seen, epoch seconds
        "2026-10-08": {"commerce/charges"},  # occurred, ISO
    }


def test_sensors_are_running_by_default_for_every_windowed_provider():
    """Both webhook sensors of every provider: the one that runs the touched partitions and the
    one that records the deliveries as `<provider>/webhook_events`."""
    sensors = {s.name: s.default_status for s in defs.sensors if "webhook" in s.name}
    assert sensors == {
        f"{spec.name}_{kind}_sensor": dg.DefaultSensorStatus.RUNNING
        for spec in load_providers()
        for kind in ("webhook", "webhook_events")
    }


# End to end on loopback ------------------------------------------------------------------------


def _materialize(loader: Loader, partition_key: str, selection: list, tags=None) -> None:
    result = dg.materialize(
        loader._select(None, partitioned=True),
        partition_key=partition_key,
        selection=selection,
        resources=loader.resources(),
        instance=loader.instance,
        tags=tags,
    )
    assert result.success


def _run(loader: Loader, request: dg.RunRequest) -> None:
    """Execute a sensor's run request in-process, as the run launcher would."""
    _materialize(loader, request.partition_key, request.asset_selection, request.tags)


def _charge(database: Path, charge_id: str) -> list[tuple]:
    return query(
        database, f"select status, updated_at from billing.charges where id = '{charge_id}'"
    )


def _a_charge_updated_on(sandbox, day: str) -> str:
    return billing_charges_updated_on(sandbox, day)[0]["id"]


@pytest.fixture
def billing_loader(instance: dg.DagsterInstance) -> Loader:
    return Loader([s for s in load_providers() if s.name == "billing"], instance)


def test_a_record_updated_in_the_sandbox_lands_after_the_sensors_run(
    sandbox_factory, receiver, receiver_store, billing_loader, tmp_path, monkeypatch
):
    sandbox = sandbox_factory(webhook_url=receiver.base_url)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    charge = _a_charge_updated_on(sandbox, "2026-10-03")
    _materialize(billing_loader, "2026-10-03", [dg.AssetKey(["billing", "charges"])])
    [(old_status, _)] = _charge(database, charge)
    cursor = str(receiver_store.last_row_id("billing"))

    touched = sandbox.touch("billing", "charges", charge, "2026-10-20T12:00:00Z")
    assert sandbox.wait_for_webhooks()["delivered"] == 1
    result = evaluate_sensor(
        billing_loader.instance, "billing_webhook_sensor", receiver_store.path, cursor
    )
    [request] = result.run_requests
    assert (request.partition_key, requested_partitions(result)) == (
        "2026-10-20",
        {"2026-10-20": {"billing/charges"}},
    )
    _run(billing_loader, request)

    assert touched["status"] != old_status
    assert _charge(database, charge) == [
        (touched["status"], datetime(2026, 10, 20, 12, tzinfo=timezone.utc))
    ]
    assert len(billing_loader.instance.get_runs()) == 2, "the first load and the sensor's run"


def test_duplicated_out_of_order_and_forged_deliveries_still_land_the_latest_version(
    sandbox_factory, receiver, receiver_store, billing_loader, tmp_path, monkeypatch
):
    sandbox = sandbox_factory(webhook_url=receiver.base_url)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    charge = _a_charge_updated_on(sandbox, "2026-10-05")
    cursor = receiver_store.last_row_id("billing")

    sandbox.touch("billing", "charges", charge, "2026-10-18T08:00:00Z", {"out_of_order": True})
    newer = sandbox.touch(
        "billing", "charges", charge, "2026-10-22T08:00:00Z", {"forged": True, "duplicate": True}
    )
    counts = sandbox.wait_for_webhooks()
    assert (counts["delivered"], counts["refused"]) == (3, 1), counts

    stored = receiver_store.after("billing", cursor)
    assert [s.event.object["updated_at"] for s in stored] == [
        "2026-10-22T08:00:00Z",  # the newer event overtook the older one
        "2026-10-18T08:00:00Z",
    ]
    assert all(s.event.object["status"] != "forged" for s in stored)
    result = evaluate_sensor(
        billing_loader.instance, "billing_webhook_sensor", receiver_store.path, str(cursor)
    )
    assert requested_partitions(result) == {
        "2026-10-22": {"billing/charges"},
        "2026-10-18": {"billing/charges"},
    }
    for request in result.run_requests:  # in arrival order: the older window runs last
        _run(billing_loader, request)
    assert _charge(database, charge) == [
        (newer["status"], datetime(2026, 10, 22, 8, tzinfo=timezone.utc))
    ]


def test_stored_events_are_an_asset_in_the_warehouse(instance, receiver, receiver_store, tmp_path):
    [asset] = [
        a
        for a in webhook_event_assets(load_providers(), "duckdb")
        if a.key == dg.AssetKey(["billing", "webhook_events"])
    ]
    database = tmp_path / "warehouse.duckdb"
    resources = {
        "warehouse": Warehouse(duckdb_path=str(database), workdir=str(tmp_path / "dlt")),
        "webhook_store": WebhookEventStore(path=str(receiver_store.path)),
    }
    dg.materialize([asset], resources=resources, instance=instance)
    later = make_event("billing", "charges", {**CHARGE, "card": {"number": PAN}})
    assert post_event(receiver, "billing", later).status_code == 200
    result = dg.materialize([asset], resources=resources, instance=instance)

    [(rows, distinct)] = query(
        database, "select count(*), count(distinct event_id) from billing.webhook_events"
    )
    assert rows == distinct == receiver_store.count("billing")
    assert result.asset_materializations_for_node("billing__webhook_events")[0].metadata[
        "rows_loaded"
    ] == dg.IntMetadataValue(1)
    [(payload,)] = query(
        database, f"select payload from billing.webhook_events where event_id = '{later['id']}'"
    )
    assert json.loads(payload)["data"]["object"]["card"]["number"] == "424242******4242"


def test_sandbox_fault_rates_apply_to_every_touch(sandbox_factory, receiver, receiver_store):
    sandbox = sandbox_factory(webhook_url=receiver.base_url, webhook_faults="duplicate=1,forged=1")
    cursor = receiver_store.last_row_id("direct_debit")
    for number in (1, 2, 3):
        sandbox.touch("direct_debit", "mandates", f"MD{number:06d}", "2026-10-12T00:00:00Z")
    counts = sandbox.wait_for_webhooks()
    assert (counts["emitted"], counts["delivered"], counts["refused"]) == (9, 6, 3)
    stored = receiver_store.after("direct_debit", cursor)
    assert sorted(s.event.object["id"] for s in stored) == ["MD000001", "MD000002", "MD000003"]


def test_unknown_sandbox_webhook_faults_are_refused_up_front():
    with pytest.raises(ValueError, match="unknown webhook fault 'sometimes'"):
        SandboxOptions(webhook_faults="sometimes=0.5")


# Load ------------------------------------------------------------------------------------------

BURST = 3000
BURST_SECONDS = 30


def test_a_burst_on_loopback_loses_no_event_and_stores_no_duplicate(receiver, receiver_store):
    events = [
        make_event(
            "direct_debit",
            "payments",
            {"id": f"PM{i:06d}", "updated_at": "2026-10-09T10:00:00Z"},
            id=f"evt_burst_{i:05d}",
        )
        for i in range(BURST)
    ]
    deliveries = events + events[::10]  # every tenth event arrives twice
    sessions = threading.local()

    def deliver(event: dict) -> int:
        if not hasattr(sessions, "http"):
            sessions.http = requests.Session()
        return post_event(receiver, "direct_debit", event, session=sessions.http).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(deliver, deliveries))
    elapsed = time.perf_counter() - started

    burst = [i for i in _stored_ids(receiver_store, "direct_debit") if i.startswith("evt_burst_")]
    print(
        f"{len(deliveries)} deliveries in {elapsed:.2f} s: {len(deliveries) / elapsed:.0f} events/s"
    )
    assert statuses == [200] * len(deliveries)
    assert sorted(burst) == sorted(e["id"] for e in events), "every event stored exactly once"
    assert elapsed < BURST_SECONDS
