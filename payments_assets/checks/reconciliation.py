"""Reconciliation: every mart holds what staging holds, no more and no less, and no mart fans out.

A mart generated from roles must have, for each resource it unions, as many rows and the same
amount sum as that resource's staging table (after the role's `when`, with the role's sign): a
join that drops or doubles rows, or a mapping that reads the wrong column, shows here first.
Every mart also keeps one row per grain. Both checks block: a mart that does not reconcile must
not reach the exports.

Where balance transactions name their payouts, each payout is held to the net of the movements
it settles (a warning: a payout's movements may land in a later window than the payout).
"""

from collections.abc import Iterator, Sequence
from decimal import Decimal

import dagster as dg

from ..assets.feeds import Feed
from ..assets.mart_spec import Mart, mart_ref
from ..layers import MARTS
from ..resources import Warehouse
from ..warehouse_sql import WarehouseSession, quote

MATCHES_STAGING = "matches_staging"
ONE_ROW_PER_GRAIN = "one_row_per_grain"
SETTLES_BALANCE_MOVEMENTS = "settles_balance_movements"


def _staging_figures(session: WarehouseSession, feed: Feed, mart: Mart) -> tuple[int, Decimal]:
    amount = f"SUM({feed.amount(mart.amount)})" if mart.amount else "0"
    [(rows, total)] = session.rows(
        f"SELECT COUNT(*), COALESCE({amount}, 0) FROM {feed.table} WHERE {feed.where()}"
    )
    return int(rows), Decimal(total)


def _mart_figures(session: WarehouseSession, feed: Feed, mart: Mart) -> tuple[int, Decimal]:
    amount = f"SUM({quote(mart.amount)})" if mart.amount else "0"
    [(rows, total)] = session.rows(
        f"SELECT COUNT(*), COALESCE({amount}, 0) FROM {mart_ref(mart.name)} "
        'WHERE "provider" = ? AND "source_resource" = ?',
        (feed.provider, feed.resource),
    )
    return int(rows), Decimal(total)


def reconcile(session: WarehouseSession, mart: Mart) -> dg.AssetCheckResult:
    """Rows and amount sums of `mart` per resource it unions, against staging."""
    figures, differences = {}, []
    for feed in mart.feeds:
        staged, built = _staging_figures(session, feed, mart), _mart_figures(session, feed, mart)
        name = f"{feed.provider}/{feed.resource}"
        figures[name] = {"staging": [staged[0], str(staged[1])], "mart": [built[0], str(built[1])]}
        if staged != built:
            differences.append(
                f"{name}: staging {staged[0]} rows, {staged[1]}; mart {built[0]} rows, {built[1]}"
            )
    return dg.AssetCheckResult(
        asset_key=mart.key,
        check_name=MATCHES_STAGING,
        passed=not differences,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(differences)
        or f"{len(mart.feeds)} resource(s) match staging in rows and amounts",
        metadata={"figures": dg.MetadataValue.json(figures)},
    )


def one_row_per_grain(session: WarehouseSession, mart: Mart) -> dg.AssetCheckResult:
    grain = ", ".join(quote(column) for column in mart.grain)
    [(rows, repeated)] = session.rows(
        f"SELECT COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT {grain}, COUNT(*) AS n "
        f"FROM {mart_ref(mart.name)} GROUP BY {grain} HAVING COUNT(*) > 1) AS repeated"
    )
    return dg.AssetCheckResult(
        asset_key=mart.key,
        check_name=ONE_ROW_PER_GRAIN,
        passed=repeated == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{repeated} {', '.join(mart.grain)} value(s) in {rows} rows"
        if repeated
        else f"one row per {', '.join(mart.grain)}",
        metadata={"repeated_grains": dg.MetadataValue.int(int(repeated))},
    )


BALANCE_MART, PAYOUTS_MART = "fct_balance_transactions", "fct_payouts"


def settling_providers(marts: Sequence[Mart]) -> list[str]:
    """Providers whose balance transactions name the payout that settled them."""
    return sorted(
        {
            feed.provider
            for mart in marts
            if mart.name == BALANCE_MART
            for feed in mart.feeds
            if feed.maps("payout")
        }
    )


