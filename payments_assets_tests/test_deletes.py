"""Deletes: a record the provider deleted is marked (soft) or gone (hard) after the next load or
webhook, leaves staging and the marts, and no reload or backfill brings it back; in every signal
form the shipped YAMLs use, against a sandbox that deletes records as each provider does."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from payments_assets.assets.deletions import LEDGER
from payments_assets.assets.marts import mart_assets
from payments_assets.assets.staging import staging_assets
from payments_assets.checks import build_freshness_checks, build_quality_checks
from payments_assets.checks.deletions import is_sudden_spike
from payments_assets.resources import Warehouse
from payments_assets.sandbox.credentials import WEBHOOK_SECRETS
from payments_assets.specs import ACCOUNT_COLUMN, ProviderSpec, load_providers
from payments_assets.webhooks.process import running_receiver

from .test_accounts import _billing_with_accounts, _key
from .trust_fixtures import evaluations
from .warehouse_fixtures import Loader, point_env_at, query
from .webhook_fixtures import evaluate_sensor, make_event, post_event, requested_partitions

PROVIDERS = Path(__file__).parents[1] / "payments_assets" / "providers"
FIRST, DELETION_DAY = "2026-10-01", "2026-10-09"
DELETED_AT = f"{DELETION_DAY}T12:00:00Z"
SMALL_SANDBOX = {"records": 60, "days": 10}


@dataclass(frozen=True)
class Form:
    """One way a provider signals a deletion, as a shipped YAML declares it."""

    provider: str
    resource: str
    key: str
    signal: str
    """How the ledger names the signal it learnt the deletion by."""
    windowed: bool = True
    only: dict[str, Any] | None = None
    """`deletes` reduced to this one signal (the shipped YAML may declare several)."""


FORMS = {
    "flag": Form(  # listed on, with `deleted: true`
        "commerce",
        "customers",
        "customer_id",
        "record",
        only={"when": {"field": "deleted", "values": [True]}},
    ),
    "status": Form(  # listed on, with `status: deleted`
        "direct_debit",
        "mandates",
        "id",
        "record",
        only={"when": {"field": "status", "values": ["deleted"]}},
    ),
    "events": Form(  # gone from the lists; billing's events resource names it
        "billing",
        "customers",
        "id",
        "event:events",
        only={"events": {"resource": "events", "types": ["customers.deleted"]}},
    ),
    "absent": Form("gateway", "balances", "id", "absent from snapshot", windowed=False),
    "webhook": Form(  # gone from the lists; a signed `customers.deleted` webhook names it
        "billing",
        "customers",
        "id",
        "webhook:customers.deleted",
        only={"webhooks": ["customers.deleted"]},
    ),
}


def providers_with(folder: Path, form: Form, mode: str) -> list[ProviderSpec]:
    """The shipped provider of `form`, its resource deleting by `form`'s signal in `mode`."""
    raw = yaml.safe_load((PROVIDERS / f"{form.provider}.yaml").read_text())
    [resource] = [r for r in raw["resources"] if r["name"] == form.resource]
    resource["deletes"] = {**(form.only or resource["deletes"]), "mode": mode}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{form.provider}.yaml").write_text(yaml.safe_dump(raw))
    return load_providers(folder)


class DeletesWorld:
    """A small sandbox, a warehouse, and the loads a schedule, a sensor or a backfill runs."""

    def __init__(self, sandbox: Any, database: Path, loader: Loader, form: Form) -> None:
        self.sandbox, self.database, self.loader, self.form = sandbox, database, loader, form
        self.table = f"{form.provider}.{form.resource}"
        self.webhook_db: Path | None = None

    def load(self, first: str = FIRST, last: str = DELETION_DAY) -> None:
        """Every window `first...last` in one run (a backfill); one window when equal (the
        schedule's run); a reload for a snapshot."""
        provider = [self.form.provider]
        if not self.form.windowed:
            result = self.loader.snapshots(provider)
        elif first == last:
            result = self.loader.partition(first, provider)
        else:
            result = self.loader.partition_range(first, last, provider)
        assert result.success

    def alive(self) -> list[str]:
        """The table's record ids not marked deleted, sorted."""
        columns = {
            c for (c,) in query(self.database, f"select column_name from (describe {self.table})")
        }
        alive = "_deleted_at is null" if "_deleted_at" in columns else "true"
        sql = f"select {self.form.key} from {self.table} where {alive} order by 1"
        return [record_id for (record_id,) in query(self.database, sql)]

    def assert_deleted(self, record_id: str, mode: str) -> None:
        sql = f"select _deleted_at from {self.table} where {self.form.key} = '{record_id}'"
        rows = query(self.database, sql)
        if mode == "soft":
            assert len(rows) == 1 and rows[0][0] is not None, f"{record_id}: kept, marked deleted"
        else:
            assert rows == [], f"{record_id}: removed"
        assert record_id not in self.alive()

    def ledger(self) -> list[tuple[Any, ...]]:
        sql = f"select resource, record_id, signal from {self.form.provider}.{LEDGER} order by 2"
        return query(self.database, sql)

    def downstream(self, *keys: dg.AssetKey) -> None:
        """The resource's staging table, `staging.deleted_records` and `marts.fct_deletions`
        (and `keys`), as the automation builds them after a load."""
        form = self.form
        result = dg.materialize(
            [*staging_assets(self.loader.specs, "duckdb"), *mart_assets("duckdb")],
            selection=[
                dg.AssetKey(["staging", f"{form.provider}__{form.resource}"]),
                dg.AssetKey(["staging", "deleted_records"]),
                dg.AssetKey(["marts", "fct_deletions"]),
                *keys,
            ],
            resources={"warehouse": Warehouse(duckdb_path=str(self.database))},
            instance=self.loader.instance,
        )
        assert result.success


