"""Records as a Stripe-shaped API shapes them, against the sandbox's `ledger`: nested lists that
page, resources that hang off another resource's records, and fields that must never land.

The sandbox's truth is its own record builder: invoice i has `INVOICE_LINE_COUNTS[i % 8]` lines
(0, 1, exactly the embedded 10, 11, 3, exactly a page of 100, 101 and 250), and its
`amount_due` is the sum of all of them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet
import pytest
import requests
import yaml

from payments_assets.assets.staging import staging_assets
from payments_assets.layers import staging_key
from payments_assets.never_land import sha256_of
from payments_assets.pipelines import duckdb_destination, run_pipeline
from payments_assets.sandbox.catalog import BY_KEY
from payments_assets.sandbox.nested_lists import LINES_PATH
from payments_assets.sandbox.records import invoice_line_count
from payments_assets.sources import Window, build_source, connection_from_environ
from payments_assets.specs import ProviderSpec, ProviderSpecError
from payments_assets.webhooks.process import running_receiver
from payments_assets.webhooks.store import WebhookStore

from .leak_scan import duckdb_text
from .source_fixtures import IMPATIENT, ledger_spec, query
from .webhook_fixtures import make_event, post_event

OCTOBER = Window(
    datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 10, 31, tzinfo=timezone.utc)
)
INVOICES = BY_KEY[("ledger", "invoices")]
INVOICE_LINES = {
    "name": "invoice_lines",
    "description": "Every line of every invoice, one request walk per invoice of the window.",
    "endpoint": {"path": "/v1/invoices/{resources.invoices.id}/lines"},
    "include_from_parent": ["customer"],
    "columns": {"amount": {"data_type": "bigint"}},
}


def _with_invoice_lines(raw: dict[str, Any]) -> None:
    raw["resources"].append(INVOICE_LINES)


def _load(
    spec: ProviderSpec, sandbox, database: Path, resources, window: Window | None = OCTOBER
) -> None:
    source = build_source(spec, connection_from_environ(spec, sandbox.env), window, resources)
    with run_pipeline(spec.name, duckdb_destination(database), spec.name) as pipeline:
        pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()


def _landed_lines(database: Path) -> dict[str, tuple[int, int, int]]:
    """Invoice id → (lines landed, their amount sum, the invoice's amount_due)."""
    rows = query(
        database,
        "select i.id, count(l.id), coalesce(sum(l.amount), 0), i.amount_due "
        "from ledger.invoices i left join ledger.invoices__lines l on l._dlt_parent_id = i._dlt_id "
        "group by i.id, i.amount_due",
    )
    return {invoice_id: (count, total, due) for invoice_id, count, total, due in rows}


@pytest.mark.timeout(180)
def test_nested_list_of_every_size_lands_every_element(sandbox, tmp_path):
    """0, 1, exactly the embedded page, one more, a page of 100, 101 and 250 lines: each
    invoice's lines all land, their sum is its amount_due, and a rerun changes nothing."""
    spec = ledger_spec(tmp_path)
    database = tmp_path / "warehouse.duckdb"
    _load(spec, sandbox, database, ["invoices"])
    landed = _landed_lines(database)
    assert len(landed) == 200
    sizes = {}
    for invoice_id, (count, total, due) in landed.items():
        index = INVOICES.index_of(invoice_id)
        assert count == invoice_line_count(index), invoice_id
        assert total == due, invoice_id
        sizes[count] = sizes.get(count, 0) + 1
    assert sizes == {0: 25, 1: 25, 10: 25, 11: 25, 3: 25, 100: 25, 101: 25, 250: 25}
    [(lines, distinct)] = query(
        database, "select count(*), count(distinct id) from ledger.invoices__lines"
    )
    assert lines == distinct == 25 * (0 + 1 + 10 + 11 + 3 + 100 + 101 + 250)

    _load(spec, sandbox, database, ["invoices"])
    assert _landed_lines(database) == landed, "a rerun merges, it never doubles a line"


@pytest.mark.timeout(120)
def test_nested_list_whose_rest_cannot_be_fetched_fails_the_run_loudly(sandbox_factory, tmp_path):
    """The rest of in_000008's 250 lines answers 500 however often it is asked: the load fails,
    naming provider, resource, record and URL path; nothing is loaded cut."""
    sandbox = sandbox_factory(records=16)
    sandbox.inject_fault("/ledger/v1/invoices/in_000008/lines", "status:500", None)

    def impatient(raw: dict[str, Any]) -> None:
        raw["resource_defaults"]["endpoint"]["error_handler"].update(IMPATIENT)

    database = tmp_path / "warehouse.duckdb"
    with pytest.raises(Exception) as failure:
        _load(ledger_spec(tmp_path, impatient), sandbox, database, ["invoices"])
    message = str(failure.value)
    assert "ledger/invoices: record in_000008: 'lines' embeds 10 elements" in message
    assert "/ledger/v1/invoices/in_000008/lines" in message
    assert (
        not database.exists()
        or not query(
            database,
            "select count(*) from information_schema.tables where table_name = 'invoices__lines'",
        )[0][0]
    )


def test_nested_list_url_on_another_host_is_refused(tmp_path):
    """Credentials never follow a nested list's URL to another host."""
    from payments_assets.sources.nested_lists import NestedListCompleter, NestedListError

    spec = ledger_spec(tmp_path)

    class Walker:
        view = spec.view("invoices")

        def walk(self, *args: Any) -> list[Any]:
            raise AssertionError("no request may be sent")

    completer = NestedListCompleter(Walker(), "https://api.ledger.example.com")  # type: ignore[arg-type]
    record = {
        "id": "in_1",
        "lines": {"data": [], "has_more": True, "url": "https://elsewhere.example/v1/lines"},
    }
    with pytest.raises(NestedListError, match="another host"):
        completer.record(record)


# Dependent resources -------------------------------------------------------------------------


def _day(day: int) -> Window:
    start = datetime(2026, 10, day, tzinfo=timezone.utc)
    return Window(start, start.replace(day=day + 1))


def _invoices_in(database: Path) -> list[str]:
    return [row[0] for row in query(database, "select id from ledger.invoices order by id")]


def _child_lines(database: Path) -> dict[str, tuple[int, int]]:
    rows = query(
        database,
        "select _invoices_id, count(*), count(distinct id) from ledger.invoice_lines group by 1",
    )
    return {invoice_id: (count, distinct) for invoice_id, count, distinct in rows}


@pytest.mark.timeout(180)
def test_dependent_resource_loads_a_partition_a_backfill_and_a_rerun_exactly(sandbox, tmp_path):
    """`/v1/invoices/{resources.invoices.id}/lines`: one day's invoices get all their lines and
    only theirs; a range backfill gets every invoice's; a rerun changes nothing."""
    spec = ledger_spec(tmp_path, _with_invoice_lines)
    assert spec.view("invoice_lines").windowed, "windowed through its parent"
    day, whole = tmp_path / "day.duckdb", tmp_path / "range.duckdb"
    _load(spec, sandbox, day, ["invoices", "invoice_lines"], _day(7))
    parents = _invoices_in(day)
    assert parents, "the day has invoices"
    expected = {i: invoice_line_count(INVOICES.index_of(i)) for i in parents}
    landed = _child_lines(day)
    assert {i: count for i, (count, _) in landed.items()} == {
        i: n for i, n in expected.items() if n
    }
    assert all(count == distinct for count, distinct in landed.values())
    [(customers_match,)] = query(
        day,
        "select bool_and(l._invoices_customer = i.customer) from ledger.invoice_lines l "
        "join ledger.invoices i on i.id = l._invoices_id",
    )
    assert customers_match, "include_from_parent carries the parent's customer"

    _load(spec, sandbox, whole, ["invoice_lines"], OCTOBER)
    [(rows, distinct, invoices)] = query(
        whole,
        "select count(*), count(distinct id), count(distinct _invoices_id) "
        "from ledger.invoice_lines",
    )
    assert rows == distinct == 25 * (0 + 1 + 10 + 11 + 3 + 100 + 101 + 250)
    assert invoices == 175, "every invoice with lines, its parent loaded or not"
    tables = {row[0] for row in query(whole, "select table_name from information_schema.tables")}
    assert "invoices" not in tables, "the parent was read, not loaded: it was not chosen"

    _load(spec, sandbox, whole, ["invoice_lines"], OCTOBER)
    [(again,)] = query(whole, "select count(*) from ledger.invoice_lines")
    assert again == rows


@pytest.mark.timeout(120)
def test_dependent_resource_of_an_empty_window_sends_no_child_request(sandbox, tmp_path):
    spec = ledger_spec(tmp_path, _with_invoice_lines)
    before = sandbox.stats()["requests"].get(LINES_PATH, 0)
    november = Window(
        datetime(2026, 11, 5, tzinfo=timezone.utc), datetime(2026, 11, 6, tzinfo=timezone.utc)
    )
    _load(spec, sandbox, tmp_path / "empty.duckdb", ["invoices", "invoice_lines"], november)
    assert sandbox.stats()["requests"].get(LINES_PATH, 0) == before


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (
            lambda r: r["endpoint"].update(path="/v1/invoices/{resources.bills.id}/lines"),
            "resources[invoice_lines].endpoint.path",
            "'bills' is not another resource of ledger",
        ),
        (
            lambda r: r["endpoint"].update(
                incremental={"cursor_path": "created", "start_param": "a", "end_param": "b"}
            ),
            "resources[invoice_lines].endpoint.incremental",
            "windowed through its parent 'invoices'",
        ),
        (
            lambda r: r.update(nested_lists=[{"field": "lines"}, {"field": "lines"}]),
            "resources[invoice_lines].nested_lists",
            "named twice",
        ),
        (
            lambda r: r.update(nested_lists=[{"field": "lines", "colour": "red"}]),
            "resources[invoice_lines].nested_lists[0].colour",
            "unknown key",
        ),
    ],
)
def test_dependent_resource_and_nested_list_mistakes_fail_with_file_and_key(
    tmp_path, edit, key, problem
):
    def broken(raw: dict[str, Any]) -> None:
        resource = yaml.safe_load(yaml.safe_dump(INVOICE_LINES))
        edit(resource)
        raw["resources"].append(resource)

    with pytest.raises(ProviderSpecError) as error:
        ledger_spec(tmp_path, broken)
    assert error.value.key == key
    assert problem in error.value.problem
    assert str(error.value).startswith(f"{tmp_path / 'ledger.yaml'}: {key}")


