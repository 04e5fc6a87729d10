"""What a mart is: a name, the question it answers, its grain, what it reads and its one query.

Marts are generated from the providers' roles (`fact_marts.py`) or from other marts
(`summary_marts.py`); one SQL text per mart serves DuckDB and Postgres alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from ..layers import MARTS as MARTS_SCHEMA
from ..layers import layer_tags, mart_key
from ..warehouse_sql import table_ref
from .feeds import Feed

# Statuses (common vocabulary) under which a payment's money was taken in; `refunded` payments
# were taken in too, and their refunds are subtracted in `fct_refunds` / `daily_revenue`.
COLLECTED = ("succeeded", "refunded")


def mart_ref(name: str) -> str:
    return table_ref(MARTS_SCHEMA, name)


def day_sql(timestamp: str) -> str:
    """The UTC calendar day of a timestamp with time zone, whatever the session's zone."""
    return f"CAST(({timestamp} AT TIME ZONE 'UTC') AS DATE)"


@dataclass(frozen=True)
class Mart:
    """One mart table: the question it answers, what it reads, and its query.

    A mart built from a role keeps its `feeds` (every resource unioned in) and the column its
    money is in (`amount`), so the reconciliation checks can compare it with staging."""

    name: str
    question: str
    grain: tuple[str, ...]  # the columns that identify a row
    reads: tuple[dg.AssetKey, ...]
    sql: str
    feeds: tuple[Feed, ...] = ()
    amount: str | None = None

    @property
    def key(self) -> dg.AssetKey:
        return mart_key(self.name)

    @property
    def description(self) -> str:
        fed_by = ", ".join(f"{feed.provider}/{feed.resource}" for feed in self.feeds)
        return f"{self.question} Fed by: {fed_by}." if self.feeds else self.question

    def asset_spec(self, destination_kind: str) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=self.key,
            deps=list(self.reads),
            description=self.description,
            group_name=MARTS_SCHEMA,
            kinds={"sql", destination_kind},
            owners=["team:payments-data"],
            tags=layer_tags(MARTS_SCHEMA),
            metadata={
                "dagster/table_name": f"{MARTS_SCHEMA}.{self.name}",
                "grain": ", ".join(self.grain),
            },
        )