@pytest.fixture
def world(
    sandbox_factory, tmp_path, monkeypatch, instance
) -> Iterator[Callable[..., DeletesWorld]]:
    """`world(form, mode)`: a small sandbox and a fresh warehouse. With `webhooks=True` the
    sandbox sends its events to a receiver whose store the loads and the sensors read."""
    with ExitStack() as stack:

        def make(form: Form, mode: str, webhooks: bool = False, **options: Any) -> DeletesWorld:
            webhook_db = tmp_path / "webhooks.sqlite"  # where `point_env_at` points the loads
            if webhooks:
                receiver = stack.enter_context(running_receiver(webhook_db, WEBHOOK_SECRETS))
                options["webhook_url"] = receiver.base_url
            sandbox = sandbox_factory(**{**SMALL_SANDBOX, **options})
            database = point_env_at(monkeypatch, sandbox, tmp_path)
            specs = providers_with(tmp_path / "providers", form, mode)
            made = DeletesWorld(sandbox, database, Loader(specs, instance), form)
            made.webhook_db = webhook_db
            return made

        yield make


MODES = ("soft", "hard")
SCHEDULED_FORMS = ("flag", "status", "events", "absent")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("form_name", SCHEDULED_FORMS)
def test_a_record_deleted_at_the_provider_is_deleted_by_the_next_load(world, form_name, mode):
    form = FORMS[form_name]
    w = world(form, mode)
    w.load()
    before = w.alive()
    victim = before[len(before) // 2]
    w.sandbox.delete(form.provider, form.resource, victim, deleted_at=DELETED_AT)

    w.load(DELETION_DAY, DELETION_DAY)  # the next scheduled load: the latest window
    w.assert_deleted(victim, mode)
    assert w.alive() == [r for r in before if r != victim], "nothing else was touched"
    assert w.ledger() == [(form.resource, victim, form.signal)]

    w.load()  # a backfill of every window (a reload, for a snapshot) brings nothing back
    w.assert_deleted(victim, mode)
    w.load(FIRST, FIRST)
    w.assert_deleted(victim, mode)

    w.downstream()
    staged = query(w.database, f"select {form.key} from staging.{form.provider}__{form.resource}")
    assert sorted(r for (r,) in staged) == [r for r in before if r != victim]
    assert query(
        w.database, "select provider, resource, record_id, mode from marts.fct_deletions"
    ) == [(form.provider, form.resource, victim, mode)]


@pytest.mark.parametrize("mode", MODES)
def test_a_deletion_webhook_is_applied_by_the_run_its_sensor_requests(world, mode):
    """The sandbox deletes a loaded customer and sends `customers.deleted`; one sensor tick
    requests a run of the latest window, and that run applies the deletion."""
    w = world(FORMS["webhook"], mode, webhooks=True)
    w.load()
    victim = w.alive()[5]
    w.sandbox.delete("billing", "customers", victim)
    assert w.sandbox.wait_for_webhooks()["delivered"] == 1

    tick = evaluate_sensor(w.loader.instance, "billing_webhook_sensor", w.webhook_db)
    [request] = tick.run_requests
    assert list(requested_partitions(tick).values()) == [{"billing/customers"}]
    result = dg.materialize(
        w.loader._select(None, partitioned=True),
        partition_key=request.partition_key,
        selection=request.asset_selection,
        resources=w.loader.resources(),
        instance=w.loader.instance,
        tags=request.tags,
    )
    assert result.success
    w.assert_deleted(victim, mode)
    assert w.ledger() == [("customers", victim, "webhook:customers.deleted")]
    w.load()
    w.assert_deleted(victim, mode)


def _post(webhook_db: Path, *events: dict[str, Any]) -> None:
    """Deliver signed `events` to a receiver storing into `webhook_db`, as a provider would."""
    with running_receiver(webhook_db, WEBHOOK_SECRETS) as receiver:
        for event in events:
            assert post_event(receiver, event["provider"], event).status_code == 200


def _deletion(provider: str, resource: str, record: dict[str, Any], **fields: Any) -> dict:
    return make_event(provider, resource, record, type=f"{resource}.deleted", **fields)


@pytest.mark.parametrize("mode", MODES)
def test_a_backfill_of_a_window_that_still_lists_a_deleted_record_does_not_resurrect_it(
    world, mode
):
    """A webhook deletes a customer that the API's old windows still list (its lists lag, or
    keep history): every backfill merges the record in again, and the ledger removes it again."""
    w = world(FORMS["webhook"], mode)
    w.load()
    before = w.alive()
    victim = before[7]
    _post(w.webhook_db, _deletion("billing", "customers", {"id": victim, "deleted": True}))
    w.load(DELETION_DAY, DELETION_DAY)
    w.assert_deleted(victim, mode)

    w.load()  # the backfill lists the record, alive
    w.assert_deleted(victim, mode)
    assert w.alive() == [r for r in before if r != victim]


def test_staging_and_the_marts_leave_deleted_records_out_and_fct_deletions_counts_them(
    sandbox_factory, tmp_path, monkeypatch, instance
):
    """The shipped YAMLs: a billing customer (events, webhook), a commerce customer (flag) and
    a mandate (status) deleted; `dim_customers` no longer has them, `fct_deletions` lists them."""
    sandbox = sandbox_factory(**SMALL_SANDBOX)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    providers = ("billing", "commerce", "direct_debit")
    loader = Loader([s for s in load_providers() if s.name in providers], instance)
    assert loader.partition_range(FIRST, DELETION_DAY).success
    victims = {"billing": "cus_000011", "commerce": "cust_000012", "direct_debit": "MD000013"}
    resources = {"billing": "customers", "commerce": "customers", "direct_debit": "mandates"}
    for provider, record_id in victims.items():
        sandbox.delete(provider, resources[provider], record_id, deleted_at=DELETED_AT)
    assert loader.partition(DELETION_DAY).success

    result = dg.materialize(
        [*staging_assets(loader.specs, "duckdb"), *mart_assets("duckdb")],
        selection=[
            *(dg.AssetKey(["staging", f"{p}__{r}"]) for p, r in resources.items()),
            dg.AssetKey(["staging", "deleted_records"]),
            dg.AssetKey(["marts", "dim_customers"]),
            dg.AssetKey(["marts", "fct_deletions"]),
        ],
        resources={"warehouse": Warehouse(duckdb_path=str(database))},
        instance=instance,
    )
    assert result.success
    keys = {key for (key,) in query(database, "select customer_key from marts.dim_customers")}
    deleted = {f"{provider}:{record_id}" for provider, record_id in victims.items()}
    assert keys and not keys & deleted
    alive = sum(
        n
        for (n,) in query(
            database,
            "select count(*) from billing.customers where _deleted_at is null union all "
            "select count(*) from commerce.customers where _deleted_at is null union all "
            "select count(*) from direct_debit.mandates where _deleted_at is null",
        )
    )
    assert len(keys) == alive
    listed = query(database, "select provider, record_id, signal, mode from marts.fct_deletions")
    assert sorted(listed) == [
        ("billing", "cus_000011", "event:events", "soft"),
        ("commerce", "cust_000012", "record", "soft"),
        ("direct_debit", "MD000013", "record", "soft"),
    ]


def test_a_record_created_and_deleted_within_one_window_never_counts(world):
    """Deleted before its window was first loaded: the flagged record lands marked, staging
    never counts it, and the ledger still says it existed."""
    w = world(FORMS["flag"], "soft")
    victim = "cust_000004"
    w.sandbox.delete("commerce", "customers", victim, deleted_at=DELETED_AT)
    w.load()
    w.assert_deleted(victim, "soft")
    w.downstream()
    staged = query(w.database, "select customer_id from staging.commerce__customers")
    assert victim not in {r for (r,) in staged} and len(staged) == len(w.alive())
    assert w.ledger() == [("customers", victim, "record")]


def test_hard_deletes_of_a_record_never_loaded_leave_nothing_but_the_ledger(world):
    w = world(FORMS["events"], "hard")
    victim = "cus_000004"
    w.sandbox.delete("billing", "customers", victim, deleted_at=DELETED_AT)
    w.load()
    w.assert_deleted(victim, "hard")
    assert w.ledger() == [("customers", victim, "event:events")]


def test_ids_deleted_in_one_account_never_touch_another_accounts_rows(
    sandbox_factory, tmp_path, monkeypatch, instance
):
    """Both accounts have customers `cus_000004`, `cus_000009` and `cus_000013`: the first is
    deleted in eu at the provider (its events resource), the second in us by a webhook naming
    the account, the third by a webhook naming none; each stays alive wherever not deleted."""
    sandbox = sandbox_factory(accounts=2, records=30, days=3)
    database = point_env_at(monkeypatch, sandbox, tmp_path)
    loader = Loader(load_providers(_billing_with_accounts(tmp_path / "providers")), instance)
    days = ("2026-10-01", "2026-10-02", "2026-10-03")
    for account in ("eu", "us"):
        for day in days:
            assert loader.partition(_key(account, day)).success
    in_eu, in_us, unnamed = "cus_000004", "cus_000009", "cus_000013"

    sandbox.delete("billing", "customers", in_eu, deleted_at="2026-10-03T12:00:00Z", account=1)
    _post(
        tmp_path / "webhooks.sqlite",
        _deletion("billing", "customers", {"id": in_us}, account="us"),
        _deletion("billing", "customers", {"id": unnamed}),  # applied to no account
    )
    for account in ("eu", "us"):
        assert loader.partition(_key(account, days[-1])).success

    rows = query(
        database,
        f'select "{ACCOUNT_COLUMN}", id, _deleted_at is not null from billing.customers '
        f"where id in ('{in_eu}', '{in_us}', '{unnamed}') order by 1, 2",
    )
    assert rows == [
        ("eu", in_eu, True),
        ("eu", in_us, False),
        ("eu", unnamed, False),
        ("us", in_eu, False),
        ("us", in_us, True),
        ("us", unnamed, False),
    ]
    ledger = query(database, f"select account, record_id, signal from billing.{LEDGER} order by 1")
    assert ledger == [("eu", in_eu, "event:events"), ("us", in_us, "webhook:customers.deleted")]


def test_the_spike_rule_tells_a_bulk_deletion_from_a_busy_day():
    assert is_sudden_spike(30, [1, 2, 0, 1, 3, 1, 2])
    assert not is_sudden_spike(4, [1, 2, 0, 1, 3, 1, 2]), "a few more than usual: noise"
    assert not is_sudden_spike(120, [100, 90, 110, 95, 105, 100, 98]), "busy, not a spike"


def _checked(w: DeletesWorld, key: str, now: datetime) -> dict[tuple[str, str], Any]:
    """Load window `key` with every raw check, freshness judged at `now` (a scheduled run)."""
    raw = [k for asset in w.loader.assets for k in asset.keys if asset.partitions_def]
    checks = [
        *build_quality_checks(w.loader.specs),
        *build_freshness_checks(w.loader.specs, now=lambda: now),
    ]
    result = dg.materialize(
        [*w.loader.assets, *checks],
        selection=dg.AssetSelection.assets(*raw) | dg.AssetSelection.checks_for_assets(*raw),
        partition_key=key,
        resources=w.loader.resources(),
        instance=w.loader.instance,
        raise_on_error=False,
    )
    return evaluations(result)


def test_a_bulk_deletion_warns_and_leaves_freshness_alone(world):
    """Two mandates deleted a day for a week, then thirty in one day: the spike check warns
    (it never blocks the load); the freshness check passes on both days."""
    w = world(FORMS["status"], "soft", records=200)
    mandates = [f"MD{n:06d}" for n in range(1, 45)]
    for index, mandate in enumerate(mandates[:14]):  # two a day, 2026-10-01 … 2026-10-07
        w.sandbox.delete(
            "direct_debit", "mandates", mandate, deleted_at=f"2026-10-0{1 + index // 2}T08:00:00Z"
        )
    for mandate in mandates[14:]:
        w.sandbox.delete("direct_debit", "mandates", mandate, deleted_at="2026-10-08T09:00:00Z")
    w.load(FIRST, "2026-10-06")

    key = ("direct_debit/mandates", "deletions_vs_history")
    fresh = ("direct_debit/mandates", "latest_partition_landed")
    quiet = _checked(w, "2026-10-07", now=datetime(2026, 10, 8, 6, tzinfo=timezone.utc))
    assert quiet[key].passed and quiet[key].metadata["latest_deletions"].value == 2
    assert quiet[fresh].passed

    busy = _checked(w, "2026-10-08", now=datetime(2026, 10, 9, 6, tzinfo=timezone.utc))
    spike = busy[key]
    assert not spike.passed and spike.severity == dg.AssetCheckSeverity.WARN
    assert spike.metadata["latest_deletions"].value == 30
    assert "bulk deletion" in spike.description
    assert busy[fresh].passed, "deletions do not make a resource stale"
