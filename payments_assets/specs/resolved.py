"""One resolved view per resource: every fact about it derived once, when its provider loads.

A resource's YAML says little by itself: its endpoint inherits `resource_defaults`, its merge key
gains the account column when accounts share tables, a snapshot of several accounts merges
instead of replacing, its rows land in one dataset per provider or per account. Ingest,
staging, checks, schedules, sensors and webhooks all read those facts from this view, so none of
them derives one a second way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dialect import (
    ACCOUNT_COLUMN,
    TIME_TYPES,
    ColumnHint,
    DeleteSpec,
    EndpointSpec,
    IncrementalSpec,
    PaginatorSpec,
    QualitySpec,
    WriteDisposition,
)
from .record_shapes import (
    NestedListSpec,
    NeverLandField,
    ParentReference,
    never_land_fields,
    parent_references,
)
from .roles import ROLES, RoleSpec, Unit, mapped_fields, status_field

if TYPE_CHECKING:
    from .provider import ProviderSpec


DELETED_AT = "_deleted_at"
"""Set on a row whose record the provider deleted (soft mode); its presence removes the row in
hard mode (dlt's `hard_delete` hint)."""


def column_name(path: str) -> str:
    """dlt's column for a YAML field: nested fields are flattened with `__` (`card.brand`)."""
    return path.removeprefix("$.").replace(".", "__")


@dataclass(frozen=True, eq=False)
class ResourceView:
    """A provider resource with its defaults, keys, dataset and layer facts resolved."""

    spec: ProviderSpec = field(repr=False)
    name: str
    description: str
    endpoint: EndpointSpec
    primary_key: tuple[str, ...]
    """The merge key as dlt sees it; `_account` first when accounts share the table."""
    write_disposition: WriteDisposition
    columns: Mapping[str, ColumnHint]
    quality: QualitySpec
    statuses: Mapping[str, str]
    max_table_nesting: int | None
    datasets: Mapping[str, str]
    """Account → the dataset (schema) its rows land in."""
    deletes: DeleteSpec | None = None
    """How the provider signals this resource's deletions (None: it does not)."""
    nested_lists: tuple[NestedListSpec, ...] = ()
    never_land: tuple[NeverLandField, ...] = ()
    parent: ParentReference | None = None
    """The resource whose records this one is fetched for (a dependent resource), if any."""
    include_from_parent: tuple[str, ...] = ()
    parent_windowed: bool = False
    """A dependent resource is windowed through its parent: a window's parents, their children."""
    roles: Mapping[str, RoleSpec] = field(default_factory=dict)
    """What the resource is to the marts: role → field mapping (`specs/roles.py`)."""

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def key(self) -> tuple[str, str]:
        """The raw asset's key path, `(provider, resource)`."""
        return (self.spec.name, self.name)

    @property
    def table(self) -> str:
        return self.name

    @property
    def path(self) -> str:
        assert self.endpoint.path is not None  # checked when the provider loaded
        return self.endpoint.path

    @property
    def paginator(self) -> PaginatorSpec:
        assert self.endpoint.paginator is not None
        return self.endpoint.paginator

    @property
    def data_selector(self) -> str:
        assert self.endpoint.data_selector is not None
        return self.endpoint.data_selector

    @property
    def incremental(self) -> IncrementalSpec | None:
        return self.endpoint.incremental

    @property
    def windowed(self) -> bool:
        """Resources with a time cursor (or a windowed parent) are partitioned; the others are
        snapshots."""
        return self.endpoint.incremental is not None or self.parent_windowed

    @property
    def cursor_column(self) -> str | None:
        """The column of the record's update time (which decides its latest version)."""
        return column_name(self.incremental.cursor_path) if self.incremental else None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key's columns as dlt names them (nested fields flattened)."""
        return tuple(column_name(part) for part in self.primary_key)

    @property
    def dlt_primary_key(self) -> str | list[str] | None:
        if not self.primary_key:
            return None
        return self.primary_key[0] if len(self.primary_key) == 1 else list(self.primary_key)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(column_name(f) for f in self.quality.required))

    @property
    def amount_columns(self) -> tuple[str, ...]:
        return tuple(column_name(f) for f in self.quality.amount_columns)

    @property
    def currency_column(self) -> str | None:
        """`quality.currency_column`, else the currency field a role maps."""
        field_ = self.quality.currency_column or next(
            (
                path
                for role, _, name, path in mapped_fields(self.roles)
                if ROLES[role][name].kind == "currency"
            ),
            None,
        )
        return column_name(field_) if field_ else None

    @property
    def staged_amounts(self) -> dict[str, Unit]:
        """Column → unit of every amount staging turns into an exact decimal (with `_minor`):
        `quality.amount_columns` (minor units) and every amount a role maps."""
        return {**dict.fromkeys(self.amount_columns, "minor"), **self.role_amounts(None)}

    @property
    def status_column(self) -> str:
        """The column staging maps through `statuses` into `status` (a role may name another)."""
        mapped = status_field(self.roles)
        return column_name(mapped) if mapped else "status"

    @property
    def role_columns(self) -> dict[str, str]:
        """Column → type of every field a role reads: staging adds an absent one as a typed
        NULL (dlt makes a column only when a value arrives), so a mart never misses one."""
        return self.role_columns_of(None)

    @property
    def role_lists(self) -> tuple[str, ...]:
        """The nested lists roles read (an invoice's lines): each is staged as a table."""
        return tuple(dict.fromkeys(spec.list for spec in self.roles.values() if spec.list))

    def list_table(self, nested: str) -> str:
        """dlt's child table of the items of a nested list (`invoices__lines`)."""
        return f"{self.table}__{column_name(nested)}"

    def role_columns_of(self, nested: str | None) -> dict[str, str]:
        """Column → type of every field a role reads from the items of `nested` (None: from
        the record itself)."""
        found: dict[str, str] = {}
        for role, spec, name, path in mapped_fields(self.roles, nested):
            kind = ROLES[role][name].kind
            major = kind == "amount" and spec.unit_of(name) == "major"
            found[column_name(path)] = "double" if major else _HINTS.get(kind, "text")
        return found

    def role_amounts(self, nested: str | None) -> dict[str, Unit]:
        """Column → unit of every amount a role reads from the items of `nested` (None: from
        the record itself)."""
        return {
            column_name(path): spec.unit_of(name)
            for role, spec, name, path in mapped_fields(self.roles, nested)
            if ROLES[role][name].kind == "amount"
        }

    @property
    def hinted_types(self) -> dict[str, str]:
        return {name: hint.data_type for name, hint in self.columns.items() if hint.data_type}

    @property
    def time_columns(self) -> tuple[str, ...]:
        """Columns the YAML types as times: a number there is an epoch time, never a card."""
        return tuple(name for name, kind in self.hinted_types.items() if kind in TIME_TYPES)

    @property
    def accounts_share_tables(self) -> bool:
        return self.spec.accounts_share_tables

    def dataset(self, account: str) -> str:
        return self.datasets[account]

    @property
    def dataset_names(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.datasets.values())))

    @property
    def record_key(self) -> str | None:
        """The one column naming a record (the primary key without `_account`), for deletes."""
        own = [column for column in self.key_columns if column != ACCOUNT_COLUMN]
        return own[0] if len(own) == 1 else None

    def metadata(self) -> dict[str, str]:
        """What the raw asset shows of its YAML in the UI."""
        return {
            "provider": self.provider,
            "api_path": self.path,
            "primary_key": ", ".join(self.primary_key),
            "write_disposition": self.write_disposition,
            "windowed_by": self.incremental.cursor_path if self.incremental else "snapshot",
            "dataset": ", ".join(self.dataset_names),
            "deletes": f"{self.deletes.mode} ({', '.join(deletion_signals(self.deletes))})"
            if self.deletes
            else "not tracked",
        }


