"""The Dagster door to the webhook store: the sensors and the events assets read it through here.

The path is set when definitions load (`PAYMENTS_WEBHOOK_DB`, as an `EnvVar`), so no sensor or
asset reads the environment itself; the receiver is told the same path.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from ..webhooks.store import DEFAULT_WEBHOOK_DB, WebhookStore
from .environment import env_or

WEBHOOK_STORE_KEY = "webhook_store"


class WebhookEventStore(dg.ConfigurableResource):
    """The SQLite file `payments-webhooks` stores provider events in."""

    path: str = Field(default=DEFAULT_WEBHOOK_DB, description="The receiver's --db.")

    def store(self) -> WebhookStore:
        return WebhookStore(self.path)


def webhook_store(environ: Mapping[str, str] | None = None) -> WebhookEventStore:
    return WebhookEventStore(path=env_or("PAYMENTS_WEBHOOK_DB", DEFAULT_WEBHOOK_DB, environ))
