"""One raw asset as the checks see it: its key, where its rows live, and what its YAML promises.

Checks are built from provider specs, never per provider: this is the one place that turns a
`ResourceSpec` into the facts a check needs (keys, cursor column, partitions, freshness lag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

import dagster as dg

from ..partitions import partitions_for
from ..specs import ProviderSpec, QualitySpec, ResourceSpec


def column_name(field: str) -> str:
    """dlt's column for a YAML field: nested fields are flattened with `__` (`card.brand`)."""
    return field.replace(".", "__")


@dataclass(frozen=True)
class RawTable:
    spec: ProviderSpec
    resource: ResourceSpec

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([self.spec.name, self.resource.name])

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def table(self) -> str:
        return self.resource.name

    @property
    def quality(self) -> QualitySpec:
        return self.resource.quality

    @property
    def primary_key(self) -> tuple[str, ...]:
        key = self.spec.primary_key_of(self.resource)
        if key is None:
            return ()
        return tuple(column_name(k) for k in ([key] if isinstance(key, str) else key))

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(column_name(field) for field in self.quality.required)

    @property
    def amount_columns(self) -> tuple[str, ...]:
        return tuple(column_name(field) for field in self.quality.amount_columns)

    @property
    def currency_column(self) -> str | None:
        field = self.quality.currency_column
        return column_name(field) if field else None

    @property
    def cursor_column(self) -> str | None:
        incremental = self.spec.endpoint_of(self.resource).incremental
        return column_name(incremental.cursor_path) if incremental else None

    @cached_property
    def partitions_def(self) -> dg.TimeWindowPartitionsDefinition | None:
        return partitions_for(self.spec) if self.spec.is_windowed(self.resource) else None

    @property
    def max_lag(self) -> timedelta:
        return timedelta(hours=self.spec.freshness.max_lag_hours)


def raw_tables(specs: Sequence[ProviderSpec]) -> list[RawTable]:
    return [RawTable(spec, resource) for spec in specs for resource in spec.resources]