_HINTS = {"time": "timestamp", "amount": "bigint", "number": "bigint"}
"""A role field's column type by its kind, if not text."""


def deletion_signals(deletes: DeleteSpec) -> list[str]:
    """The ways a deletion of the resource arrives, in words."""
    signals = []
    if deletes.when is not None:
        signals.append(f"{deletes.when.field} in {list(deletes.when.values)}")
    if deletes.events is not None:
        signals.append(f"{deletes.events.resource} {', '.join(deletes.events.types)}")
    if deletes.webhooks:
        signals.append(f"webhooks {', '.join(deletes.webhooks)}")
    if deletes.absent_from_snapshot:
        signals.append("absence from the latest snapshot")
    return signals


def _deletes(
    resource: str, inherited: DeleteSpec | None, own: DeleteSpec | None
) -> DeleteSpec | None:
    """The resource's own keys over the defaults', with `{resource}` in event types filled in."""
    if inherited is None and own is None:
        return None
    merged = {
        **(inherited.model_dump(exclude_unset=True) if inherited else {}),
        **(own.model_dump(exclude_unset=True) if own else {}),
    }
    merged["webhooks"] = [kind.format(resource=resource) for kind in merged.get("webhooks", ())]
    if merged.get("events"):
        events = merged["events"]
        events["types"] = [kind.format(resource=resource) for kind in events["types"]]
    return DeleteSpec.model_validate(merged)


