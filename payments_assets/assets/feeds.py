"""Feeds: one resource playing one role, as SQL over its staging table.

A mart asks a feed for a role field (`feed.amount("amount")`, `feed.key("customer")`) and gets
the expression that reads it from `staging.<provider>__<resource>` with the YAML's mapping, unit
and sign applied, or a typed NULL when the provider does not map that field. So the marts are
written once, in role terms, and every provider with the role is unioned in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from ..layers import STAGING, staged_list_key, staged_list_table, staging_key, staging_table
from ..specs import ProviderSpec, ResourceView, column_name
from ..specs.roles import LIST_DEFAULTS, FieldMapping, RoleSpec
from ..warehouse_sql import literal, quote, table_ref
from .amounts import AMOUNT_TYPE
from .staged_lists import PARENT_CURRENCY, PARENT_ID, POSITION

TEXT, TIME, BIGINT, DATE = "VARCHAR", "TIMESTAMP WITH TIME ZONE", "BIGINT", "DATE"


@dataclass(frozen=True)
class Feed:
    """`view` playing `role` (its mapping `spec`)."""

    view: ResourceView
    role: str
    spec: RoleSpec

    @property
    def provider(self) -> str:
        return self.view.provider

    @property
    def nested(self) -> str | None:
        """The nested list whose items play the role (invoice lines), if any."""
        return self.spec.list

    @property
    def resource(self) -> str:
        """The resource, or `<resource>.<list>` for the items of a nested list."""
        return f"{self.view.name}.{self.nested}" if self.nested else self.view.name

    @property
    def asset_key(self) -> dg.AssetKey:
        if self.nested:
            return staged_list_key(self.view, self.nested)
        return staging_key(self.view)

    @property
    def table(self) -> str:
        if self.nested:
            return table_ref(STAGING, staged_list_table(self.view, self.nested))
        return table_ref(STAGING, staging_table(self.view))

    def maps(self, name: str) -> bool:
        return name in self.spec.fields or self._from_record(name) is not None

    def _from_record(self, name: str) -> str | None:
        """What an item of a nested list takes from the record it is in, unless mapped: its
        id (`<record id>:<position>`), its record's id and currency (`staged_lists.py`)."""
        if self.nested is None or name in self.spec.fields or name not in LIST_DEFAULTS:
            return None
        return {
            "id": f"{quote(PARENT_ID)} || ':' || CAST({quote(POSITION)} AS {TEXT})",
            "invoice": quote(PARENT_ID),
            "currency": quote(PARENT_CURRENCY),
        }[name]

    def _column(self, name: str) -> str | None:
        """The staging column a field is read from (None: a constant or not mapped)."""
        mapped = self.spec.mapping(name)
        if not isinstance(mapped, FieldMapping) or mapped.field is None:
            return None
        column = column_name(mapped.field)
        status = self.nested is None and column == self.view.status_column
        return "status" if status else column

    def _constant(self, name: str) -> str | None:
        mapped = self.spec.mapping(name)
        if isinstance(mapped, FieldMapping) and mapped.value is not None:
            return constant_sql(mapped.value)
        return None

    def text(self, name: str) -> str:
        mapped = self.spec.mapping(name)
        if isinstance(mapped, list):  # text fields joined by spaces: given and family name
            joined = " || ' ' || ".join(
                f"COALESCE(CAST({quote(column_name(path))} AS {TEXT}), '')" for path in mapped
            )
            return f"TRIM({joined})"
        column = self._column(name)
        value = quote(column) if column else self._constant(name) or self._from_record(name)
        return f"CAST({value or 'NULL'} AS {TEXT})"

    def number(self, name: str) -> str:
        """A count (a quantity) as an integer; NULL when the provider does not map it."""
        column = self._column(name)
        value = quote(column) if column else self._constant(name) or "NULL"
        return f"CAST({value} AS {BIGINT})"

    def key(self, name: str) -> str:
        """`provider:id` of the record a field names: how every mart keys records."""
        if not self.maps(name):
            return f"CAST(NULL AS {TEXT})"
        return f"{literal(self.provider + ':')} || {self.text(name)}"

    def time(self, name: str, fallback: str | None = None) -> str:
        column = self._column(name) or (self._column(fallback) if fallback else None)
        return quote(column) if column else f"CAST(NULL AS {TIME})"

    def amount(self, name: str) -> str:
        """The amount in major units as an exact decimal, turned positive if the API writes it
        negative (staging has already scaled it from minor units or cast it from major ones)."""
        column = self._column(name)
        if column is None:
            return f"CAST(NULL AS {AMOUNT_TYPE})"
        signed = f"-{quote(column)}" if self.spec.sign_of(name) == "negative" else quote(column)
        return f"CAST({signed} AS {AMOUNT_TYPE})"

    def amount_minor(self, name: str) -> str:
        column = self._column(name)
        if column is None:
            return f"CAST(NULL AS {BIGINT})"
        minor = quote(column + "_minor")
        return f"CAST({'-' if self.spec.sign_of(name) == 'negative' else ''}{minor} AS {BIGINT})"

    def status(self) -> str:
        """The common status: the mapped field (through `statuses`) or the role's constant."""
        if not self.maps("status"):
            return f"CAST(NULL AS {TEXT})"
        return f"CAST({self._constant('status') or quote('status')} AS {TEXT})"

    def provider_status(self) -> str:
        """The API's own word, where the resource has a status field."""
        mapped = self.view.status_column in self.view.role_columns
        return f'CAST("provider_status" AS {TEXT})' if mapped else f"CAST(NULL AS {TEXT})"

    def where(self) -> str:
        """Only the records playing the role (the role's `when`), else every record."""
        when = self.spec.when
        if when is None:
            return "TRUE"
        column = column_name(when.field)
        column = "status" if self.nested is None and column == self.view.status_column else column
        values = ", ".join(constant_sql(value) for value in when.values)
        return f"{quote(column)} IN ({values})"

    def select(self, columns: Sequence[tuple[str, str]]) -> str:
        """SELECT of `(name, expression)` from the feed's staging table, its rows filtered."""
        listed = ", ".join(f"{expression} AS {quote(name)}" for name, expression in columns)
        return f"SELECT {listed} FROM {self.table} WHERE {self.where()}"


def constant_sql(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return literal(value) if isinstance(value, str) else repr(value)


def feeds_of(specs: Sequence[ProviderSpec], role: str) -> list[Feed]:
    """Every resource of every provider that plays `role`, in provider and YAML order."""
    return [
        Feed(view, role, view.roles[role])
        for spec in specs
        for view in spec.views
        if role in view.roles
    ]


def union(columns: Sequence[tuple[str, str]], parts: Sequence[str]) -> str:
    """The parts, UNION ALL; with none, an empty table of the typed `columns` (name, type)."""
    if parts:
        return "\nUNION ALL\n".join(parts)
    typed = ", ".join(f"CAST(NULL AS {kind}) AS {quote(name)}" for name, kind in columns)
    return f"SELECT {typed} WHERE FALSE"
