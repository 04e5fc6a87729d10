"""Trust in the raw layer: duplicates block, stale data fails, schema and volume changes warn."""

from datetime import datetime, timedelta, timezone

import dagster as dg

from payments_assets.automation.conditions import (
    downstream_condition,
    parents_updated,
    windowed_raw,
)
from payments_assets.automation.sensors.freshness import build_freshness_sensor
from payments_assets.checks.freshness import LATEST_PARTITION_LANDED, REFRESHED_WITHIN_MAX_LAG
from payments_assets.checks.volume import is_sudden_drop
from payments_assets.partitions import partitions_for
from payments_assets.specs import load_providers

from .trust_fixtures import evaluations, execute

CHARGES = dg.AssetKey(["commerce", "charges"])
PRODUCTS = dg.AssetKey(["commerce", "products"])
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
DAY_AFTER = datetime(2026, 10, 6, 6, tzinfo=timezone.utc)  # a few hours after Oct 5 ended
FIRST_CHARGE = "(select min(charge_id) from commerce.charges)"
DUPLICATE_FIRST_CHARGE = (
    f"insert into commerce.charges select * from commerce.charges where charge_id = {FIRST_CHARGE}"
)


def check(asset: dg.AssetKey, name: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset, name)


def _commerce():
    return next(spec for spec in load_providers() if spec.name == "commerce")


def test_every_raw_asset_shows_its_checks_and_its_providers_freshness_policy():
    from payments_assets.definitions import PROVIDERS, defs

    graph = defs.resolve_asset_graph()
    blocking = {
        spec.key: spec.blocking for checks in defs.asset_checks or [] for spec in checks.check_specs
    }
    for spec in PROVIDERS:
        policy = dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=spec.freshness.max_lag_hours)
        )
        for view in spec.views:
            key = dg.AssetKey([spec.name, view.name])
            assert graph.get(key).freshness_policy == policy, key
            fresh = LATEST_PARTITION_LANDED if view.windowed else REFRESHED_WITHIN_MAX_LAG
            assert blocking[check(key, "primary_key_unique")] is True
            assert blocking[check(key, "primary_key_not_null")] is True
            assert blocking[check(key, "row_count_vs_history")] is False
            assert blocking[check(key, "schema_unchanged")] is False
            assert blocking[check(key, fresh)] is False
            if view.quality.required:
                assert blocking[check(key, "required_fields_not_null")] is True
            if view.quality.currency_column:
                assert blocking[check(key, "currencies_iso_4217")] is True


