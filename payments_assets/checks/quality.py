"""Data-quality checks on every raw asset, built from each resource's `quality` block in its YAML.

Every rule that applies to a raw table becomes a check on it; the rules that block (keys,
required fields, money) stop downstream assets when they fail with ERROR severity.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from ..resources import Warehouse
from ..specs import ProviderSpec
from .integrity import PRIMARY_KEY_NOT_NULL, PRIMARY_KEY_UNIQUE, REQUIRED_FIELDS_NOT_NULL
from .money import AMOUNTS_IN_MINOR_UNITS, CURRENCIES_ISO_4217
from .rules import Finding, Rule, Subject
from .schema import SCHEMA_UNCHANGED
from .targets import raw_tables
from .volume import ROW_COUNT_VS_HISTORY

RULES: tuple[Rule, ...] = (
    PRIMARY_KEY_UNIQUE,
    PRIMARY_KEY_NOT_NULL,
    REQUIRED_FIELDS_NOT_NULL,
    AMOUNTS_IN_MINOR_UNITS,
    CURRENCIES_ISO_4217,
    ROW_COUNT_VS_HISTORY,
    SCHEMA_UNCHANGED,
)


def build_quality_checks(
    specs: Sequence[ProviderSpec], pool: str | None = None
) -> list[dg.AssetChecksDefinition]:
    """The quality checks of every resource, one multi-check per provider.

    One op per provider, not per table: every op of a run is a process of its own, and a
    provider's tables load in one op too. `pool` guards the warehouse: DuckDB admits one process
    at a time, so on DuckDB pass the writers' pool and a check never opens the file while another
    run is loading into it.
    """
    return [_provider_checks(spec, pool) for spec in specs]


def _provider_checks(spec: ProviderSpec, pool: str | None) -> dg.AssetChecksDefinition:
    rules = {
        dg.AssetCheckKey(target.key, rule.name): (target, rule)
        for target in raw_tables([spec])
        for rule in RULES
        if rule.applies_to(target)
    }

    @dg.multi_asset_check(
        name=f"{spec.name}__quality",
        specs=[rule.spec(target) for target, rule in rules.values()],
        can_subset=True,
        required_resource_keys={"warehouse"},
        pool=pool,
        description=f"Data-quality rules for {spec.name}'s raw tables, from its YAML.",
    )
    def quality(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        warehouse: Warehouse = context.resources.warehouse
        subjects: dict[dg.AssetKey, Subject] = {}
        for key in sorted(context.selected_asset_check_keys, key=str):
            target, rule = rules[key]
            subject = subjects.setdefault(target.key, Subject(target, warehouse, context.instance))
            yield rule.result(subject, _judge(rule, subject))

    return quality


def _judge(rule: Rule, subject: Subject) -> Finding:
    if not subject.main_columns:
        return Finding(True, "no table yet: the API has not returned a record")
    return rule.judge(subject)
