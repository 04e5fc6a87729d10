"""Roles: what a resource *is* (payments, refunds, payouts, …) and which of its fields carry each
part of that meaning, so the marts are generated from the YAML and no Python names a provider.

A resource declares `roles: {payments: {id: id, amount: amount, occurred_at: created_at, …}}`.
A field is a record field (`customer.id` for a nested one), a list of text fields joined by
spaces, a constant (`{value: direct_debit}`), or an amount with its unit and sign
(`{field: total, unit: major, sign: negative}`). `unit` and `sign` on the role apply to all its
amounts; `when` keeps only the records a role is about (gateway transactions of type `refund`).
Required fields must be mapped: a missing one fails definitions load with file, resource and key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Unit = Literal["minor", "major"]
"""`minor`: integer minor units (cents, whole yen); `major`: decimals in the currency's unit
(12.34), scaled by the currency's ISO 4217 exponent in staging."""
Sign = Literal["positive", "negative"]
"""How the API writes the amount: `negative` (a refund of -12.34) is turned positive in marts."""
Kind = Literal["id", "ref", "amount", "currency", "time", "text", "status", "number"]
Constant = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMapping(_Strict):
    """A role field in full: a record field (or a constant) and, for amounts, unit and sign."""

    field: str | None = None
    value: Constant | None = None
    unit: Unit | None = None
    sign: Sign | None = None

    @model_validator(mode="after")
    def _field_or_value(self) -> FieldMapping:
        if (self.field is None) == (self.value is None):
            raise ValueError("map a role field to a record `field` or a constant `value`, one")
        return self


FieldSource = str | list[str] | FieldMapping


class RecordFilter(_Strict):
    """Only records whose `field` (after staging: `status` in the common vocabulary) is one of
    `values` play the role."""

    field: str
    values: tuple[Constant, ...] = Field(min_length=1)


RESERVED = ("when", "unit", "sign", "list")
LIST_DEFAULTS = ("id", "invoice", "currency")
"""What a role read from a nested list takes from the record around it unless mapped: the
item's id (`<parent id>:<position>`), its parent's id (always: never mapped) and currency."""


class RoleSpec(_Strict):
    """One role of a resource: its field mapping, the records it applies to, default unit/sign."""

    fields: dict[str, FieldSource]
    when: RecordFilter | None = None
    unit: Unit = "minor"
    sign: Sign = "positive"
    list: str | None = None
    """The nested list of each record whose items play the role (invoice lines inside an
    invoice): the fields are then the items' own, read from dlt's child table."""

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        """The YAML writes fields beside `when`/`unit`/`sign`; gather them under `fields`."""
        if isinstance(raw, dict) and "fields" not in raw:
            return {
                **{key: raw[key] for key in RESERVED if key in raw},
                "fields": {key: value for key, value in raw.items() if key not in RESERVED},
            }
        return raw

    def mapping(self, name: str) -> FieldMapping | list[str] | None:
        source = self.fields.get(name)
        return FieldMapping(field=source) if isinstance(source, str) else source

    def unit_of(self, name: str) -> Unit:
        mapped = self.mapping(name)
        return (mapped.unit if isinstance(mapped, FieldMapping) else None) or self.unit

    def sign_of(self, name: str) -> Sign:
        mapped = self.mapping(name)
        return (mapped.sign if isinstance(mapped, FieldMapping) else None) or self.sign


@dataclass(frozen=True)
class RoleField:
    kind: Kind
    required: bool = False


def _fields(required: dict[str, Kind], optional: dict[str, Kind]) -> dict[str, RoleField]:
    return {
        **{name: RoleField(kind, True) for name, kind in required.items()},
        **{name: RoleField(kind) for name, kind in optional.items()},
    }


