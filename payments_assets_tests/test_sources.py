"""dlt sources alone, against the sandbox, with no Dagster: every paginator form walks to its end,
the Arrow page path lands what dlt's dict path lands, and a cursor that never ends fails fast.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from payments_assets.pipelines import (
    YOUNG_OBJECTS_PER_COLLECTION,
    duckdb_destination,
    run_pipeline,
)
from payments_assets.sources import Window, build_source, connection_from_environ
from payments_assets.sources.rate_limit import RequestBudget
from payments_assets.specs import ProviderSpec, load_providers

from .source_fixtures import ledger_spec, query

OCTOBER = Window(
    datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 10, 31, tzinfo=timezone.utc)
)


def _spec(specs: list[ProviderSpec], name: str) -> ProviderSpec:
    return next(spec for spec in specs if spec.name == name)


def test_sources_specs_and_pipelines_import_no_dagster():
    """The layers below the assets stand alone: a source runs in a plain dlt script."""
    probe = (
        "import sys\n"
        "import payments_assets.sources, payments_assets.specs, payments_assets.pipelines\n"
        "import payments_assets.sandbox, payments_assets.card_numbers\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_a_pipeline_run_tunes_the_collector_only_while_it_runs(tmp_path):
    """The collector skips the objects alive before a load and collects young objects less often
    while it runs, and only then: a heap left frozen after the load would never free its cyclic
    garbage in a long-lived process, and the process's own thresholds are its owner's choice."""
    before = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    destination = duckdb_destination(tmp_path / "w.duckdb")
    with run_pipeline("billing", destination, "billing", tmp_path / "dlt"):
        assert gc.get_freeze_count() > before
        assert gc.get_threshold()[0] >= YOUNG_OBJECTS_PER_COLLECTION
        assert gc.get_threshold()[1:] == thresholds[1:]
    assert gc.get_freeze_count() == before
    assert gc.get_threshold() == thresholds
    with (
        pytest.raises(RuntimeError, match="load failed"),
        run_pipeline("billing", destination, "billing", tmp_path / "dlt"),
    ):
        raise RuntimeError("load failed")
    assert gc.get_freeze_count() == before
    assert gc.get_threshold() == thresholds


def test_a_pipeline_run_leaves_automatic_collection_off_where_the_process_switched_it_off(
    tmp_path,
):
    thresholds = gc.get_threshold()
    gc.set_threshold(0, *thresholds[1:])
    try:
        destination = duckdb_destination(tmp_path / "w.duckdb")
        with run_pipeline("billing", destination, "billing", tmp_path / "dlt"):
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold() == (0, *thresholds[1:])
    finally:
        gc.set_threshold(*thresholds)


def _tables_of(database: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Every table's column types and rows, without dlt's row ids and load ids."""
    found = {}
    for schema, table in query(
        database,
        "select table_schema, table_name from information_schema.tables "
        "where table_schema not like '%staging%' and table_name not like '_dlt%'",
    ):
        types = query(
            database,
            "select column_name, data_type from information_schema.columns where "
            f"table_schema = '{schema}' and table_name = '{table}' "
            "and column_name not in ('_dlt_id', '_dlt_load_id', '_dlt_parent_id', '_dlt_root_id') "
            "order by column_name",
        )
        listed = ", ".join(f'"{name}"' for name, _ in types)
        found[f"{schema}.{table}"] = (
            types,
            query(database, f'select {listed} from {schema}."{table}" order by all'),
        )
    return found


@pytest.mark.timeout(120)
def test_arrow_batches_land_exactly_what_dlts_dict_path_lands(sandbox, tmp_path, monkeypatch):
    """Every provider, windowed and snapshot: same tables, column types, rows, masks, children."""
    loaded_at = datetime(2026, 11, 1, tzinfo=timezone.utc)

    def load_all(database: Path) -> None:
        for spec in load_providers():
            connection = connection_from_environ(spec, sandbox.env)
            for window in (OCTOBER, None):  # windowed resources, then snapshots
                chosen = [r.name for r in spec.views if r.windowed == bool(window)]
                if not chosen:
                    continue
                source = build_source(spec, connection, window, chosen, loaded_at)
                with run_pipeline(spec.name, duckdb_destination(database), spec.name) as pipeline:
                    pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()

    load_all(tmp_path / "arrow.duckdb")
    with monkeypatch.context() as patch:
        patch.setattr("payments_assets.sources.build.load_pages_as_arrow", lambda *_: False)
        load_all(tmp_path / "dicts.duckdb")

    arrow, dicts = _tables_of(tmp_path / "arrow.duckdb"), _tables_of(tmp_path / "dicts.duckdb")
    assert "billing.invoices__lines" in dicts and "gateway.transactions" in dicts
    assert arrow == dicts


