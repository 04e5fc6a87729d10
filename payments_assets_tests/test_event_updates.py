"""Objects that change after creation reach the warehouse through the provider's event feed.

The sandbox's ledger is Stripe-shaped: its lists filter on `created` only, charges are refunded,
disputes move on and subscriptions are cancelled after creation, and each change is an event
carrying the object's whole new state. The truth every test compares with is the sandbox's own
lists, read over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from payments_assets.assets.event_updates import VERSIONS
from payments_assets.assets.marts import mart_assets, marts_for
from payments_assets.assets.staging import staging_assets
from payments_assets.automation.jobs import provider_jobs
from payments_assets.automation.sensors.webhooks import webhook_sensor
from payments_assets.card_numbers import mask_text
from payments_assets.resources import Warehouse, WebhookEventStore
from payments_assets.sandbox.credentials import WEBHOOK_SECRETS
from payments_assets.sources.event_updates import EventStates
from payments_assets.specs import ProviderSpecError
from payments_assets.webhooks.process import running_receiver
from payments_assets.webhooks.store import WebhookStore

from .source_fixtures import ledger_spec
from .test_marts import major
from .warehouse_fixtures import Loader, point_env_at, query

SMALL = {"records": 150, "days": 10}
FIRST, LAST_CREATED, CHANGE_DAY = "2026-10-01", "2026-10-05", "2026-10-08"


def api_list(sandbox: Any, resource: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a ledger list, walked with `starting_after` as Stripe's clients do."""
    env, found, after = sandbox.env, [], None
    while True:
        page = requests.get(
            f"{env['PAYMENTS_LEDGER_BASE_URL']}/v1/{resource}",
            params={"limit": 100, **params, **({"starting_after": after} if after else {})},
            headers={"Authorization": f"Bearer {env['PAYMENTS_LEDGER_SECRET_KEY']}"},
            timeout=10,
        ).json()
        found.extend(page["data"])
        if not page["has_more"]:
            return found
        after = page["data"][-1]["id"]


def epoch(day: str, hour: int = 12) -> str:
    return f"{day}T{hour:02d}:00:00Z"


class Ledger:
    """A ledger sandbox, a warehouse, and the partition runs a schedule or backfill makes."""

    def __init__(self, sandbox: Any, database: Path, loader: Loader) -> None:
        self.sandbox, self.database, self.loader = sandbox, database, loader

    def load(self, first: str, last: str | None = None) -> dg.ExecuteInProcessResult:
        last = last or first
        if first == last:
            result = self.loader.partition(first, ["ledger"])
        else:
            result = self.loader.partition_range(first, last, ["ledger"])
        assert result.success
        return result

    def rows(self, resource: str, columns: str) -> dict[str, tuple[Any, ...]]:
        found = query(self.database, f'select id, {columns} from ledger."{resource}"')
        return {row[0]: row[1:] for row in found}

    def refunded(self) -> dict[str, int]:
        return {key: value[0] for key, value in self.rows("charges", "amount_refunded").items()}

    def truth(self, resource: str, field: str, loaded: set[str]) -> dict[str, Any]:
        """The sandbox's current value of `field` for the records the warehouse holds."""
        return {r["id"]: r[field] for r in api_list(self.sandbox, resource) if r["id"] in loaded}

    def succeeded_charges(self) -> list[str]:
        """Charges loaded by the first windows, succeeded and not refunded yet."""
        before = _ts(f"{LAST_CREATED}T00:00:00Z")
        listed = api_list(self.sandbox, "charges")
        return [
            c["id"]
            for c in listed
            if c["status"] == "succeeded" and not c["amount_refunded"] and c["created"] < before
        ]

    def refund(self, charge: str, at: str) -> dict[str, Any]:
        return self.sandbox.touch("ledger", "charges", charge, updated_at=at)


def _day(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).date().isoformat()


def _ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@pytest.fixture
def ledger(sandbox_factory, tmp_path, monkeypatch, instance) -> Iterator[Ledger]:
    sandbox = sandbox_factory(**SMALL)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    spec = ledger_spec(tmp_path / "providers")
    yield Ledger(sandbox, database, Loader([spec], instance))


