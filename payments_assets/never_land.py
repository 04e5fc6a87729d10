"""Fields that must never land (`never_land:` in a provider YAML), kept out on every path a
record takes: API loads, dependent resources, nested lists and stored webhook events.

A `client_secret` completes a payment from a browser; no table, file or log needs it. A field
is dropped, or replaced by its SHA-256 (hex) when a team still wants to join or count on it.
Nested paths are names joined by dots; a list on the way applies the path to each element.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from .specs.provider import ProviderSpec
from .specs.record_shapes import NeverLandField


def sha256_of(value: Any) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()


def _keep_out(node: Any, parts: Sequence[str], keep: str) -> None:
    if isinstance(node, list):
        for element in node:
            _keep_out(element, parts, keep)
        return
    if not isinstance(node, dict) or parts[0] not in node:
        return
    if len(parts) > 1:
        _keep_out(node[parts[0]], parts[1:], keep)
    elif keep == "sha256" and node[parts[0]] is not None:
        node[parts[0]] = sha256_of(node[parts[0]])
    else:
        del node[parts[0]]


def never_land_keeper(fields: Sequence[NeverLandField]) -> Callable[[Any], Any] | None:
    """A step that takes the fields out of a record in place (None when there are none)."""
    paths = [(tuple(field.field.split(".")), field.keep) for field in fields]
    if not paths:
        return None

    def keep_out(record: Any) -> Any:
        for parts, keep in paths:
            _keep_out(record, parts, keep)
        return record

    return keep_out


def event_keepers(specs: Sequence[ProviderSpec]) -> dict[str, Callable[[Any], Any]]:
    """Provider → what takes its never-land fields out of a webhook event's record.

    An event's record is held to every rule of its provider: providers name an event's resource
    in their own words (`payment_intent.succeeded`), and dropping a secret too often costs
    nothing.
    """
    keepers = {}
    for spec in specs:
        keep_out = never_land_keeper([field for view in spec.views for field in view.never_land])
        if keep_out is not None:
            keepers[spec.name] = _on_event_record(keep_out)
    return keepers


def _on_event_record(keep_out: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def on_record(body: Any) -> Any:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict):
            keep_out(data.get("object"))
            keep_out(data.get("previous_attributes"))
        return body

    return on_record
