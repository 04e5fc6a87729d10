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
import requests
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..sources.redaction import Redactor, redacted_logs
from .environment import env_or

WEBHOOK_ENV = "PAYMENTS_ALERT_WEBHOOK_URL"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_MAX_DELAY_SECONDS = 30.0

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
        host = urlsplit(url).hostname or "the webhook"
        retry = _CappedRetry(
            total=self.max_attempts - 1,
            backoff_factor=self.backoff_seconds,
            backoff_max=_MAX_DELAY_SECONDS,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),
            raise_on_status=False,
        )
        # urllib3 logs each retry with the URL's path, the token's usual place.
        secret_parts = [part for part in (urlsplit(url).path, urlsplit(url).query) if part]
        with requests.Session() as session, redacted_logs(Redactor(secret_parts)):
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            try:
                response = session.post(url, json=alert.payload(), timeout=self.timeout_seconds)
            except requests.RequestException as exc:
                # never str(exc): it repeats the URL and its token
                problem, attempts = type(exc).__name__, self.max_attempts
            else:
                if response.status_code < 300:
                    return
                problem = f"HTTP {response.status_code}"
                attempts = len(response.raw.retries.history) + 1 if response.raw.retries else 1
        raise AlertDeliveryError(
            f"alert webhook at {host} did not take '{alert.title}' after {attempts} attempt(s) "
            f"({problem}); check {WEBHOOK_ENV} and the receiver"
        )


class _CappedRetry(Retry):
    """urllib3's retry, with a `Retry-After` longer than the cap cut to it (a sensor tick waits)."""

    def get_retry_after(self, response: Any) -> float | None:
        delay = super().get_retry_after(response)
        return None if delay is None else min(delay, _MAX_DELAY_SECONDS)


def alert_notifier(environ: Mapping[str, str] | None = None) -> AlertNotifier:
    """The notifier for this environment: the webhook as an `EnvVar` when the variable is set."""
    return AlertNotifier(webhook_url=env_or(WEBHOOK_ENV, None, environ))