def test_a_duplicated_charge_fails_uniqueness_and_blocks_downstream(checked_for, warehouse_path):
    commerce = checked_for("commerce").at(DAY_AFTER)

    @dg.asset(
        key=["reports", "daily_charges"],
        deps=[CHARGES],
        partitions_def=partitions_for(_commerce()),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def daily_charges() -> None:
        """Stands in for staging and marts: anything built from the raw charges."""

    clean = commerce.partition("2026-10-05", downstream=[daily_charges])
    assert clean.success
    assert [name for name, e in evaluations(clean).items() if not e.passed] == []
    assert daily_charges.key in {e.asset_key for e in clean.get_asset_materialization_events()}

    execute(warehouse_path, DUPLICATE_FIRST_CHARGE)
    dirty = commerce.partition("2026-10-04", downstream=[daily_charges])

    unique = evaluations(dirty)[("commerce/charges", "primary_key_unique")]
    assert not unique.passed and unique.severity == ERROR
    assert "chg_" in unique.description and "more than once" in unique.description
    assert unique.metadata["duplicated_keys"].value == 1
    loaded = {e.asset_key for e in dirty.get_asset_materialization_events()}
    assert CHARGES in loaded, "the raw load itself happened"
    assert daily_charges.key not in loaded, "nothing downstream is built on the duplicate"
    assert not dirty.success


def test_a_stale_asset_fails_its_freshness_check(checked_for):
    commerce = checked_for("commerce")
    # Freshness looks only at what the instance knows: record the loads as the raw assets would.
    commerce.instance.report_runless_asset_event(
        dg.AssetMaterialization(CHARGES, partition="2026-10-05")
    )
    commerce.instance.report_runless_asset_event(dg.AssetMaterialization(PRODUCTS))
    loaded = datetime.now(timezone.utc)
    landed, refreshed = (
        check(CHARGES, LATEST_PARTITION_LANDED),
        check(PRODUCTS, REFRESHED_WITHIN_MAX_LAG),
    )

    # Oct 5's window ended Oct 6 00:00; commerce allows 26 hours of lag.
    on_time = evaluations(
        commerce.at(datetime(2026, 10, 7, 1, tzinfo=timezone.utc)).checks_only(landed)
    )
    late = evaluations(
        commerce.at(datetime(2026, 10, 7, 3, tzinfo=timezone.utc)).checks_only(landed)
    )
    assert on_time[("commerce/charges", LATEST_PARTITION_LANDED)].passed
    stale = late[("commerce/charges", LATEST_PARTITION_LANDED)]
    assert not stale.passed and stale.severity == ERROR
    assert "stale" in stale.description and stale.metadata["lag_hours"].value == 27.0
    assert stale.metadata["expected_partition"].value == "2026-10-06"

    fresh = evaluations(commerce.at(loaded + timedelta(hours=25)).checks_only(refreshed))
    old = evaluations(commerce.at(loaded + timedelta(hours=27)).checks_only(refreshed))
    assert fresh[("commerce/products", REFRESHED_WITHIN_MAX_LAG)].passed
    assert not old[("commerce/products", REFRESHED_WITHIN_MAX_LAG)].passed


def test_freshness_sensor_runs_the_checks_that_may_have_gone_stale(checked_for):
    commerce = checked_for("commerce")
    instance = commerce.instance
    instance.report_runless_asset_event(dg.AssetMaterialization(CHARGES, partition="2026-10-05"))
    instance.report_runless_asset_event(dg.AssetMaterialization(PRODUCTS))
    now = datetime.now(timezone.utc)
    landed, refreshed = (
        check(CHARGES, LATEST_PARTITION_LANDED),
        check(PRODUCTS, REFRESHED_WITHIN_MAX_LAG),
    )

    def tick(at: datetime):
        sensor = build_freshness_sensor(commerce.loader.specs, now=lambda: at)
        return sensor(dg.build_sensor_context(instance=instance))

    first = tick(now)
    assert isinstance(first, dg.RunRequest)
    assert set(first.asset_check_keys) == {landed, refreshed}, "never-loaded assets are not judged"

    commerce.checks_only(landed, refreshed)  # charges: stale (October); products: fresh
    assert isinstance(tick(now + timedelta(hours=1)), dg.SkipReason)
    due_later = tick(now + timedelta(hours=27))
    assert isinstance(due_later, dg.RunRequest) and due_later.asset_check_keys == [refreshed]

    instance.report_runless_asset_event(dg.AssetMaterialization(CHARGES, partition="2026-10-06"))
    reloaded = tick(now + timedelta(hours=1))
    assert isinstance(reloaded, dg.RunRequest) and reloaded.asset_check_keys == [landed]


def test_a_vanished_column_is_reported_once(checked_for, warehouse_path):
    commerce = checked_for("commerce").at(DAY_AFTER)
    commerce.partition("2026-10-05")
    execute(warehouse_path, "alter table commerce.charges drop column description")
    execute(warehouse_path, "alter table commerce.charges add column risk_score double")

    schema = check(CHARGES, "schema_unchanged")
    changed = evaluations(commerce.checks_only(schema))[("commerce/charges", "schema_unchanged")]
    assert not changed.passed and changed.severity == WARN and not changed.blocking
    assert changed.metadata["vanished_columns"].value == ["description"]
    assert changed.metadata["new_columns"].value == ["risk_score"]
    assert "vanished column(s): description" in changed.description

    again = evaluations(commerce.checks_only(schema))[("commerce/charges", "schema_unchanged")]
    assert again.passed


def test_a_sudden_drop_in_rows_warns_without_blocking(checked_for, warehouse_path):
    commerce = checked_for("commerce").at(DAY_AFTER)
    commerce.partition_range("2026-10-01", "2026-10-08")
    execute(warehouse_path, "delete from commerce.charges where occurred >= '2026-10-08'")

    rows = evaluations(commerce.checks_only(check(CHARGES, "row_count_vs_history")))
    drop = rows[("commerce/charges", "row_count_vs_history")]
    assert not drop.passed and drop.severity == WARN and not drop.blocking
    assert drop.metadata["latest"].value == "2026-10-08"
    assert drop.metadata["latest_rows"].value == 0
    assert len(drop.metadata["history"].value) == 7
    assert all(n > 0 for n in drop.metadata["history"].value.values())


def test_small_dips_are_noise_and_halving_is_a_drop():
    assert not is_sudden_drop(4, [7, 8, 6, 9, 7]), "a quiet day at low volume"
    assert not is_sudden_drop(0, [1, 2, 1]), "too few rows to tell"
    assert is_sudden_drop(0, [7, 8, 6, 9, 7])
    assert is_sudden_drop(400, [1000, 950, 1050])


def test_made_up_currencies_and_fractional_amounts_fail_money_checks(checked_for, warehouse_path):
    commerce = checked_for("commerce").at(DAY_AFTER)
    commerce.partition("2026-10-05")
    execute(
        warehouse_path,
        f"update commerce.charges set currency = 'XBT' where charge_id = {FIRST_CHARGE}",
    )
    execute(
        warehouse_path,
        f"update commerce.charges set currency = 'usd' where charge_id <> {FIRST_CHARGE}",
    )
    execute(warehouse_path, "alter table commerce.charges alter column amount type double")
    execute(
        warehouse_path,
        f"update commerce.charges set amount = 12.5 where charge_id = {FIRST_CHARGE}",
    )

    money = evaluations(
        commerce.checks_only(
            check(CHARGES, "currencies_iso_4217"), check(CHARGES, "amounts_in_minor_units")
        )
    )
    currencies = money[("commerce/charges", "currencies_iso_4217")]
    assert not currencies.passed and currencies.blocking
    assert currencies.metadata["unknown_codes"].value == {"XBT": 1}, "lower-case 'usd' is ISO"
    amounts = money[("commerce/charges", "amounts_in_minor_units")]
    assert not amounts.passed and amounts.blocking
    assert "DOUBLE" in amounts.description and "1 fractional" in amounts.description


def test_downstream_automation_waits_for_its_parents_blocking_checks(checked_for, warehouse_path):
    commerce = checked_for("commerce")
    windowed = windowed_raw(commerce.loader.specs)

    @dg.asset(
        key=["reports", "gated"],
        deps=[CHARGES],
        automation_condition=downstream_condition(windowed),
    )
    def gated() -> None: ...

    @dg.asset(
        key=["reports", "ungated"],
        deps=[CHARGES],
        automation_condition=parents_updated(windowed),
    )
    def ungated() -> None: ...

    @dg.asset(
        key=["reports", "with_products"],
        deps=[CHARGES, PRODUCTS],
        automation_condition=downstream_condition(windowed),
    )
    def with_products() -> None: ...

    defs = dg.Definitions(
        assets=[*commerce.loader.assets, gated, ungated, with_products],
        asset_checks=commerce.checks,
        resources=commerce.loader.resources(),
    )
    reports = dg.AssetSelection.assets(gated, ungated, with_products)

    ticks: list[dg.EvaluateAutomationConditionsResult] = []

    def tick() -> dg.EvaluateAutomationConditionsResult:
        """One evaluation of the automation sensor, a minute after the one before."""
        ticks.append(
            dg.evaluate_automation_conditions(
                defs=defs,
                instance=commerce.instance,
                asset_selection=reports,
                evaluation_time=DAY_AFTER + timedelta(minutes=len(ticks)),
                cursor=ticks[-1].cursor if ticks else None,
            )
        )
        return ticks[-1]

    tick()  # nothing to build yet: the parents are missing
    assert commerce.partition_range("2026-10-01", "2026-10-05").success
    loaded = tick()
    assert loaded.get_num_requested(gated.key) == 1, "parents loaded and their checks passed"
    assert loaded.get_num_requested(with_products.key) == 0, "products never loaded"
    dg.materialize([gated, ungated], instance=commerce.instance)  # the requested run
    tick()

    execute(warehouse_path, DUPLICATE_FIRST_CHARGE)
    assert not commerce.partition("2026-10-05").success  # reloaded; its key check fails
    after = tick()
    assert after.get_num_requested(ungated.key) == 1, "without the gate it would build on it"
    assert after.get_num_requested(gated.key) == 0, "the gated condition waits for a fix"


def test_assets_missing_at_the_first_tick_are_built_on_it(checked_for, warehouse_path):
    """The demo's case: the history lands before the automation sensor ever ticks; its first
    tick builds what is missing (`eager()` resets on the first tick and waits for an update)."""
    commerce = checked_for("commerce")
    windowed = windowed_raw(commerce.loader.specs)

    @dg.asset(
        key=["reports", "mart"], deps=[CHARGES], automation_condition=downstream_condition(windowed)
    )
    def mart() -> None: ...

    @dg.asset(
        key=["reports", "eager"],
        deps=[CHARGES],
        automation_condition=dg.AutomationCondition.eager(),
    )
    def eager() -> None: ...

    assert commerce.partition_range("2026-10-01", "2026-10-05").success
    defs = dg.Definitions(
        assets=[*commerce.loader.assets, mart, eager],
        asset_checks=commerce.checks,
        resources=commerce.loader.resources(),
    )
    first = dg.evaluate_automation_conditions(
        defs=defs,
        instance=commerce.instance,
        asset_selection=dg.AssetSelection.assets(mart, eager),
        evaluation_time=DAY_AFTER,
    )
    assert first.get_num_requested(mart.key) == 1
    assert first.get_num_requested(eager.key) == 0, "what the demo met: 0 runs"
    second = dg.evaluate_automation_conditions(
        defs=defs,
        instance=commerce.instance,
        asset_selection=dg.AssetSelection.assets(mart, eager),
        evaluation_time=DAY_AFTER + timedelta(minutes=1),
        cursor=first.cursor,
    )
    assert second.get_num_requested(mart.key) == 0, "requested once, not on every tick"
