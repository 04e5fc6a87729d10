"""How a provider tells of changes after creation: its event feed, and how its webhooks are signed.

Stripe's lists filter on `created` only, so a refund or a cancellation weeks later is never seen
by a window; its events carry the object's new state (`data.object`). `event_feed:` names the
events resource and which event types update which resource; `webhooks: {signature: …}` names
the scheme the provider signs deliveries with (the project's own, Stripe's or GoCardless').
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from .dialect import IncrementalSpec, Located, Strict

if TYPE_CHECKING:
    from .resolved import ResourceView

_PATTERN = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?$")


class EventFeedSpec(Strict):
    """`event_feed:` — the events resource, and event-type patterns → the resource they update.

    A pattern is an exact type (`charge.refunded`) or a prefix with `.*` (`charge.*`); when several
    match, the longest wins, so `charge.dispute.*` can go to disputes beside `charge.*`. `object`
    is where the event holds the object's full new state, `id` its key inside the object, `time`
    the event's own time (what orders states: the newest event time wins).
    """

    resource: str
    updates: dict[str, str] = Field(min_length=1)
    object: str = "data.object"
    id: str = "id"
    time: str = "created"
    time_format: Literal["iso8601", "epoch"] = "epoch"

    @field_validator("updates")
    @classmethod
    def _patterns(cls, updates: dict[str, str]) -> dict[str, str]:
        wrong = [pattern for pattern in updates if not _PATTERN.match(pattern)]
        if wrong:
            raise ValueError(
                f"event types are written 'charge.refunded' or 'charge.*' (a trailing .* only): "
                f"{wrong}"
            )
        return updates

    def target_of(self, event_type: str) -> str | None:
        """The resource an event of `event_type` updates (the longest matching pattern's)."""
        best: tuple[int, str] | None = None
        for pattern, resource in self.updates.items():
            prefix = pattern.removesuffix("*")
            hit = event_type.startswith(prefix) if pattern.endswith("*") else event_type == pattern
            if hit and (best is None or len(pattern) > best[0]):
                best = (len(pattern), resource)
        return best[1] if best else None

    @property
    def time_cursor(self) -> IncrementalSpec:
        """The event's time, read as a cursor is (path and format)."""
        return IncrementalSpec(cursor_path=self.time, cursor_format=self.time_format)


SignatureScheme = Literal["payments", "stripe", "gocardless"]


class WebhooksSpec(Strict):
    """`webhooks:` — how the provider signs deliveries (`payments`: the project's own scheme),
    or `enabled: false` for a provider that sends none (or whose endpoint is not set up): it
    then gets no receiver route, no webhook sensors and no `webhook_events` asset, rather than
    ones that can never see an event."""

    enabled: bool = True
    signature: SignatureScheme = "payments"


def check_event_feed(
    feed: EventFeedSpec | None, views: Mapping[str, ResourceView], provider: str
) -> None:
    """The feed and its targets are resources of the provider, and targets have one-field keys."""
    if feed is None:
        return
    source = views.get(feed.resource)
    if source is None or source.incremental is None:
        raise Located(
            ("event_feed", "resource"),
            f"'{feed.resource}' is not a windowed resource of {provider} (the feed runs per "
            "partition of its events)",
        )
    for pattern, target in feed.updates.items():
        view = views.get(target)
        if view is None or view is source:
            raise Located(
                ("event_feed", "updates", pattern),
                f"'{target}' is not another resource of {provider}",
            )
        if view.record_key is None or view.write_disposition != "merge":
            raise Located(
                ("event_feed", "updates", pattern),
                f"{target}: updates merge on the primary key, which must be one field "
                "(write_disposition: merge)",
            )
