"""Per-credential rate limiting, so clients prove they honour 429 and `Retry-After`.

A token bucket holding at most R requests (at least one), refilled at R per second: bursts up
to R pass, a sustained rate above R per second is answered 429. Each (provider, account) has
its own bucket, as a real provider meters each API key: one account's burst never slows another.
"""

import time


class TokenBucket:
    """At most `rate` requests per second; `rate` 0 means unlimited."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(rate, 1.0)  # a rate below 1/s must still let single requests through
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
