"""A provider's request budget, kept by every request of a run: one token bucket, shared by its
parallel resources and its token requests, that a 429 slows down for everyone.

Real providers publish a budget (Stripe: 100 requests/s live, 25 in test mode) and answer 429
storms past it; parallel resources firing as fast as answered would meet it at once. Written by
hand on purpose: the token-bucket libraries (pyrate-limiter, and requests-ratelimiter over it)
pace requests, but none lets one 429's `Retry-After` hold back every thread sharing the bucket,
which is what a provider's budget asks of its clients. Across runs, the provider's concurrency
pool admits one API-calling run at a time (`layers.provider_pool`), so one bucket is the whole
budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from ..specs.dialect import RateLimit

MAX_PAUSE_SECONDS = 60.0
_EPSILON = 1e-6


class RequestBudget:
    """`capacity` requests at once, refilled at `rate` per second; `pause` stops every taker."""

    def __init__(
        self,
        rate: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.capacity = rate, capacity
        self._clock, self._sleep = clock, sleep
        self._tokens = float(capacity)
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for the budget, all threads together

    @classmethod
    def of(cls, limit: RateLimit) -> RequestBudget:
        return cls(limit.requests_per_second, limit.capacity)

    def take(self) -> None:
        """Wait until a request may go out, then spend one token on it."""
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                wait = max(self._paused_until - now, 0.0)
                if not wait and self._tokens >= 1 - _EPSILON:
                    self._tokens = max(self._tokens - 1, 0.0)
                    return
                # At least a microsecond: a wait rounded to nothing would spin forever.
                wait = max(wait or (1 - self._tokens) / self.rate, _EPSILON)
                self.waited += wait
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """The provider said to wait: nobody sends before then, and the bucket starts empty."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + min(seconds, MAX_PAUSE_SECONDS))
            self._tokens = 0.0
            self._stamp = self._paused_until


def retry_after_seconds(response: Response) -> float:
    """`Retry-After` in seconds (a number or an HTTP date); one second when absent or garbled."""
    value = response.headers.get("Retry-After", "").strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return 1.0


class BudgetedAdapter(HTTPAdapter):
    """requests' transport with every send drawn from `budget`, and a 429 pausing it."""

    def __init__(self, budget: RequestBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        self.budget.take()
        response = super().send(request, **kwargs)
        if response.status_code == 429:
            self.budget.pause(retry_after_seconds(response))
        return response


def mount_budget(session: Any, budget: RequestBudget) -> None:
    """Route every request of `session` (http and https) through `budget`."""
    adapter = BudgetedAdapter(budget)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
