"""The only doors to the outside world: provider credentials, the warehouse, the webhook store,
the exports folder and the alert notifier — each a `ConfigurableResource` whose secrets and
paths come from the environment as `EnvVar`s, read once, when definitions load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..specs import ProviderSpec
from .credentials import ProviderCredentials, credentials_key, provider_credentials
from .environment import destination_kind, env_or
from .exports import ReportingExports, reporting_exports
from .notifier import Alert, AlertDeliveryError, AlertNotifier, alert_notifier
from .warehouse import Warehouse, holding_the_writer, warehouse
from .webhook_store import WEBHOOK_STORE_KEY, WebhookEventStore, webhook_store


def build_resources(
    specs: Sequence[ProviderSpec], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every resource the code location needs, reading which variables are set in `environ`."""
    from dagster_dlt import DagsterDltResource

    return {
        "dlt": DagsterDltResource(),
        "warehouse": warehouse(environ),
        "exports": reporting_exports(environ),
        WEBHOOK_STORE_KEY: webhook_store(environ),
        "notifier": alert_notifier(environ),
        **{
            credentials_key(spec.name, account): provider_credentials(spec, environ, account)
            for spec in specs
            for account in spec.account_names
        },
    }


__all__ = [
    "WEBHOOK_STORE_KEY",
    "Alert",
    "AlertDeliveryError",
    "AlertNotifier",
    "ProviderCredentials",
    "ReportingExports",
    "Warehouse",
    "WebhookEventStore",
    "alert_notifier",
    "build_resources",
    "credentials_key",
    "destination_kind",
    "env_or",
    "holding_the_writer",
    "provider_credentials",
    "reporting_exports",
    "warehouse",
    "webhook_store",
]