@pytest.mark.timeout(240)
def test_event_updates_bring_refunds_and_cancellations_made_after_creation(ledger, tmp_path):
    ledger.load(FIRST, LAST_CREATED)
    charges = ledger.succeeded_charges()[:5]
    subscriptions = [
        s["id"]
        for s in api_list(ledger.sandbox, "subscriptions")
        if s["status"] != "canceled" and s["created"] < _ts(f"{LAST_CREATED}T00:00:00Z")
    ][:3]
    assert len(charges) == 5 and len(subscriptions) == 3
    for charge in charges:
        ledger.refund(charge, epoch(CHANGE_DAY))
    for subscription in subscriptions:
        ledger.sandbox.touch("ledger", "subscriptions", subscription, updated_at=epoch(CHANGE_DAY))
    stale = ledger.refunded()
    assert all(stale[c] == 0 for c in charges), "the list loads saw no refund yet"

    result = ledger.load(CHANGE_DAY)  # the schedule's run of the day the changes happened

    refunded = ledger.refunded()
    truth = ledger.truth("charges", "amount_refunded", set(refunded))
    assert refunded == truth
    assert sum(refunded.values()) == sum(truth.values()) > sum(stale.values())
    assert all(refunded[c] > 0 for c in charges)
    statuses = {k: v[0] for k, v in ledger.rows("subscriptions", "status").items()}
    assert statuses == ledger.truth("subscriptions", "status", set(statuses))
    assert all(statuses[s] == "canceled" for s in subscriptions)
    [events] = [
        m
        for m in result.asset_materializations_for_node("ledger__windowed")
        if m.asset_key == dg.AssetKey(["ledger", "events"])
    ]
    updated = events.metadata["records_updated_by_resource"].value
    assert updated["charges"] >= 5 and updated["subscriptions"] >= 3
    descriptions = query(ledger.database, "select description from ledger.charges")
    assert all(mask_text(text) == text for (text,) in descriptions if text), "cards masked"

    # Staging reads the updated state.
    staged = dg.materialize(
        staging_assets(ledger.loader.specs, "duckdb"),
        selection=[dg.AssetKey(["staging", "ledger__charges"])],
        resources={"warehouse": Warehouse(duckdb_path=str(ledger.database))},
        instance=ledger.loader.instance,
    )
    assert staged.success
    staged_sum = "select sum(amount_refunded_minor) from staging.ledger__charges"
    [(minor,)] = query(ledger.database, staged_sum)
    assert minor == sum(truth.values())


@pytest.mark.timeout(240)
def test_event_updates_keep_the_newest_state_whatever_order_windows_run_in(ledger):
    ledger.load(FIRST, LAST_CREATED)
    twice, same_day = ledger.succeeded_charges()[:2]
    ledger.refund(twice, epoch("2026-10-06"))  # part of it...
    ledger.refund(twice, epoch(CHANGE_DAY))  # ...then the rest, in a later window
    ledger.refund(same_day, epoch(CHANGE_DAY, 9))  # two changes in one window
    ledger.refund(same_day, epoch(CHANGE_DAY, 15))
    full = ledger.truth("charges", "amount", {twice, same_day})

    ledger.load(CHANGE_DAY)
    assert {k: ledger.refunded()[k] for k in full} == full, "the newest of one window"
    state = "id, amount, amount_refunded, refunded, status, description, created"
    before = query(ledger.database, f"select {state} from ledger.charges order by id")

    ledger.load("2026-10-06")  # an older window's partial refund, run afterwards
    ledger.load(FIRST)  # and a rerun of the creation day: creation events are older still
    assert {k: ledger.refunded()[k] for k in full} == full, "no older event rolls state back"
    ledger.load(FIRST, "2026-10-09")  # a backfill of everything, in one run
    ledger.load(CHANGE_DAY)  # and the same window again
    after = query(ledger.database, f"select {state} from ledger.charges order by id")
    known = {row[0] for row in before}
    assert [row for row in after if row[0] in known] == before, "reruns change nothing"
    assert ledger.refunded() == ledger.truth("charges", "amount_refunded", set(ledger.refunded()))
    [(versions,)] = query(ledger.database, f"select count(*) from ledger.{VERSIONS}")
    [(distinct,)] = query(
        ledger.database, f"select count(distinct (resource, record_id)) from ledger.{VERSIONS}"
    )
    assert versions == distinct, "one version per record"