def _source_error(spec: ProviderSpec, sandbox, resource: str, folder: Path) -> str:
    """Run one resource through a plain dlt pipeline; the error it fails with."""
    source = build_source(
        spec, connection_from_environ(spec, sandbox.env), OCTOBER, resources=[resource]
    )
    destination = duckdb_destination(folder / "w.duckdb")
    with (
        run_pipeline(spec.name, destination, spec.name) as pipeline,
        pytest.raises(Exception) as failure,
    ):
        pipeline.run(source, loader_file_format="parquet")
    return str(failure.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("provider", "resource", "path"),
    [
        ("gateway", "transactions", "/gateway/v1/transactions"),  # next_cursor
        ("gateway", "list_payments", "/gateway/v1/payments"),  # offset + has_more
        ("billing", "charges", "/billing/v1/charges"),  # offset + total
        ("direct_debit", "payments", "/direct_debit/v1/payments"),  # meta.cursors.after
        ("commerce", "charges", "/commerce/v1/charges"),  # offset to an empty page
    ],
)
def test_a_cursor_that_never_ends_fails_clearly_on_every_paginator(
    sandbox, impatient_specs, tmp_path, provider, resource, path
):
    sandbox.inject_fault(path, "endless_cursor")
    try:
        started = time.monotonic()
        message = _source_error(_spec(impatient_specs, provider), sandbox, resource, tmp_path)
    finally:
        sandbox.clear_faults()
    assert f"{provider}/{resource}" in message and path in message
    assert "does not advance" in message
    assert time.monotonic() - started < 30


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("provider", "resource", "window"),
    [
        ("commerce", "products", None),  # offset 500 to an empty page
        ("billing", "customers", OCTOBER),  # offset 100 to `total`
        ("gateway", "list_payments", OCTOBER),  # offset 100 to `has_more: false`
        ("direct_debit", "payouts", OCTOBER),  # cursor, pages of 500
    ],
)
def test_a_walk_whose_last_page_is_exactly_the_limit_lands_every_row(
    sandbox_factory, tmp_path, provider, resource, window
):
    sandbox = sandbox_factory(records=1000)  # 1000 = 2 x 500 = 10 x 100: every last page is full
    spec = _spec(load_providers(), provider)
    source = build_source(
        spec, connection_from_environ(spec, sandbox.env), window, resources=[resource]
    )
    database = tmp_path / "w.duckdb"
    with run_pipeline(provider, duckdb_destination(database), provider) as pipeline:
        pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()
    [key] = spec.view(resource).primary_key
    [(rows, distinct)] = query(
        database, f'select count(*), count(distinct "{key}") from {provider}."{resource}"'
    )
    assert rows == distinct == 1000


class FakeClock:
    """Time that moves only when someone sleeps: a budget's pacing measured exactly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_budget_lets_a_burst_through_then_paces_at_its_rate():
    clock = FakeClock()
    budget = RequestBudget(rate=10, capacity=5, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(25):
        budget.take()
        sent.append(clock.now)
    assert sent[:5] == [0.0] * 5, "the burst goes at once"
    assert sent[-1] == pytest.approx(2.0), "then 20 more at 10/s"


def test_a_429_pauses_the_budget_for_everyone():
    clock = FakeClock()
    budget = RequestBudget(rate=100, capacity=10, clock=clock, sleep=clock.sleep)
    budget.take()
    budget.pause(3)
    budget.take()
    assert clock.now >= 3.0, "nobody sends before Retry-After has passed"
    assert budget.waited >= 3.0


# A Stripe-shaped provider, as YAML only ---------------------------------------------------

LISTS = ("charges", "customers", "payouts", "disputes", "subscriptions")
PAGING_FIXTURES = (
    {
        "name": "payout_reports",
        "endpoint": {
            "path": "/v1/payout_reports",
            "data_selector": "$",
            "params": {"per_page": 100},
            "paginator": {"type": "link_header", "rel": "next"},
        },
    },
    {
        "name": "dispute_reports",
        "endpoint": {
            "path": "/v1/dispute_reports",
            "data_selector": "items",
            "paginator": {"type": "page_number", "base_page": 1, "total_path": "total_pages",
                          "limit": 100},
        },
    },
)  # fmt: skip
"""Not Stripe: the sandbox's payouts and disputes again, a bare list paged by the Link header and
pages numbered up to a total, so the dialect's `link_header` and `page_number` walk real HTTP."""


def _small_pages(size: int, *extra: dict):
    def edit(raw: dict) -> None:
        raw["resources"] += extra
        raw["resource_defaults"]["endpoint"]["paginator"]["limit"] = size
        for resource in raw["resources"]:
            endpoint = resource["endpoint"]
            if "paginator" in endpoint and "limit" in endpoint["paginator"]:
                endpoint["paginator"]["limit"] = size
            for param in ("limit", "per_page"):
                if param in endpoint.get("params", {}):
                    endpoint["params"][param] = size

    return edit


def _events_listed(sandbox) -> int:
    """How many events the ledger lists, walked over HTTP by its next URLs."""
    env, count = sandbox.env, 0
    url = f"{env['PAYMENTS_LEDGER_BASE_URL']}/v1/events?limit=100"
    while url:
        headers = {"Authorization": f"Bearer {env['PAYMENTS_LEDGER_SECRET_KEY']}"}
        page = requests.get(url, headers=headers, timeout=10).json()
        count, url = count + len(page["data"]), page.get("next")
    return count