@pytest.mark.timeout(240)
def test_dependent_resource_runs_in_dagster_with_lineage_to_its_parent(
    sandbox, tmp_path, warehouse_path, loader_for
):
    """The child alone, as a partition run of Dagster: its parent is read for the day, not
    loaded; the asset graph shows the child depending on the parent."""
    loader = loader_for([ledger_spec(tmp_path, _with_invoice_lines)])
    child, parent = dg.AssetKey(["ledger", "invoice_lines"]), dg.AssetKey(["ledger", "invoices"])
    windowed = next(asset for asset in loader.assets if child in asset.keys)
    assert parent in windowed.asset_deps[child]
    result = dg.materialize(
        loader.assets,
        selection=[child],
        partition_key="2026-10-07",
        resources=loader.resources(),
        instance=loader.instance,
    )
    assert result.success
    [(rows, invoices)] = query(
        warehouse_path, "select count(*), count(distinct _invoices_id) from ledger.invoice_lines"
    )
    day = tmp_path / "day.duckdb"
    _load(ledger_spec(tmp_path, _with_invoice_lines), sandbox, day, ["invoices"], _day(7))
    expected = [invoice_line_count(INVOICES.index_of(i)) for i in _invoices_in(day)]
    assert (rows, invoices) == (sum(expected), sum(1 for n in expected if n))


