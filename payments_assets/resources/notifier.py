"""Alerts leave the code location through one resource: a log line always, a webhook when set.

The webhook URL usually embeds a token (Slack, Teams, a paging service), so it comes from the
environment as an `EnvVar` and is never logged or put in an error: messages name its host only.
Swap the resource for a subclass with its own `notify` to send alerts elsewhere. Retries are
urllib3's (`Retry` on the session's adapter): timeouts, connection errors, 408/425/429 and 5xx,
with exponential backoff and `Retry-After` honoured up to a cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field

from .environment import env_or

WEBHOOK_ENV = "PAYMENTS_ALERT_WEBHOOK_URL"

logger = dg.get_dagster_logger("payments_assets.alerts")


@dataclass(frozen=True)
class Alert:
    """What went wrong, in a title a pager can show and a text a person can act on."""

    title: str
    text: str
    severity: Literal["error", "warning"] = "error"
    details: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        # `text` first: chat webhooks (Slack, Mattermost, Teams workflows) display that field.
        return {
            "text": f"{self.title}\n{self.text}",
            "title": self.title,
            "severity": self.severity,
            "details": dict(self.details),
        }


class AlertDeliveryError(RuntimeError):
    """The webhook did not take the alert; the alert was still logged."""


class AlertNotifier(dg.ConfigurableResource):
    """Logs every alert, and POSTs it as JSON to `webhook_url` when one is configured."""

    webhook_url: str | None = Field(
        default=None, description=f"Secret: set {WEBHOOK_ENV}; unset means log only."
    )
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)

    def notify(self, alert: Alert) -> None:
        log = logger.error if alert.severity == "error" else logger.warning
        log("ALERT %s — %s", alert.title, alert.text)
        if self.webhook_url:
            self._post(self.webhook_url, alert)

    def _post(self, url: str, alert: Alert) -> None:
        # Imported when an alert is sent: requests is not needed to load the definitions.
        from .alert_delivery import post_with_retries

        outcome = post_with_retries(
            url, alert.payload(), self.max_attempts, self.backoff_seconds, self.timeout_seconds
        )
        if outcome is not None:
            problem, attempts = outcome
            host = urlsplit(url).hostname or "the webhook"
            raise AlertDeliveryError(
                f"alert webhook at {host} did not take '{alert.title}' after {attempts} "
                f"attempt(s) ({problem}); check {WEBHOOK_ENV} and the receiver"
            )


def alert_notifier(environ: Mapping[str, str] | None = None) -> AlertNotifier:
    """The notifier for this environment: the webhook as an `EnvVar` when the variable is set."""
    return AlertNotifier(webhook_url=env_or(WEBHOOK_ENV, None, environ))
