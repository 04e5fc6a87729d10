"""Counters behind `/__stats`: what clients asked for and what went wrong, per URL path,
and what became of the webhooks the sandbox sent.

Tests and benchmarks assert on these (requests per page walk, retries after faults). Keys are
paths only: query strings can hold the billing API key and must never be stored.
"""

from collections import Counter
from typing import Any


class Stats:
    """Request, fault, token and auth-failure counts since start or the last reset."""

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
        }