def resolve(spec: ProviderSpec, index: int) -> ResourceView:
    """The view of `spec.resources[index]`: defaults filled in, keys and datasets decided."""
    resource = spec.resources[index]
    defaults = spec.resource_defaults
    inherited = defaults.endpoint.model_dump(exclude_unset=True)
    own = resource.endpoint.model_dump(exclude_unset=True)
    # Static query parameters add up: a resource's own join (and win over) the defaults'.
    params = {**inherited.get("params", {}), **own.get("params", {})}
    merged = {**inherited, **own, "params": params}
    references = parent_references(merged.get("path") or "", params)
    parent = references[0] if references else None
    if parent is not None:
        merged["incremental"] = None  # windowed through its parent's records instead
    endpoint = EndpointSpec.model_validate(merged)
    # `primary_key: null` (or `[]`) says "no key" (a single object, a snapshot); unset inherits.
    key = (
        resource.primary_key if "primary_key" in resource.model_fields_set else defaults.primary_key
    )
    primary_key = () if not key else (key,) if isinstance(key, str) else tuple(key)
    if primary_key and spec.accounts_share_tables:
        primary_key = (ACCOUNT_COLUMN, *primary_key)  # equal ids of two accounts never collide
    deletes = _deletes(resource.name, defaults.deletes, resource.deletes)
    write = resource.write_disposition or defaults.write_disposition or "append"
    if write == "replace" and spec.accounts_share_tables:
        write = "merge"  # replacing the table would wipe the other accounts' snapshots
    if write == "replace" and deletes and deletes.mode == "soft" and deletes.absent_from_snapshot:
        write = "merge"  # a record gone from the snapshot stays, marked deleted
    return ResourceView(
        spec=spec,
        name=resource.name,
        description=resource.description or f"{resource.name} from the {spec.name} API.",
        endpoint=endpoint,
        primary_key=primary_key,
        write_disposition=write,
        columns=dict(resource.columns),
        quality=resource.quality,
        statuses=dict(resource.statuses),
        max_table_nesting=resource.max_table_nesting,
        datasets={account: spec.dataset_of(account) for account in spec.account_names},
        deletes=deletes,
        nested_lists=resource.nested_lists,
        never_land=never_land_fields(resource.never_land),
        parent=parent,
        include_from_parent=resource.include_from_parent,
        parent_windowed=parent is not None and _parent_windowed(spec, parent.resource),
        roles=dict(resource.roles),
    )


def _parent_windowed(spec: ProviderSpec, name: str) -> bool:
    """Whether the named parent is windowed; False when it is missing or itself dependent
    (the provider's checks reject both, with the key)."""
    for index, resource in enumerate(spec.resources):
        if resource.name == name:
            endpoint = resource.endpoint
            if parent_references(endpoint.path or "", dict(endpoint.params)):
                return False
            return resolve(spec, index).windowed
    return False