@pytest.mark.timeout(240)
def test_refunds_made_after_creation_count_on_their_own_days_in_the_marts(ledger):
    """A charge refunded in part on one day and in full on another: two refund objects, each
    loaded by its own day's window, each subtracted from that day's revenue."""
    ledger.load(FIRST, LAST_CREATED)
    charge = ledger.succeeded_charges()[0]
    ledger.refund(charge, epoch("2026-10-06"))
    ledger.refund(charge, epoch(CHANGE_DAY))
    ledger.load("2026-10-06", CHANGE_DAY)

    marts = ["fct_payments", "fct_refunds", "daily_revenue"]
    built = dg.materialize(
        [
            *staging_assets(ledger.loader.specs, "duckdb"),
            *mart_assets("duckdb", marts_for(ledger.loader.specs)),
        ],
        selection=[
            *(dg.AssetKey(["staging", f"ledger__{name}"]) for name in ("charges", "refunds")),
            *(dg.AssetKey(["marts", name]) for name in marts),
        ],
        resources={"warehouse": Warehouse(duckdb_path=str(ledger.database))},
        instance=ledger.loader.instance,
    )
    assert built.success
    loaded_until = _ts("2026-10-09T00:00:00Z")  # the windows run: the 1st to the 8th
    refunds = [r for r in api_list(ledger.sandbox, "refunds") if r["created"] < loaded_until]
    [amount] = [c["amount"] for c in api_list(ledger.sandbox, "charges") if c["id"] == charge]
    mine = [(_day(r["created"]), r["amount"]) for r in refunds if r["charge"] == charge]
    assert [day for day, _ in mine] == ["2026-10-06", CHANGE_DAY]
    assert sum(minor for _, minor in mine) == amount
    rows = query(
        ledger.database,
        "select refund_id, cast(refund_date as varchar), amount_minor from marts.fct_refunds",
    )
    assert sorted(rows) == sorted((r["id"], _day(r["created"]), r["amount"]) for r in refunds)
    by_day: dict[tuple[str, str], int] = {}
    for r in refunds:
        key = (_day(r["created"]), r["currency"].upper())
        by_day[key] = by_day.get(key, 0) + r["amount"]
    revenue = query(
        ledger.database,
        "select cast(revenue_date as varchar), currency, refunded_amount, "
        "gross_amount - refunded_amount = net_amount from marts.daily_revenue",
    )
    refunded = {(day, cur): back for day, cur, back, _ in revenue if back}
    assert {key: major(minor, key[1]) for key, minor in by_day.items()} == refunded
    assert all(balanced for *_, balanced in revenue)


@pytest.mark.timeout(120)
def test_event_updates_keep_the_newest_state_across_out_of_order_pages(ledger, tmp_path):
    """The same events, pages walked backwards: the state kept is the newest, not the last."""
    [charge] = ledger.succeeded_charges()[:1]
    ledger.refund(charge, epoch("2026-10-06"))
    ledger.refund(charge, epoch(CHANGE_DAY))
    events = _api_events(ledger.sandbox)
    pages = [events[i : i + 7] for i in range(0, len(events), 7)]
    forward, backward = EventStates(ledger.loader.specs[0]), EventStates(ledger.loader.specs[0])
    list(forward.tap(iter(pages)))
    list(backward.tap(iter(reversed([list(reversed(page)) for page in pages]))))
    assert forward.newest() == backward.newest()
    [state] = [s for s in forward.newest()["charges"] if s.record_id == charge]
    assert state.object["amount_refunded"] == state.object["amount"]


def _api_events(sandbox: Any) -> list[dict[str, Any]]:
    env, found = sandbox.env, []
    url: str | None = f"{env['PAYMENTS_LEDGER_BASE_URL']}/v1/events?limit=100"
    while url:
        page = requests.get(
            url,
            headers={"Authorization": f"Bearer {env['PAYMENTS_LEDGER_SECRET_KEY']}"},
            timeout=10,
        ).json()
        found.extend(page["data"])
        url = page.get("next")
    return found


def _with_charge_deletes(mode: str) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        [charges] = [r for r in raw["resources"] if r["name"] == "charges"]
        charges["deletes"] = {
            "mode": mode,
            "events": {"resource": "events", "types": ["charges.deleted"]},
        }

    return edit


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_event_updates_never_bring_a_deleted_record_back(
    sandbox_factory, tmp_path, monkeypatch, instance, mode
):
    sandbox = sandbox_factory(**SMALL)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    spec = ledger_spec(tmp_path / "providers", _with_charge_deletes(mode))
    ledger = Ledger(sandbox, database, Loader([spec], instance))
    ledger.load(FIRST, LAST_CREATED)
    [victim] = ledger.succeeded_charges()[:1]
    ledger.refund(victim, epoch("2026-10-06"))  # an update...
    sandbox.delete("ledger", "charges", victim, deleted_at=epoch(CHANGE_DAY))  # ...then gone

    ledger.load(CHANGE_DAY)  # the deletion's window
    ledger.load("2026-10-06")  # the older update's window, afterwards
    ledger.load(FIRST, "2026-10-09")  # and every window again
    found = query(database, f"select _deleted_at from ledger.charges where id = '{victim}'")
    if mode == "soft":
        assert len(found) == 1 and found[0][0] is not None
    else:
        assert found == []