# Fields that never land ----------------------------------------------------------------------


CLIENT_SECRET = re.compile(r"pi_\d{6}_secret_[a-z0-9]{24}")
"""What the sandbox's client secrets look like (the tests' folders say `_secret_` too)."""


def _client_secrets(sandbox) -> list[str]:
    """Every payment intent's client_secret, walked from the API itself."""
    reader = requests.Session()
    reader.headers["Authorization"] = f"Bearer {sandbox.env['PAYMENTS_LEDGER_SECRET_KEY']}"
    url = f"{sandbox.env['PAYMENTS_LEDGER_BASE_URL']}/v1/payment_intents"
    secrets, params = [], {"limit": 100}
    while True:
        body = reader.get(url, params=params, timeout=10).json()
        secrets += [intent["client_secret"] for intent in body["data"]]
        if not body["has_more"]:
            return secrets
        params["starting_after"] = body["data"][-1]["id"]


def _written_text(folder: Path) -> str:
    """Every table of every DuckDB file and every text or parquet file under `folder`."""
    parts = []
    for path in folder.rglob("*"):
        if path.suffix == ".duckdb":
            parts.append(duckdb_text(path))
        elif path.suffix == ".parquet":
            parts.append(repr(pyarrow.parquet.read_table(path).to_pylist()))
        elif path.is_file() and path.suffix in (".jsonl", ".json", ".log", ".txt", ".yaml"):
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


