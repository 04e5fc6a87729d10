"""What a quality rule is: a name, whether it blocks, the tables it applies to, how it judges.

Rules are small functions from a `Subject` (the table as it is now) to a `Finding`; the factory in
`quality.py` turns every rule that applies to a raw table into one check on that asset, and
joins the findings of a table kept in several datasets (one per account).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import dagster as dg

from ..card_numbers import mask_card_numbers, mask_text
from ..layers import raw_key
from ..specs import ResourceView
from ..warehouse_sql import WarehouseSession, table_ref


@dataclass
class Subject:
    """One raw table at check time: its view, the dataset it is read in, what columns it has,
    and the instance's memory. A provider that keeps each account in its own dataset has one
    subject per dataset."""

    view: ResourceView
    dataset: str
    session: WarehouseSession
    instance: dg.DagsterInstance

    @cached_property
    def columns(self) -> dict[str, dict[str, str]]:
        """Column → type for the table and each child table, as the warehouse has them now."""
        return self.session.family(self.dataset, self.view.table)

    @property
    def main_columns(self) -> dict[str, str]:
        return self.columns.get(self.view.table, {})

    @property
    def ref(self) -> str:
        return table_ref(self.dataset, self.view.table)

    @property
    def key(self) -> dg.AssetKey:
        return raw_key(self.view)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.session.rows(sql, params)

    def check_key(self, rule: str) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(self.key, rule)


@dataclass(frozen=True)
class Finding:
    passed: bool
    description: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    blocking: bool
    applies_to: Callable[[ResourceView], bool]
    judge: Callable[[Subject], Finding]

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        # Only ERROR failures stop downstream assets; the rest ask for a look.
        return dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN

    def spec(self, view: ResourceView) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name, asset=raw_key(view), description=self.description, blocking=self.blocking
        )

    def result(self, key: dg.AssetKey, finding: Finding) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=self.name,
            passed=finding.passed,
            severity=self.severity,
            description=mask_text(finding.description),
            metadata=_masked(finding.metadata),
        )


def _masked(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Findings quote table values (duplicated keys, unknown codes): card numbers masked."""
    masked: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, str):
            value = mask_text(value)
        elif isinstance(value, dg.JsonMetadataValue):
            value = dg.MetadataValue.json(mask_card_numbers(copy.deepcopy(value.data)))
        elif isinstance(value, dg.TextMetadataValue):
            value = dg.MetadataValue.text(mask_text(value.text))
        masked[key] = value
    return masked


def listing(values: Any, limit: int = 5) -> str:
    """`a, b, c` — at most `limit` values, then how many more."""
    items = [str(value) for value in values]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def joined(findings: Mapping[str, Finding]) -> Finding:
    """One finding for a table read in several datasets (one per account): it passes when every
    dataset passes, and says which dataset each part is about."""
    if len(findings) == 1:
        return next(iter(findings.values()))
    metadata: dict[str, Any] = {"datasets": dg.MetadataValue.json(sorted(findings))}
    for dataset, finding in findings.items():
        metadata.update({f"{dataset}.{key}": value for key, value in finding.metadata.items()})
    return Finding(
        all(finding.passed for finding in findings.values()),
        "; ".join(f"{dataset}: {finding.description}" for dataset, finding in findings.items()),
        metadata,
    )
