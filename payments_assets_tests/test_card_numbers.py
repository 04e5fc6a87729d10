"""Card numbers never land in clear, however they are written: every brand and length, every
grouping, in free text, nested objects, lists, JSON columns, numbers and keys; through the Arrow
page path, dlt's dict path, webhooks, exports, metadata and error messages. Ordinary numbers stay.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments_assets.card_numbers import find_card_numbers, mask_card_numbers, mask_text
from payments_assets.checks.rules import Finding, Rule
from payments_assets.resources import ReportingExports
from payments_assets.sources.arrow import ArrowPages
from payments_assets.sources.redaction import Redactor
from payments_assets.specs import load_provider

from .card_fixtures import (
    JsonApi,
    card_numbers,
    leaked,
    objects,
    text_with_card,
    written,
)
from .leak_scan import card_numbers_in, duckdb_text
from .warehouse_fixtures import Loader
from .webhook_fixtures import make_event, post_event

FAST = settings(max_examples=300, deadline=None)
WITH_FIXTURES = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
}
ROWS = 12


@FAST
@given(text_with_card())
def test_a_card_number_in_any_grouping_is_masked_and_the_text_around_it_kept(drawn):
    text, pan = drawn
    masked = mask_text(text)
    assert leaked(masked, [pan]) == []
    assert masked.count("*") >= len(pan) - 10
    # Only digits were replaced: every other character is where it was.
    assert len(masked) == len(text)
    assert all(m == t or (t.isdigit() and m == "*") for m, t in zip(masked, text, strict=True))
    assert mask_text(masked) == masked


@FAST
@given(card_numbers().flatmap(lambda pan: st.tuples(st.just(pan), written(pan))))
def test_first_six_and_last_four_digits_stay(drawn):
    pan, shape = drawn
    digits = [c for c in mask_text(shape) if c.isdigit() or c == "*"]
    assert "".join(digits) == pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


@FAST
@given(st.data())
def test_card_numbers_anywhere_in_a_record_are_masked(data):
    pans: list[str] = []
    record = data.draw(objects(pans, lists=True))
    masked = mask_card_numbers(copy.deepcopy(record))
    assert leaked(json.dumps(masked), pans) == []


@FAST
@given(st.data())
def test_a_card_number_as_a_key_is_masked_in_the_key(data):
    text, pan = data.draw(text_with_card())
    masked = mask_card_numbers({text: 1, "nested": {text: [text]}})
    assert leaked(json.dumps(masked), [pan]) == []
    assert 1 in masked.values()


def _fuzz_spec(folder: Path) -> Any:
    return load_provider(folder / "fuzz.yaml")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_arrow_pages_mask_what_the_dict_path_masks(data, json_api: JsonApi, tmp_path: Path):
    spec = _fuzz_spec(tmp_path / "providers")
    pans: list[str] = []
    rows = [
        {"id": f"n{i}", **data.draw(objects(pans, lists=False))}
        for i in range(data.draw(st.integers(1, 30)))
    ]
    converted = ArrowPages(spec.view("notes"), {})._convert(copy.deepcopy(rows))
    text = (
        json.dumps(converted.to_pylist(), default=str)
        if isinstance(converted, pa.Table)
        else json.dumps(converted, default=str)
    )
    names = " ".join(converted.column_names) if isinstance(converted, pa.Table) else ""
    assert leaked(text + names, pans) == []


ORDINARY = st.fixed_dictionaries(
    {
        "amount": st.integers(0, 10**11),
        "epoch_seconds": st.integers(0, 4_102_444_800),
        "sent_at_ms": st.integers(1_000_000_000_000, 9_999_999_999_999),
        "id": st.integers(0, 999_999).map(lambda n: f"cus_{n:06d}"),
        "reference": st.integers(0, 10**8 - 1).map(lambda n: f"REF-{n:08d}"),
        "phone": st.sampled_from(("+44 20 7946 0958", "+1 415 555 2671", "+49 151 23456789"))
        | st.integers(10**9, 10**10 - 1).map(lambda n: f"0{n}"),
        "day": st.dates().map(str),
        "moment": st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        "price": st.decimals(0, 10**9, places=2).map(str),
        "ratio": st.floats(0, 10**6, allow_nan=False).map(str),
        "order_ref": st.integers(10**15, 10**16 - 1)
        .filter(lambda n: mask_text(str(n)) == str(n))
        .map(str),
    }
)


@FAST
@given(ORDINARY)
def test_ordinary_numbers_are_left_alone(record):
    """Amounts, epoch times (milliseconds in a column typed `timestamp`), ids, references,
    phone numbers, dates, decimals and floats written as text: none is a card number."""
    assert mask_card_numbers(copy.deepcopy(record), times={"sent_at_ms"}) == record


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_card_number_survives_a_load_into_the_warehouse(
    data, json_api: JsonApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Served by a real HTTP API, loaded by the raw assets through dlt: the Arrow page path
    (notes), the dict path with child tables (orders) and a JSON column (events)."""
    database = tmp_path / f"fuzz-{data.draw(st.uuids()).hex}.duckdb"
    monkeypatch.setenv("PAYMENTS_DUCKDB_PATH", str(database))
    monkeypatch.setenv("PAYMENTS_DLT_WORKDIR", str(tmp_path / "dlt"))
    pans: list[str] = []
    json_api.pages = {
        "/notes": [{"id": f"n{i}", **data.draw(objects(pans, lists=False))} for i in range(ROWS)],
        "/orders": [
            {"id": f"o{i}", "lines": data.draw(st.lists(objects(pans, lists=True), max_size=3))}
            for i in range(ROWS)
        ],
        "/events": [
            {"id": f"e{i}", "payload": data.draw(objects(pans, lists=True))} for i in range(ROWS)
        ],
    }
    spec = _fuzz_spec(tmp_path / "providers")
    with dg.instance_for_test() as instance:
        result = Loader([spec], instance).snapshots()
        events = "\n".join(str(entry) for entry in instance.all_logs(result.run_id))
    assert result.success
    assert leaked(duckdb_text(database), pans) == []
    assert leaked(events, pans) == []
    [[rows]] = _rows(database, "select count(*) from fuzz.notes")
    assert rows == ROWS


