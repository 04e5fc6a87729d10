"""Marts: the tables finance and analysts ask for, each one SQL query over staging (or marts).

Which provider record counts as a payment, a refund or a customer is stated in each provider's
YAML (`roles:`), not here: the fact marts union every resource with the role they need
(`fact_marts.py`), the summaries read the fact marts (`summary_marts.py`). So a provider added
as a YAML file is in every mart, its checks and exports, and no Python names a provider.
"""

from collections.abc import Iterator, Sequence

import dagster as dg
from dagster import AssetExecutionContext

from ..layers import MARTS as MARTS_SCHEMA
from ..layers import layer_tags
from ..resources import Warehouse
from ..specs import ProviderSpec, load_providers
from .balance_marts import fct_balance_transactions
from .fact_marts import FACT_MARTS
from .invoice_marts import INVOICE_MARTS
from .mart_spec import Mart
from .subscription_marts import subscription_marts
from .summary_marts import summary_marts
from .table_facts import table_facts


def marts_for(specs: Sequence[ProviderSpec]) -> tuple[Mart, ...]:
    """Every mart for these providers, in build order (a mart after the marts it reads)."""
    facts = tuple(build(specs) for build in FACT_MARTS)
    return (
        *facts,
        *summary_marts(facts),
        *(build(specs) for build in INVOICE_MARTS),
        *subscription_marts(specs),
        fct_balance_transactions(specs),
    )


def mart_assets(
    destination_kind: str, marts: Sequence[Mart] | None = None
) -> list[dg.AssetsDefinition]:
    """Every mart in one op, built in order, so a refresh of all marts is one step (by default
    the marts of the providers `load_providers()` finds)."""
    marts = marts_for(load_providers()) if marts is None else marts

    @dg.multi_asset(
        name="mart_tables",
        specs=[mart.asset_spec(destination_kind) for mart in marts],
        can_subset=True,
        op_tags=layer_tags(MARTS_SCHEMA),
    )
    def build_marts(
        context: AssetExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.MaterializeResult]:
        with warehouse.session() as session:
            for mart in marts:
                if mart.key in context.selected_asset_keys:
                    session.replace_table(MARTS_SCHEMA, mart.name, mart.sql)
                    yield dg.MaterializeResult(
                        asset_key=mart.key, metadata=table_facts(session, MARTS_SCHEMA, mart.name)
                    )

    return [build_marts]