def _load(spec: ProviderSpec, sandbox, database: Path, resources=None) -> None:
    source = build_source(spec, connection_from_environ(spec, sandbox.env), OCTOBER, resources)
    with run_pipeline(spec.name, duckdb_destination(database), spec.name) as pipeline:
        pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("records", "page"), [(100, 20), (90, 20)])  # full and short last pages
def test_every_pagination_form_of_a_stripe_shaped_api_lands_every_row_once(
    sandbox_factory, tmp_path, records, page
):
    sandbox = sandbox_factory(records=records)
    spec = ledger_spec(tmp_path, _small_pages(page, *PAGING_FIXTURES))
    database = (
        tmp_path / "warehouse.duckdb"
    )  # not ledger.duckdb: DuckDB names its catalog after the file
    _load(spec, sandbox, database)
    for name in (*LISTS, *(fixture["name"] for fixture in PAGING_FIXTURES)):
        [(rows, distinct)] = query(
            database, f'select count(*), count(distinct id) from ledger."{name}"'
        )
        assert rows == distinct == records, name
    for fixture, listed in (("payout_reports", "payouts"), ("dispute_reports", "disputes")):
        landed = 'select id, amount, status from ledger."{}" order by id'
        assert query(database, landed.format(fixture)) == query(database, landed.format(listed))
    [(events, distinct)] = query(database, "select count(*), count(distinct id) from ledger.events")
    assert events == distinct == _events_listed(sandbox), "every creation and change, once"
    [(balances,)] = query(database, "select count(*) from ledger.balance")
    assert balances == 1, "a single object is one row"
    currencies = query(database, "select count(*) from ledger.balance__available")
    assert currencies[0][0] >= 1, "its nested list is a child table"
    expanded = {row[0] for row in query(database, "describe ledger.charges")}
    assert "customer__email" in expanded, "expand[]=customer was sent as a list parameter"
    requests = sandbox.stats()["data_requests"]["ledger"]
    assert requests >= len(LISTS) * (records // page), "pages of `page` records were walked"


@pytest.mark.timeout(120)
def test_a_budgeted_run_keeps_the_providers_rate_across_parallel_resources(
    sandbox_factory, tmp_path
):
    """The sandbox limits the key to R requests/s; the run, its resources in parallel, draws
    from one bucket of R/s: no 429 (or only the first), every row, within R's time + 20 %."""
    rate, burst, records, page = 20.0, 5, 60, 5

    def budget(raw: dict) -> None:
        _small_pages(page)(raw)
        raw["rate_limit"] = {"requests_per_second": rate, "burst": burst}

    sandbox = sandbox_factory(records=records, rate_limit=rate)
    spec = ledger_spec(tmp_path, budget)
    _load(spec, sandbox, tmp_path / "budgeted.duckdb", resources=LISTS[:4])
    stats = sandbox.stats()
    requests, span = stats["data_requests"]["ledger"], stats["request_span_seconds"]["ledger"]
    assert stats["rate_limited"].get("ledger", 0) <= 1, stats["rate_limited"]
    for name in LISTS[:4]:
        [(rows,)] = query(tmp_path / "budgeted.duckdb", f'select count(*) from ledger."{name}"')
        assert rows == records, name
    allowed = (requests - burst) / rate
    assert span <= 1.2 * allowed + 0.5, f"{requests} requests took {span:.1f} s at {rate}/s"
    assert span >= 0.8 * allowed, "the budget was kept, not skipped"


@pytest.mark.timeout(120)
def test_without_a_budget_the_same_run_meets_429s(sandbox_factory, tmp_path):
    """What the budget prevents: four resources firing as fast as answered are refused."""

    def patient(raw: dict) -> None:
        _small_pages(5)(raw)
        raw.pop("rate_limit")
        raw["resource_defaults"]["endpoint"]["error_handler"].update(
            max_retries=20, backoff_factor=0.01, max_retry_delay=1
        )

    sandbox = sandbox_factory(records=60, rate_limit=20.0)
    _load(ledger_spec(tmp_path, patient), sandbox, tmp_path / "free.duckdb", resources=LISTS[:4])
    assert sandbox.stats()["rate_limited"].get("ledger", 0) > 1


def test_a_field_only_later_records_carry_lands_on_the_arrow_path():
    """A batch's columns are every record's fields, not the first record's: a `deleted: true`
    mark on the third customer of a page lands, and marks that row deleted."""
    from payments_assets.sources.arrow import ArrowPages
    from payments_assets.specs.resolved import DELETED_AT

    view = _spec(load_providers(), "commerce").view("customers")
    rows = [
        {"customer_id": f"cust_{i}", "first_seen": 1_791_000_000 + i, "name": "A"} for i in range(3)
    ]
    rows[2] |= {"deleted": True, "nickname": "late"}
    table = ArrowPages(view, {})._convert(rows)
    assert not isinstance(table, list), "uniform records take the Arrow path"
    assert table.column("deleted").to_pylist() == [None, None, True]
    assert table.column("nickname").to_pylist() == [None, None, "late"]
    marked = table.column(DELETED_AT).to_pylist()
    assert marked[:2] == [None, None] and marked[2] is not None
