"""An alert's POST to its webhook, retried by urllib3: timeouts, connection errors, 408/425/429
and 5xx, with exponential backoff and `Retry-After` honoured up to a cap.

The URL usually embeds a token: urllib3's own log lines (one per retry, with the URL's path) are
redacted while the POST runs, and what comes back names a status or an exception type, never
the URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..sources.redaction import Redactor, redacted_logs

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_DELAY_SECONDS = 30.0


class _CappedRetry(Retry):
    """urllib3's retry, with a `Retry-After` longer than the cap cut to it (a sensor tick waits)."""

    def get_retry_after(self, response: Any) -> float | None:
        delay = super().get_retry_after(response)
        return None if delay is None else min(delay, MAX_DELAY_SECONDS)


def post_with_retries(
    url: str, payload: dict[str, Any], attempts: int, backoff: float, timeout: float
) -> tuple[str, int] | None:
    """POST `payload` as JSON; None once taken, else (what went wrong, attempts made)."""
    retry = _CappedRetry(
        total=attempts - 1,
        backoff_factor=backoff,
        backoff_max=MAX_DELAY_SECONDS,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),
        raise_on_status=False,
    )
    parts = urlsplit(url)
    secret_parts = [part for part in (parts.path, parts.query) if part]
    with requests.Session() as session, redacted_logs(Redactor(secret_parts)):
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            response = session.post(url, json=payload, timeout=timeout)
        except requests.RequestException as exc:
            return type(exc).__name__, attempts  # never str(exc): it repeats the URL
    if response.status_code < 300:
        return None
    retries = response.raw.retries
    return f"HTTP {response.status_code}", len(retries.history) + 1 if retries else 1
