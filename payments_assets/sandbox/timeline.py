"""When each record was created and last updated, computable from its index alone.

Creation time grows with the index and an update lands at most `MAX_UPDATE_DELAY` later, so the
records whose update time falls in a window sit in an index range found by arithmetic: a window
query over a million records scans only that range and never materialises the dataset.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from payments_assets.sandbox.draws import splitmix64

MAX_UPDATE_DELAY = 10 * 24 * 3600
"""Upper bound (seconds) between a record's creation and its update."""

UPDATED_SHARE = 0.3
"""Fraction of records whose update time is later than their creation time."""


@dataclass(frozen=True)
class Timeline:
    """Creation and update times (epoch seconds) of `count` records spread over `[start, end)`."""

    start: int
    end: int
    count: int
    salt: int
    updates: bool = True
    step: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", (self.end - self.start) / max(self.count, 1))

    def created(self, index: int) -> int:
        # The jitter stays below one step, so creation time never decreases with the index.
        jitter = (splitmix64(self.salt ^ index) & 0xFFFFFFFF) / 4294967296.0
        return min(self.start + int((index + jitter) * self.step), self.end - 1)

    def updated(self, index: int) -> int:
        created = self.created(index)
        if not self.updates:
            return created
        mixed = splitmix64(self.salt ^ index ^ 0x5DEECE66D)
        if (mixed & 0xFFFF) >= UPDATED_SHARE * 0x10000:
            return created
        delay = 1 + ((mixed >> 16) & 0xFFFFFFFF) * (MAX_UPDATE_DELAY - 1) // 0xFFFFFFFF
        return min(created + delay, self.end - 1)

    def candidates(self, low: float | None, high: float | None) -> range:
        """Indexes whose update time may fall in `[low, high)`; a superset, never a subset."""
        reach = MAX_UPDATE_DELAY if self.updates else 0
        first, last = 0, self.count
        if low is not None:
            first = int((max(low - reach, self.start) - self.start) / self.step) - 1
        if high is not None:
            # +1 s covers the truncation to whole seconds, which matters when steps are < 1 s.
            last = int((min(high, self.end) - self.start + 1) / self.step) + 2
        return range(max(first, 0), min(max(last, 0), self.count))

    def clamp(self, moment: int) -> int:
        """Bring a moment into the data range `[start, end)`."""
        return min(max(moment, self.start), self.end - 1)


_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=4096)
def _day(days_since_epoch: int) -> str:
    return (_EPOCH + timedelta(days=days_since_epoch)).isoformat()


def to_iso(epoch: int) -> str:
    """Format epoch seconds the way every provider does: `2026-10-03T12:34:56Z`.

    Arithmetic on a cached day string: `strftime` was a tenth of the sandbox's time per record.
    """
    days, seconds = divmod(int(epoch), 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def parse_moment(text: str, time_format: str) -> float:
    """Read a window bound: ISO 8601 (naive means UTC) or, for epoch fields, epoch seconds.

    Raises ValueError with the offending text so the API can answer 400 with it.
    """
    if time_format == "epoch":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected epoch seconds, got {text!r}") from None
    # A client that forgets to encode `+02:00` sends a space: read it back as the plus it was.
    repaired = text.replace("Z", "+00:00")
    if "T" in repaired:
        repaired = re.sub(r" (\d\d:?\d\d)$", r"+\1", repaired)
    try:
        moment = datetime.fromisoformat(repaired)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 timestamp, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
