"""Lineage that means something: raw → staging → marts → exports, as Dagster's webserver serves
it over GraphQL and as a real browser (headless Chromium) draws it."""

from collections.abc import Iterator
from itertools import pairwise

import pytest

from payments_assets.assets.marts import marts_for
from payments_assets.specs import load_providers

from .lineage_ui import (
    AssetNode,
    Webserver,
    chromium_missing,
    render_lineage,
    running_webserver,
)

MART_INPUTS = {
    "fct_payments": {
        "staging/gateway__list_payments",
        "staging/billing__charges",
        "staging/direct_debit__payments",
        "staging/commerce__charges",
    },
    "fct_refunds": {
        "staging/billing__refunds",
        "staging/direct_debit__refunds",
        "staging/gateway__transactions",
        "staging/commerce__charges",
    },
    "dim_customers": {
        "staging/billing__customers",
        "staging/commerce__customers",
        "staging/direct_debit__mandates",
    },
    "fct_disputes": set(),  # no shipped provider has disputes (docs/providers/ledger.yaml does)
    "fct_payouts": {"staging/direct_debit__payouts"},
    "daily_revenue": {"marts/fct_payments", "marts/fct_refunds"},
    "daily_overview": {
        "marts/fct_payments",
        "marts/fct_refunds",
        "marts/fct_disputes",
        "marts/fct_payouts",
    },
    "payouts_reconciliation": {"marts/fct_payouts", "marts/fct_payments"},
    "fct_deletions": {"staging/deleted_records"},
    "fct_invoices": {"staging/billing__invoices"},
    "fct_invoice_lines": {"staging/billing__invoices__lines"},  # the lines inside each invoice
    "fct_subscriptions": {"staging/billing__subscriptions", "staging/commerce__subscriptions"},
    "subscription_mrr_monthly": {"marts/fct_subscriptions"},
    "fct_balance_transactions": set(),  # no shipped provider reports its balance movements
}


@pytest.fixture(scope="module")
def webserver() -> Iterator[Webserver]:
    with running_webserver({"PAYMENTS_DESTINATION": "duckdb"}) as server:
        yield server


@pytest.fixture(scope="module")
def nodes(webserver: Webserver) -> dict[str, AssetNode]:
    return webserver.asset_nodes()


def test_every_raw_table_feeds_its_staging_table(nodes: dict[str, AssetNode]) -> None:
    for spec in load_providers():
        for resource in spec.views:
            raw = nodes[f"{spec.name}/{resource.name}"]
            staged = nodes[f"staging/{spec.name}__{resource.name}"]
            assert staged.deps == {raw.key}
            assert raw.group == spec.name and staged.group == "staging"
            assert staged.kinds == {"sql", "duckdb"}
            assert resource.description and resource.description in staged.description


def test_marts_read_staging_and_exports_read_marts(nodes: dict[str, AssetNode]) -> None:
    for mart in marts_for(load_providers()):
        node = nodes[f"marts/{mart.name}"]
        assert node.deps == MART_INPUTS[mart.name], mart.name
        assert node.group == "marts" and node.kinds == {"sql", "duckdb"}
        assert node.description.split("?")[0].startswith(("What", "Who", "Does")), mart.name
        export = nodes[f"exports/{mart.name}_export"]
        assert export.deps == {node.key}
        assert export.group == "exports" and export.kinds == {"csv", "parquet"}
        assert f"{mart.name}.csv" in export.description
    assert {node.group for node in nodes.values()} >= {"staging", "marts", "exports"}
    assert nodes["staging/billing__invoices__lines"].deps == {nodes["billing/invoices"].key}


def test_a_charge_can_be_traced_from_the_api_to_the_export(nodes: dict[str, AssetNode]) -> None:
    chain = [
        "billing/charges",
        "staging/billing__charges",
        "marts/fct_payments",
        "marts/daily_revenue",
        "exports/daily_revenue_export",
    ]
    for upstream, downstream in pairwise(chain):
        assert upstream in nodes[downstream].deps, f"{upstream} → {downstream}"


def _upstream(nodes: dict[str, AssetNode], key: str, hops: int) -> set[str]:
    found, frontier = {key}, {key}
    for _ in range(hops):
        frontier = {dep for k in frontier for dep in nodes[k].deps}
        found |= frontier
    return found


@pytest.mark.e2e
def test_the_browser_draws_the_lineage_edges(webserver, nodes, tmp_path) -> None:
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    screenshot = tmp_path / "lineage.png"
    drawn = render_lineage(webserver, nodes, screenshot=screenshot)
    shown = _upstream(nodes, "exports/daily_revenue_export", hops=4)
    assert drawn.keys == shown
    assert drawn.edges == {(dep, key) for key in shown for dep in nodes[key].deps}
    assert {
        ("commerce/charges", "staging/commerce__charges"),
        ("staging/commerce__charges", "marts/fct_payments"),
        ("marts/fct_payments", "marts/daily_revenue"),
        ("marts/daily_revenue", "exports/daily_revenue_export"),
    } <= drawn.edges
    assert screenshot.stat().st_size > 20_000
