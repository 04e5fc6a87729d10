"""What a webhook event is: parsed from a delivery's body, and read back for the sensor.

Body: `{"id": "evt_…", "type": "<resource>.<action>", "provider": …, "created": <unix>,
"data": {"object": {…record…}}}`. The record's update time is read with the provider spec's
own incremental cursor (path and format), so ISO and epoch fields work alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..specs import IncrementalSpec

_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
"""Ids and types go into log lines: no spaces or control characters that could forge one."""


class EventError(ValueError):
    """A signed delivery whose body is not an event this project understands."""


@dataclass(frozen=True)
class WebhookEvent:
    """One provider event; `body` is the whole parsed JSON document."""

    provider: str
    event_id: str
    type: str
    created: int | None
    body: dict[str, Any]

    @property
    def resource(self) -> str:
        return self.type.rpartition(".")[0]

    @property
    def action(self) -> str:
        return self.type.rpartition(".")[2]

    @property
    def object(self) -> dict[str, Any]:
        data = self.body.get("data")
        record = data.get("object") if isinstance(data, dict) else None
        return record if isinstance(record, dict) else {}


def parse_event(provider: str, raw: bytes) -> WebhookEvent:
    """Validate a delivery's body; the error says which field is wrong."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise EventError("body is not JSON") from None
    if not isinstance(body, dict):
        raise EventError("body must be a JSON object")
    event_id, kind, created = body.get("id"), body.get("type"), body.get("created")
    if not isinstance(event_id, str) or not _TOKEN.fullmatch(event_id):
        raise EventError("'id' must be 1-255 letters, digits or _.:- (e.g. 'evt_1a2b')")
    if not isinstance(kind, str) or not _TOKEN.fullmatch(kind) or "." not in kind.strip("."):
        raise EventError("'type' must read '<resource>.<action>', e.g. 'charges.updated'")
    if body.get("provider", provider) != provider:
        raise EventError(f"'provider' is {body['provider']!r}, but this endpoint is {provider!r}")
    if created is not None and (not isinstance(created, int) or isinstance(created, bool)):
        raise EventError("'created' must be unix seconds")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise EventError("'data.object' must be the record the event is about")
    return WebhookEvent(provider, event_id, kind, created, body)


def record_time(record: dict[str, Any], incremental: IncrementalSpec) -> datetime | None:
    """The record's update time by the spec's cursor (`a.b` paths too); None if absent or bad."""
    value: Any = record
    for part in incremental.cursor_path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        if incremental.cursor_format == "epoch":
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