_MONEY: dict[str, Kind] = {"id": "id", "amount": "amount", "currency": "currency"}
ROLES: dict[str, dict[str, RoleField]] = {
    "payments": _fields(
        {**_MONEY, "status": "status", "occurred_at": "time"},
        {
            "updated_at": "time",
            "customer": "ref",
            "payout": "text",
            "method": "text",
            "fee": "amount",
        },
    ),
    "refunds": _fields(
        {**_MONEY, "status": "status", "occurred_at": "time"},
        {"payment": "ref", "reason": "text"},
    ),
    "disputes": _fields(
        {**_MONEY, "status": "status", "occurred_at": "time"},
        {"payment": "ref", "reason": "text"},
    ),
    "payouts": _fields(
        {**_MONEY, "status": "status", "occurred_at": "time"},
        {"arrival_date": "time", "fee": "amount", "reference": "text"},
    ),
    "customers": _fields(
        {"id": "id", "occurred_at": "time"},
        {
            "updated_at": "time",
            "name": "text",
            "email": "text",
            "phone": "text",
            "country": "text",
            "currency": "currency",
            "status": "status",
        },
    ),
    "balance_transactions": _fields(
        {**_MONEY, "occurred_at": "time"},
        {"type": "text", "fee": "amount", "net": "amount", "source": "ref", "payout": "text"},
    ),
    "subscriptions": _fields(
        {"id": "id", "status": "status", "occurred_at": "time"},
        {
            "customer": "ref",
            "amount": "amount",
            "currency": "currency",
            "interval": "text",
            "quantity": "number",
            "canceled_at": "time",
            "updated_at": "time",
        },
    ),
    "invoices": _fields(
        {"id": "id", "currency": "currency", "status": "status", "occurred_at": "time"},
        {"amount": "amount", "amount_paid": "amount", "customer": "ref", "subscription": "ref"},
    ),
    "invoice_lines": _fields(
        {**_MONEY, "invoice": "ref"},
        {
            "description": "text",
            "quantity": "number",
            "subscription": "ref",
            "period_start": "time",
        },
    ),
}
"""Every role and its fields (kind, required): what the marts may ask of a resource."""

RoleName = Literal[
    "payments",
    "refunds",
    "disputes",
    "payouts",
    "customers",
    "balance_transactions",
    "subscriptions",
    "invoices",
    "invoice_lines",
]


def role_problems(roles: Mapping[str, RoleSpec]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key under `roles`, problem) for every field a role misses, does not know or misuses."""
    for role, spec in roles.items():
        known = ROLES[role]
        for name, source in spec.fields.items():
            if name not in known:
                yield (role, name), f"not a field of role {role}; its fields: {', '.join(known)}"
                continue
            kind = known[name].kind
            if isinstance(source, list) and kind != "text":
                yield (role, name), f"a list of fields joins text; {name} is {kind}"
            if (
                isinstance(source, FieldMapping)
                and (source.unit or source.sign)
                and kind != "amount"
            ):
                yield (role, name), f"unit and sign are for amounts; {name} is {kind}"
        if spec.list is not None and role != "invoice_lines":
            yield (role, "list"), "only invoice_lines are read from a nested list"
        if spec.list is not None and "invoice" in spec.fields:
            yield (role, "invoice"), "a line's invoice is the record its list is in; unmap it"
        for name, declared in known.items():
            defaulted = spec.list is not None and name in LIST_DEFAULTS
            if declared.required and name not in spec.fields and not defaulted:
                yield (role, name), f"missing: role {role} needs its {name} field mapped"
    status_fields = {
        mapped.field
        for spec in roles.values()
        if isinstance(mapped := spec.mapping("status"), FieldMapping) and mapped.field
    }
    if len(status_fields) > 1:  # staging maps one status column into the common vocabulary
        role = next(iter(roles))
        yield (
            (role, "status"),
            f"roles of a resource read one status field, got {sorted(status_fields)}",
        )


def status_field(roles: Mapping[str, RoleSpec]) -> str | None:
    """The record field every role of the resource reads its status from (None: constant or
    unmapped); staging maps it through `statuses` into the common vocabulary."""
    for spec in roles.values():
        mapped = spec.mapping("status")
        if isinstance(mapped, FieldMapping) and mapped.field:
            return mapped.field
    return None


def mapped_fields(
    roles: Mapping[str, RoleSpec], nested: str | None = None
) -> Iterator[tuple[str, RoleSpec, str, str]]:
    """(role, spec, role field, record field) for every record field a role reads: of the
    record itself, or (`nested`) of the items of that nested list."""
    for role, spec in roles.items():
        if spec.list != nested:
            continue
        for name in spec.fields:
            mapped = spec.mapping(name)
            paths = mapped if isinstance(mapped, list) else [mapped.field] if mapped else []
            for path in paths:
                if path:
                    yield role, spec, name, path