@pytest.mark.timeout(180)
def test_never_land_secret_is_in_no_table_file_or_log(
    sandbox, tmp_path, warehouse_path, loader_for, caplog
):
    """payment_intents' client_secret is in the API's answer and in no table, staging included,
    no dlt file and no log line of the run; with `keep: sha256` only its digest lands."""
    secrets = _client_secrets(sandbox)
    assert len(secrets) == 200 and all(CLIENT_SECRET.fullmatch(secret) for secret in secrets)
    loader = loader_for([ledger_spec(tmp_path)])
    intents = dg.AssetKey(["ledger", "payment_intents"])
    staged = staging_key(loader.specs[0].view("payment_intents"))
    with caplog.at_level("DEBUG"):
        for selection, partition in ((intents, "2026-10-07"), (staged, None)):
            result = dg.materialize(
                [*loader.assets, *staging_assets(loader.specs, "duckdb")],
                selection=[selection],
                partition_key=partition,
                resources=loader.resources(),
                instance=loader.instance,
            )
            assert result.success
    [(rows,)] = query(warehouse_path, "select count(*) from ledger.payment_intents")
    assert rows > 0
    columns = {row[0] for row in query(warehouse_path, "describe ledger.payment_intents")}
    assert "client_secret" not in columns
    written = _written_text(tmp_path) + caplog.text
    assert not CLIENT_SECRET.search(written)
    [(staged_rows,)] = query(
        warehouse_path, f"select count(*) from {staged.path[0]}.{staged.path[1]}"
    )
    assert staged_rows == rows

    def hashed(raw: dict[str, Any]) -> None:
        intents_yaml = next(r for r in raw["resources"] if r["name"] == "payment_intents")
        intents_yaml["never_land"] = [{"field": "client_secret", "keep": "sha256"}]

    database = tmp_path / "hashed" / "warehouse.duckdb"
    database.parent.mkdir()
    _load(ledger_spec(tmp_path, hashed), sandbox, database, ["payment_intents"], None)
    digests = {
        row[0] for row in query(database, "select client_secret from ledger.payment_intents")
    }
    assert digests >= {sha256_of(secret) for secret in secrets}
    assert not CLIENT_SECRET.search(duckdb_text(database))


@pytest.mark.timeout(60)
def test_never_land_secret_is_not_in_the_webhook_store(tmp_path, monkeypatch):
    """A Stripe-signed ledger event about a payment intent is stored without its client_secret."""
    folder = tmp_path / "providers"
    folder.mkdir()
    ledger_spec(folder)
    monkeypatch.setenv("PAYMENTS_PROVIDERS_DIR", str(folder))
    secret, db = "whsec_test_ledger_8d1e", tmp_path / "webhooks.sqlite"
    intent = {"id": "pi_000001", "object": "payment_intent", "created": 1790000000}
    event = make_event(
        "ledger", "payment_intents", {**intent, "client_secret": "pi_000001_secret_" + "a1" * 12}
    )
    with running_receiver(db, {"ledger": secret}) as receiver:
        answer = post_event(receiver, "ledger", event, secret=secret, scheme="stripe")
        assert answer.status_code == 200, answer.text
        log = receiver.output()
    [stored] = WebhookStore(db).after("ledger", 0)
    assert stored.event.object == intent
    assert not CLIENT_SECRET.search(db.read_bytes().decode("latin-1") + log)


def test_dependent_resource_reads_its_parents_from_arrow_tables_and_pages_alike():
    """A parent on the Arrow path hands over tables, on the dict path pages: the same fields."""
    from payments_assets.sources.dependent import _parent_rows

    records = [{"id": "in_1", "customer": "cus_1"}, {"id": "in_2", "customer": None}]
    table = pyarrow.Table.from_pylist(records)
    fields = ["id", "customer"]
    assert list(_parent_rows(table, fields)) == list(_parent_rows(records, fields)) == records