def payouts_settle_balance_movements(
    session: WarehouseSession, payouts: Mart, providers: Sequence[str]
) -> dg.AssetCheckResult:
    """Each payout (not failed or canceled) of `providers` against the balance movements it
    settles: its amount must equal the sum of `net_amount` of the balance transactions naming
    it, in its currency (the payout's own movement, type `payout`, left out)."""
    listed = ", ".join("?" for _ in providers)
    rows = session.rows(
        f"""
SELECT p."provider", p."payout_id", p."currency", p."amount", m."settled", m."movements"
FROM {mart_ref(payouts.name)} AS p
LEFT JOIN (
  SELECT "provider", "account", "payout_id", "currency", SUM("net_amount") AS "settled",
    COUNT(*) AS "movements"
  FROM {mart_ref(BALANCE_MART)}
  WHERE "payout_id" IS NOT NULL AND COALESCE("type", '') <> 'payout'
  GROUP BY "provider", "account", "payout_id", "currency"
) AS m ON m."provider" = p."provider" AND m."account" = p."account"
  AND m."payout_id" = p."payout_id" AND m."currency" = p."currency"
WHERE p."provider" IN ({listed}) AND COALESCE(p."status", '') NOT IN ('failed', 'canceled')
ORDER BY p."provider", p."payout_id"
""",
        tuple(providers),
    )
    unsettled = [
        f"{provider}/{payout}: paid {amount} {currency}, movements "
        + (f"{settled} ({movements})" if settled is not None else "none")
        for provider, payout, currency, amount, settled, movements in rows
        if settled is None or Decimal(settled) != Decimal(amount)
    ]
    return dg.AssetCheckResult(
        asset_key=payouts.key,
        check_name=SETTLES_BALANCE_MOVEMENTS,
        passed=not unsettled,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(unsettled)} of {len(rows)} payouts differ from the balance movements they "
            f"settle: {'; '.join(unsettled[:10])}"
            if unsettled
            else f"{len(rows)} payouts equal the net of the balance movements they settle"
        ),
        metadata={"unsettled_payouts": dg.MetadataValue.int(len(unsettled))},
    )


def build_reconciliation_checks(
    marts: Sequence[Mart],
) -> list[dg.AssetChecksDefinition]:
    """Both checks on every mart (staging only on those built from roles), and payouts against
    the balance movements they settle where a provider's balance transactions name payouts,
    in one op."""
    settling = settling_providers(marts)
    by_name = {mart.name: mart for mart in marts}
    specs = [
        dg.AssetCheckSpec(
            ONE_ROW_PER_GRAIN,
            asset=mart.key,
            blocking=True,
            description=f"One row per {', '.join(mart.grain)}: no join fanned the mart out.",
        )
        for mart in marts
    ] + [
        dg.AssetCheckSpec(
            MATCHES_STAGING,
            asset=mart.key,
            blocking=True,
            description="Rows and amount sums equal staging's, per resource unioned in.",
        )
        for mart in marts
        if mart.feeds
    ]
    if settling and PAYOUTS_MART in by_name:
        specs.append(
            dg.AssetCheckSpec(
                SETTLES_BALANCE_MOVEMENTS,
                asset=by_name[PAYOUTS_MART].key,
                additional_deps=[by_name[BALANCE_MART].key],
                description=(
                    "Each payout equals the net of the balance transactions it settles "
                    f"({', '.join(settling)})."
                ),
            )
        )
    by_key = {mart.key: mart for mart in marts}

    @dg.multi_asset_check(
        name=f"{MARTS}__reconciliation",
        specs=specs,
        can_subset=True,
        required_resource_keys={"warehouse"},
        description="Marts against staging and against their own grain.",
    )
    def reconciliation(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        warehouse: Warehouse = context.resources.warehouse
        with warehouse.session() as session:
            for key in sorted(context.selected_asset_check_keys, key=str):
                mart = by_key[key.asset_key]
                if key.name == MATCHES_STAGING:
                    yield reconcile(session, mart)
                elif key.name == SETTLES_BALANCE_MOVEMENTS:
                    yield payouts_settle_balance_movements(session, mart, settling)
                else:
                    yield one_row_per_grain(session, mart)

    return [reconciliation]
