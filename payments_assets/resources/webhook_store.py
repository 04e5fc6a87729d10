"""The Dagster door to the webhook inbox: the sensors and the events assets read it through here.

The location is set when definitions load, as an `EnvVar` (a PostgreSQL URL is a secret):
`PAYMENTS_WEBHOOK_DB`, else in the production profile the warehouse's `PAYMENTS_POSTGRES_URL`,
else the local SQLite file. No sensor or asset reads the environment itself; the receiver is told
the same location (`payments-webhooks --db`, or the same variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from ..webhooks.store import DEFAULT_WEBHOOK_DB, EventStore, location_variable, open_store

WEBHOOK_STORE_KEY = "webhook_store"


class WebhookEventStore(dg.ConfigurableResource):
    """The inbox `payments-webhooks` stores provider events in."""

    path: str = Field(
        default=DEFAULT_WEBHOOK_DB,
        description="The receiver's --db: a SQLite file, or a postgresql:// URL (secret).",
    )

    def store(self) -> EventStore:
        return open_store(self.path)


def webhook_store(environ: Mapping[str, str] | None = None) -> WebhookEventStore:
    variable = location_variable(os.environ if environ is None else environ)
    return WebhookEventStore(path=dg.EnvVar(variable) if variable else DEFAULT_WEBHOOK_DB)
