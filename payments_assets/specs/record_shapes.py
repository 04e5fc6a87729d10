"""Records as real APIs shape them: lists nested in records that page, resources that hang off
another resource's records, and fields that must never reach a table.

Stripe embeds the first page of a nested list (`lines: {data, has_more, url}`); GoCardless pages
payout items by a query parameter naming the payout; a payment intent's `client_secret`
completes a payment. These keys say so in the provider YAML; `provider.py` checks them against
the provider's other resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PARENT_REFERENCE = re.compile(r"\{resources\.([a-z][a-z0-9_]*)\.([A-Za-z0-9_.]+)\}")
"""dlt's form for a parent's field in a path or a query parameter: `{resources.invoices.id}`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NestedListSpec(_Strict):
    """A list embedded in each record that may hold only its first page.

    `field` is the record's key holding the list object; `has_more`, `url` and `data` are keys of
    that object (Stripe's names by default). When `has_more` is true, the whole list is fetched
    again from `url` with the resource's paginator, and the record keeps every element.
    """

    field: str = Field(min_length=1)
    has_more: str = "has_more"
    url: str = "url"
    data: str = "data"


class NeverLandField(_Strict):
    """A field kept out of every table: dropped, or replaced by its SHA-256 (`keep: sha256`),
    which still joins and counts distinct values without holding the secret."""

    field: str = Field(min_length=1)
    keep: Literal["nothing", "sha256"] = "nothing"

    @field_validator("field")
    @classmethod
    def _dotted_path(cls, value: str) -> str:
        if any(not part for part in value.split(".")):
            raise ValueError(f"'{value}' is not a field path (names joined by dots)")
        return value


NeverLandEntry = str | NeverLandField
"""`client_secret` (dropped) or `{field: customer.email, keep: sha256}`."""


def never_land_fields(entries: tuple[NeverLandEntry, ...]) -> tuple[NeverLandField, ...]:
    return tuple(
        NeverLandField(field=entry) if isinstance(entry, str) else entry for entry in entries
    )


@dataclass(frozen=True)
class ParentReference:
    """A dependent resource's parent: which resource, and which field of each of its records
    fills the path or query parameter (`{resources.invoices.id}`)."""

    resource: str
    field: str

    @property
    def column(self) -> str:
        """The child's column that carries the parent's field (dlt's `_<parent>_<field>`)."""
        return parent_column(self.resource, self.field)


def parent_column(resource: str, field: str) -> str:
    return f"_{resource}_{field.replace('.', '__')}"


def parent_references(path: str, params: dict[str, object]) -> list[ParentReference]:
    """Every `{resources.<parent>.<field>}` in a path and in the string query parameters."""
    texts = [path, *(value for value in params.values() if isinstance(value, str))]
    return [
        ParentReference(match.group(1), match.group(2))
        for text in texts
        for match in PARENT_REFERENCE.finditer(text)
    ]


def fill_parent(text: str, reference: ParentReference, value: object) -> str:
    """`text` with the parent's field replaced by one record's value."""
    return text.replace(f"{{resources.{reference.resource}.{reference.field}}}", str(value))
