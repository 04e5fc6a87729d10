"""GoCardless' child list by query parameter, against the sandbox's `direct_debit`:
`GET /payout_items?payout=PO…` as a dependent resource (`params: {payout:
"{resources.payouts.id}"}`), materialized through Dagster.

The truth is the sandbox's own answer, read over HTTP: every page of every payout's items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from payments_assets.sandbox.payout_items import PAYOUT_ITEMS_PATH
from payments_assets.specs import ProviderSpec
from payments_assets.specs.loading import PROVIDERS_DIR, load_provider

from .source_fixtures import query

DIRECT_DEBIT_YAML = PROVIDERS_DIR / "direct_debit.yaml"
PAYOUT_ITEMS = {
    "name": "payout_items",
    "description": "The items of every payout of the window, one request walk per payout.",
    "endpoint": {
        "path": "/v1/payout_items",
        "params": {"payout": "{resources.payouts.id}"},
        "data_selector": "payout_items",
        # Pages of 5, so a payout of 12 items takes three requests.
        "paginator": {
            "type": "cursor",
            "limit": 5,
            "cursor_param": "after",
            "cursor_path": "meta.cursors.after",
        },
    },
    # GoCardless' items have no id: a payout pays a payment out once and charges its fee once.
    "primary_key": ["_payouts_id", "type", "links__payment"],
    "include_from_parent": ["currency"],
    "columns": {"amount": {"data_type": "bigint"}},
}
PAYOUTS_PATH = "/direct_debit/v1/payouts"


def _payout_items_spec(folder: Path) -> ProviderSpec:
    """The shipped direct_debit YAML with a `payout_items` resource."""
    raw = yaml.safe_load(DIRECT_DEBIT_YAML.read_text())
    raw["resources"].append(PAYOUT_ITEMS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "direct_debit.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_provider(path)


def _items_over_http(sandbox: Any, payout_id: str) -> list[dict[str, Any]]:
    """Every item of one payout, walked page by page from the API itself."""
    reader = requests.Session()
    reader.headers["Authorization"] = f"Bearer {sandbox.env['PAYMENTS_DIRECT_DEBIT_ACCESS_TOKEN']}"
    url = f"{sandbox.env['PAYMENTS_DIRECT_DEBIT_BASE_URL']}/v1/payout_items"
    items, params = [], {"payout": payout_id, "limit": 3}
    while True:
        response = reader.get(url, params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        items += body["payout_items"]
        if body["meta"]["cursors"]["after"] is None:
            return items
        params["after"] = body["meta"]["cursors"]["after"]


def _truth(sandbox: Any, database: Path) -> dict[str, tuple[int, int]]:
    """Payout id → (items, their amount sum) as the API tells, for every payout loaded."""
    truth = {}
    for payout_id, amount in query(database, "select id, amount from direct_debit.payouts"):
        items = _items_over_http(sandbox, payout_id)
        if items:
            total = sum(item["amount"] for item in items)
            assert total == amount, f"{payout_id}: items sum to the payout's amount"
            truth[payout_id] = (len(items), total)
    return truth


def _landed(database: Path) -> dict[str, tuple[int, int]]:
    rows = query(
        database,
        "select _payouts_id, count(*), sum(amount) from direct_debit.payout_items group by 1",
    )
    return {payout_id: (count, total) for payout_id, count, total in rows}


@pytest.mark.timeout(300)
def test_dependent_resource_by_query_parameter_loads_a_partition_the_month_and_a_rerun(
    sandbox, tmp_path, warehouse_path, loader_for
):
    """`?payout={resources.payouts.id}`: a day's payouts get exactly their items, the whole
    month gets every payout's, a rerun changes nothing."""
    loader = loader_for([_payout_items_spec(tmp_path / "providers")])
    assert loader.partition("2026-10-07", ["direct_debit"]).success
    day = _truth(sandbox, warehouse_path)
    assert day, "the day has payouts with items"
    assert _landed(warehouse_path) == day

    assert loader.partition_range("2026-10-01", "2026-10-31", ["direct_debit"]).success
    month = _truth(sandbox, warehouse_path)
    assert len(month) == 160, "200 payouts, every fifth without items"
    assert _landed(warehouse_path) == month
    [(carried,)] = query(
        warehouse_path,
        "select bool_and(i._payouts_currency = p.currency) from direct_debit.payout_items i "
        "join direct_debit.payouts p on p.id = i._payouts_id",
    )
    assert carried, "include_from_parent carries the payout's currency"

    assert loader.partition_range("2026-10-01", "2026-10-31", ["direct_debit"]).success
    assert _landed(warehouse_path) == month, "a rerun merges, it never doubles an item"


@pytest.mark.timeout(120)
def test_dependent_resource_by_query_parameter_of_an_empty_window_sends_no_request(
    sandbox, tmp_path, warehouse_path, loader_for
):
    loader = loader_for([_payout_items_spec(tmp_path / "providers")])
    before = sandbox.stats()["requests"]
    assert loader.partition("2026-11-05", ["direct_debit"]).success
    after = sandbox.stats()["requests"]
    assert after[PAYOUTS_PATH] > before.get(PAYOUTS_PATH, 0), "the parent was asked"
    assert after.get(PAYOUT_ITEMS_PATH, 0) == before.get(PAYOUT_ITEMS_PATH, 0)


def test_payout_items_without_a_payout_are_refused_as_gocardless_refuses(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.env['PAYMENTS_DIRECT_DEBIT_ACCESS_TOKEN']}"}
    url = f"{sandbox.env['PAYMENTS_DIRECT_DEBIT_BASE_URL']}/v1/payout_items"
    missing = requests.get(url, headers=headers, timeout=10)
    assert missing.status_code == 422
    assert missing.json() == {
        "error": {"code": 422, "type": "invalid_request", "message": "payout is required"}
    }
    unknown = requests.get(url, headers=headers, params={"payout": "PO999999"}, timeout=10)
    assert unknown.status_code == 404
    assert requests.get(url, params={"payout": "PO000001"}, timeout=10).status_code == 401
