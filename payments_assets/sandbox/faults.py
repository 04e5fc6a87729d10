"""Failures on demand: random 5xx at `--fail-rate` and faults injected through `/__faults`.

Pipelines are only as good as their behaviour on bad days; these are the bad days, made
reproducible (the random failures draw from an RNG seeded by `--seed`).
"""

import random
from dataclasses import dataclass
from typing import Any

KINDS: tuple[str, ...] = (
    "html",
    "html_500",
    "empty_body",
    "invalid_request",
    "truncated_json",
    "missing_selector",
    "endless_cursor",
    "expire_tokens",
)
"""Fault kinds besides `status:<code>`. `html` (with a count: that many maintenance pages, then
JSON again) and `empty_body` are 200s that are no JSON; `invalid_request` is a 400 whose body says
why in the provider's own shape, quoting the credential the request used, as careless APIs do."""

RANDOM_STATUSES: tuple[int, ...] = (500, 502, 503, 504)


class FaultError(ValueError):
    """A `/__faults` request that cannot be honoured; the message says which field and why."""


@dataclass
class Fault:
    """An injected fault: the path prefix it applies to, its kind and how many uses remain."""

    path: str
    kind: str
    remaining: int | None

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "count": self.remaining}


def parse_fault(body: Any) -> Fault:
    """Validate a `/__faults` body: `{"path": str, "kind": K, "count": null|n}`."""
    if not isinstance(body, dict):
        raise FaultError('expected a JSON object {"path", "kind", "count"}')
    path, kind, count = body.get("path"), body.get("kind"), body.get("count")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultError("path must be a string starting with '/' (e.g. /billing/v1/charges)")
    if kind not in KINDS and status_of(kind) is None:
        raise FaultError(f"kind must be one of {', '.join(KINDS)} or status:<100-599>")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise FaultError("count must be null (every request) or a positive integer")
    return Fault(path, kind, count)


def status_of(kind: Any) -> int | None:
    """The HTTP status of a `status:<code>` kind, or None for any other kind."""
    if not isinstance(kind, str) or not kind.startswith("status:"):
        return None
    code = kind.removeprefix("status:")
    return int(code) if code.isdigit() and 100 <= int(code) <= 599 else None


class FaultBook:
    """Injected faults, oldest first; each matching data request uses up one."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def listing(self) -> list[dict[str, Any]]:
        return [fault.as_json() for fault in self._faults]

    def take(self, path: str) -> str | None:
        """The kind of the first fault matching `path`, consuming one of its uses."""
        for fault in self._faults:
            if path.startswith(fault.path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault.kind
        return None


class RandomFailures:
    """Answers a `rate` share of data requests with a random 5xx, reproducibly from `seed`."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._rng = random.Random(f"faults:{seed}")

    def draw(self) -> int | None:
        if self.rate <= 0:
            return None
        failed = self._rng.random() < self.rate
        status = self._rng.choice(RANDOM_STATUSES)
        return status if failed else None
