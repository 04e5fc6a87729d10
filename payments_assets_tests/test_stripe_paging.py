"""The ledger's payouts and disputes page as every Stripe list does (`limit`, `starting_after`,
`has_more`, `data`), so docs/providers/ledger.yaml, README's example, reads them with Stripe's
own paging: they land exactly what the API lists, and a YAML that sends another API's
`per_page` fails its run with the provider's own words.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from .source_fixtures import ledger_spec, query
from .test_ingest import failure_message
from .test_roles import LedgerRecords

ALL_DAYS = ("2026-10-01", "2026-10-30")
LISTS = ("payouts", "disputes")


@pytest.mark.timeout(240)
def test_stripe_paging_lands_ledger_payouts_and_disputes_exactly(
    sandbox, tmp_path, warehouse_path, loader_for
):
    """One run over October, as a single-run backfill launches it: each list lands every record
    the API lists once, with the same amounts and current statuses."""
    loader = loader_for([ledger_spec(tmp_path)])
    sandbox.reset_stats()
    result = dg.materialize(
        loader.assets,
        selection=[dg.AssetKey(["ledger", name]) for name in LISTS],
        resources=loader.resources(),
        instance=loader.instance,
        tags={
            "dagster/asset_partition_range_start": ALL_DAYS[0],
            "dagster/asset_partition_range_end": ALL_DAYS[1],
        },
    )
    assert result.success
    pages = {"/ledger/v1/payouts": 2, "/ledger/v1/disputes": 2}
    assert sandbox.stats()["requests"] == pages, "two pages of 100, the second `starting_after`"
    api = LedgerRecords(sandbox)  # walks `starting_after` until `has_more` is false
    for name in LISTS:
        listed = api.listed(name)
        assert len(listed) == 200, name
        [(rows, distinct, amount)] = query(
            warehouse_path, f'select count(*), count(distinct id), sum(amount) from ledger."{name}"'
        )
        assert (rows, distinct, amount) == (200, 200, sum(row["amount"] for row in listed)), name
        landed = query(warehouse_path, f'select id, amount, status from ledger."{name}"')
        assert sorted(landed) == sorted((r["id"], r["amount"], r["status"]) for r in listed), name


@pytest.mark.timeout(120)
def test_stripe_paging_per_page_is_refused_and_the_run_error_quotes_the_provider(
    sandbox, tmp_path, warehouse_path, loader_for
):
    """`per_page` is another API's size parameter: the ledger answers 400 as Stripe does, not
    retried, and the run's error says why in the provider's words."""

    def per_page(raw: dict[str, Any]) -> None:
        [payouts] = [r for r in raw["resources"] if r["name"] == "payouts"]
        payouts["endpoint"]["params"] = {"per_page": 100}

    loader = loader_for([ledger_spec(tmp_path, per_page)])
    sandbox.reset_stats()
    result = dg.materialize(
        loader.assets,
        selection=[dg.AssetKey(["ledger", "payouts"])],
        partition_key="2026-10-05",
        resources=loader.resources(),
        instance=loader.instance,
        raise_on_error=False,
    )
    assert not result.success
    message = failure_message(result)
    assert "ledger/payouts: GET /ledger/v1/payouts answered HTTP 400." in message
    assert 'The provider said: "Received unknown parameter: per_page".' in message
    assert sandbox.stats()["requests"] == {"/ledger/v1/payouts": 1}, "a 400 is not retried"
