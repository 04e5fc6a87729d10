"""Data-quality checks on every raw asset, built from each resource's `quality` block in its YAML.

Every rule that applies to a raw table becomes a check on it; the rules that block (keys,
required fields, money) stop downstream assets when they fail with ERROR severity.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from ..layers import raw_key
from ..resources import Warehouse
from ..specs import ProviderSpec
from .deletions import DELETIONS_VS_HISTORY
from .integrity import PRIMARY_KEY_NOT_NULL, PRIMARY_KEY_UNIQUE, REQUIRED_FIELDS_NOT_NULL
from .money import AMOUNTS_IN_MINOR_UNITS, CURRENCIES_ISO_4217
from .role_fields import ROLE_FIELDS_PRESENT
from .rules import Finding, Rule, Subject, joined
from .schema import SCHEMA_UNCHANGED
from .volume import ROW_COUNT_VS_HISTORY

LOADS_LOOKED_AT = 20  # recent materializations searched for the table a load counted

RULES: tuple[Rule, ...] = (
    PRIMARY_KEY_UNIQUE,
    PRIMARY_KEY_NOT_NULL,
    REQUIRED_FIELDS_NOT_NULL,
    AMOUNTS_IN_MINOR_UNITS,
    CURRENCIES_ISO_4217,
    ROLE_FIELDS_PRESENT,
    ROW_COUNT_VS_HISTORY,
    SCHEMA_UNCHANGED,
    DELETIONS_VS_HISTORY,
)


def build_quality_checks(specs: Sequence[ProviderSpec]) -> list[dg.AssetChecksDefinition]:
    """The quality checks of every resource, one multi-check per provider.

    One op per provider, not per table: every op of a run is a process of its own, and a
    provider's tables load in one op too. On DuckDB the warehouse's session holds the file's
    writer lock, so a check never opens the file while another run is loading into it.
    """
    return [_provider_checks(spec) for spec in specs]


def _provider_checks(spec: ProviderSpec) -> dg.AssetChecksDefinition:
    rules = {
        dg.AssetCheckKey(raw_key(view), rule.name): (view, rule)
        for view in spec.views
        for rule in RULES
        if rule.applies_to(view)
    }

    @dg.multi_asset_check(
        name=f"{spec.name}__quality",
        specs=[rule.spec(view) for view, rule in rules.values()],
        can_subset=True,
        required_resource_keys={"warehouse"},
        description=f"Data-quality rules for {spec.name}'s raw tables, from its YAML.",
    )
    def quality(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        warehouse: Warehouse = context.resources.warehouse
        with warehouse.session() as session:
            subjects: dict[tuple[str, str], Subject] = {}
            for key in sorted(context.selected_asset_check_keys, key=str):
                view, rule = rules[key]
                findings = {}
                for dataset in view.dataset_names:
                    subject = subjects.setdefault(
                        (view.name, dataset), Subject(view, dataset, session, context.instance)
                    )
                    findings[dataset] = _judge(rule, subject)
                yield rule.result(key.asset_key, joined(findings))

    return quality


def _judge(rule: Rule, subject: Subject) -> Finding:
    if not subject.main_columns:
        return _absent_table(subject)
    return rule.judge(subject)


def _absent_table(subject: Subject) -> Finding:
    """No table where the check looks: fine before the API ever returned a record, a failure when
    a load counted rows in it — a check that cannot see its table must not pass."""
    table = f"{subject.dataset}.{subject.view.table}"
    records = subject.instance.fetch_materializations(subject.key, limit=LOADS_LOOKED_AT).records
    for record in records:
        materialization = record.asset_materialization
        metadata = materialization.metadata if materialization else {}
        named = metadata.get("dagster/table_name")
        counted = metadata.get("dagster/row_count")
        if named is not None and named.value == table and counted is not None:
            return Finding(
                False,
                f"table {table} is not in the warehouse, but a load counted {counted.value} "
                "rows in it: it was dropped, or this check reads the wrong place",
                {"table": table, "rows_counted_by_load": counted.value},
            )
    return Finding(True, f"no table {table} yet: the API has not returned a record")