# The dialect: `event_feed:` is checked when the provider loads --------------------------------

BAD_FEEDS = [
    ({"resource": "nosuch"}, "event_feed.resource: 'nosuch' is not a windowed resource"),
    ({"updates": {"charge.*": "nosuch"}}, "event_feed.updates.charge.*: 'nosuch' is not another"),
    ({"updates": {"charge*": "charges"}}, "event_feed.updates: event types are written"),
    ({"updates": {"balance.*": "balance"}}, "event_feed.updates.balance.*: balance: updates merge"),
    ({"colour": "red"}, "event_feed.colour: unknown key"),
]


@pytest.mark.parametrize(("change", "message"), BAD_FEEDS)
def test_event_updates_feed_errors_name_the_file_and_key(tmp_path, change, message):
    def edit(raw: dict[str, Any]) -> None:
        raw["event_feed"].update(change)

    with pytest.raises(ProviderSpecError) as raised:
        ledger_spec(tmp_path, edit)
    assert str(raised.value).startswith(f"{tmp_path / 'ledger.yaml'}: {message}")


def test_event_updates_map_each_type_to_the_longest_matching_pattern(tmp_path):
    feed = ledger_spec(tmp_path).event_feed
    assert feed is not None
    assert feed.target_of("charge.refunded") == "charges"
    assert feed.target_of("charge.dispute.updated") == "disputes"
    assert feed.target_of("customer.subscription.deleted") == "subscriptions"
    assert feed.target_of("customer.created") is None
    assert feed.target_of("charges.deleted") is None, "a prefix ends at a dot"


# Webhooks carry updates too --------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_event_updates_from_a_stripe_signed_webhook_land_with_the_sensors_run(
    sandbox_factory, tmp_path, monkeypatch, instance
):
    folder = tmp_path / "providers"
    spec = ledger_spec(folder)
    monkeypatch.setenv("PAYMENTS_PROVIDERS_DIR", str(folder))  # the receiver reads its scheme
    db = tmp_path / "webhooks.sqlite"  # where `point_env_at` points the loads' store
    with running_receiver(db, {"ledger": WEBHOOK_SECRETS["ledger"]}) as receiver:
        sandbox = sandbox_factory(**SMALL, webhook_url=receiver.base_url)
        database = point_env_at(monkeypatch, sandbox, tmp_path)
        ledger = Ledger(sandbox, database, Loader([spec], instance))
        ledger.load(FIRST, LAST_CREATED)
        [charge] = ledger.succeeded_charges()[:1]
        refunded = ledger.refund(charge, epoch(CHANGE_DAY))
        assert sandbox.wait_for_webhooks()["delivered"] == 1
    [stored] = WebhookStore(db).after("ledger", 0)
    assert (stored.type, stored.payload["data"]["object"]) == ("charge.refunded", refunded)

    job = provider_jobs(spec).windowed
    sensor = webhook_sensor(spec, job)
    store = WebhookEventStore(path=str(db))
    with dg.build_sensor_context(
        instance=instance,
        definitions=dg.Definitions(
            assets=ledger.loader.assets,
            jobs=[job],
            sensors=[sensor],
            resources=ledger.loader.resources(),
        ),
        resources={"webhook_store": store},
    ) as context:
        [request] = sensor.evaluate_tick(context).run_requests
    created_day = datetime.fromtimestamp(refunded["created"], tz=timezone.utc).date().isoformat()
    assert request.partition_key == created_day, "the charge's own window, not the event's"
    assert request.asset_selection == [dg.AssetKey(["ledger", "charges"])]
    run = dg.materialize(
        ledger.loader._select(None, partitioned=True),
        partition_key=request.partition_key,
        selection=request.asset_selection,
        resources=ledger.loader.resources(),
        instance=instance,
        tags=request.tags,
    )
    assert run.success
    assert ledger.refunded()[charge] == refunded["amount_refunded"] > 0
    versions = query(
        database, f"select event_id from ledger.{VERSIONS} where record_id = '{charge}'"
    )
    assert versions == [(stored.event_id,)], "the webhook's own state was merged"

    ledger.load(CHANGE_DAY)  # the feed's next run reads the same event from the API: agrees
    assert ledger.refunded()[charge] == refunded["amount_refunded"]