def _rows(database: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_an_error_quoting_a_response_body_masks_its_card_number(
    json_api: JsonApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PAYMENTS_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("PAYMENTS_DLT_WORKDIR", str(tmp_path / "dlt"))
    json_api.pages = {"/notes": [], "/orders": [], "/events": []}
    json_api.html = "<html><title>Card 4000 0566 5566 5556 declined</title></html>"
    with dg.instance_for_test() as instance:
        result = Loader([_fuzz_spec(tmp_path / "providers")], instance).snapshots(
            raise_on_error=False
        )
        events = "\n".join(str(entry) for entry in instance.all_logs(result.run_id))
    assert not result.success
    assert "expected JSON" in events and "4000 05** **** 5556" in events
    assert leaked(events, ["4000056655665556"]) == []


@FAST
@given(text_with_card())
def test_redacted_errors_and_log_lines_mask_card_numbers(drawn):
    text, pan = drawn
    assert leaked(Redactor(["secret_value"])(f"GET /v1/x answered: {text}"), [pan]) == []


@FAST
@given(text_with_card())
def test_check_results_mask_the_values_they_quote(drawn):
    text, pan = drawn
    finding = Finding(False, f"duplicated: {text}", {"examples": dg.MetadataValue.json([text])})
    rule = Rule("r", "d", False, lambda target: True, lambda subject: finding)
    result = rule.result(dg.AssetKey(["p", "t"]), finding)
    assert leaked(result.description + json.dumps(result.metadata["examples"].data), [pan]) == []


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=st.lists(text_with_card(), min_size=1, max_size=10), data=st.data())
def test_exports_write_no_card_number(drawn, data, tmp_path: Path):
    pans = [pan for _, pan in drawn]
    numbers = data.draw(st.lists(card_numbers(), min_size=len(drawn), max_size=len(drawn)))
    table = pa.table({"note": [text for text, _ in drawn], "number": [int(pan) for pan in numbers]})
    ReportingExports(folder=str(tmp_path / "exports")).write("fct_notes", table)
    csv, parquet = (
        tmp_path / "exports" / "fct_notes.csv",
        tmp_path / "exports" / "fct_notes.parquet",
    )
    written_text = csv.read_text(encoding="utf-8")
    written_text += json.dumps(pyarrow.parquet.read_table(parquet).to_pylist())
    assert leaked(written_text, pans + numbers) == []
    assert pyarrow.csv.read_csv(csv).num_rows == len(drawn)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_webhook_events_are_stored_and_logged_masked(data, receiver, receiver_store):
    """Card numbers in an event's record, its id or its type: masked in the receiver's store,
    and its log (the events table masks again as it loads: test_webhooks)."""
    pans: list[str] = []
    text, pan = data.draw(text_with_card())
    pans.append(pan)
    record = {"id": "ch_000001", **data.draw(objects(pans, lists=True))}
    event = make_event("commerce", "charges", record, id=f"evt_{pan}_{len(pans)}")
    event["data"]["object"]["description"] = text
    assert post_event(receiver, "commerce", event).status_code == 200
    stored = receiver_store.after("commerce", 0)
    written = json.dumps([(s.event_id, s.type, s.payload) for s in stored])
    assert leaked(written, pans) == [] and leaked(receiver.output(), pans) == []
    assert any(s.event_id.startswith("evt_" + pan[:6]) for s in stored)


def test_the_leak_scan_reads_no_card_number_into_a_hash_and_still_finds_one_beside_it():
    """Dagster's data versions are sha256 digests; one of them held `555279874952251`, a
    Luhn-valid digit run. Hashes and UUIDs are not card data; a card next to one still is."""
    digest = "2159ff555279874952251d30a642eac898f39f4878c00684b2aa897213f08a30"
    run_id = "0e5a1c9d-5555-5555-5555-555555554444"
    assert find_card_numbers(digest) == ["555279874952251"]  # what the rule alone reads
    assert "5555555555554444" in find_card_numbers(run_id)
    tags = f'{{"dagster/data_version": "{digest}", "run_id": "{run_id}"}}'
    assert card_numbers_in(tags) == []
    assert card_numbers_in(f"{tags} card 5555 5555 5555 4444") == ["5555555555554444"]
