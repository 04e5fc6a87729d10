"""Counters behind `/__stats`: what clients asked for and what went wrong, per URL path,
and what became of the webhooks the sandbox sent.

Tests and benchmarks assert on these (requests per page walk, retries after faults, whether a
client kept its request budget). Keys are paths only: query strings can hold the billing API
key and must never be stored.
"""

import time
from collections import Counter
from typing import Any


class Stats:
    """Request, fault, token and auth-failure counts since start or the last reset, and how long
    each provider's data requests took from first to last."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.tokens_issued = 0
        self.auth_failures = 0
        self.webhooks: Counter[str] = Counter()
        self.by_account: Counter[str] = Counter()
        self.account_mismatches = 0
        self.rate_limited: Counter[str] = Counter()
        self.data_requests: Counter[str] = Counter()
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def data_request(self, provider: str) -> None:
        """Count a data request reaching the gate and when (monotonic), for the provider's span."""
        now = time.monotonic()
        self.data_requests[provider] += 1
        self._first.setdefault(provider, now)
        self._last[provider] = now

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "requests_total": sum(self.requests.values()),
            "faults": dict(sorted(self.faults.items())),
            "tokens_issued": self.tokens_issued,
            "auth_failures": self.auth_failures,
            "webhooks": {
                key: self.webhooks[key]
                for key in ("emitted", "delivered", "refused", "retried", "failed")
            },
            "requests_by_account": dict(sorted(self.by_account.items())),
            "account_mismatches": self.account_mismatches,
            "rate_limited": dict(sorted(self.rate_limited.items())),
            "data_requests": dict(sorted(self.data_requests.items())),
            "request_span_seconds": {
                provider: round(self._last[provider] - first, 6)
                for provider, first in sorted(self._first.items())
            },
        }
