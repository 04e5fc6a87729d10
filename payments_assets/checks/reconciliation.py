"""Reconciliation: every mart holds what staging holds, no more and no less, and no mart fans out.

A mart generated from roles must have, for each resource it unions, as many rows and the same
amount sum as that resource's staging table (after the role's `when`, with the role's sign): a
join that drops or doubles rows, or a mapping that reads the wrong column, shows here first.
Every mart also keeps one row per grain. Both checks block: a mart that does not reconcile must
not reach the exports.
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


def build_reconciliation_checks(
    marts: Sequence[Mart],
) -> list[dg.AssetChecksDefinition]:
    """Both checks on every mart (staging only on those built from roles), in one op."""
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
                else:
                    yield one_row_per_grain(session, mart)

    return [reconciliation]
