"""One resource's records as a lazy, filterable sequence: nothing is stored but touched records.

Window queries scan only the index range the timeline allows, and offset pages remember where
the previous page stopped, so walking a window page by page costs one pass, not one per page.
"""

import hashlib
import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from payments_assets.sandbox.catalog import Resource
from payments_assets.sandbox.records import Record, build_record
from payments_assets.sandbox.timeline import Timeline

Window = tuple[float | None, float | None]
"""Half-open `[from, to)` on the update time, in epoch seconds; None means unbounded."""

_REMEMBERED_WINDOWS = 64
_MARKS_PER_WINDOW = 100_000


@dataclass
class Touch:
    """A record moved by `/__records/.../touch`: its new update time and how often it moved."""

    updated: int
    times: int


class Dataset:
    """The records of one resource, generated on demand from (seed, index)."""

    def __init__(self, resource: Resource, count: int, start: int, end: int, seed: int) -> None:
        self.resource = resource
        self.count = len(resource.fixed_ids) if resource.fixed_ids is not None else count
        self.seed = seed
        digest = hashlib.sha256(f"{seed}:{resource.provider}:{resource.name}".encode()).digest()
        self.timeline = Timeline(
            start, end, self.count, int.from_bytes(digest[:8], "big"), resource.updates
        )
        self._touched: dict[int, Touch] = {}
        self._offsets: OrderedDict[Window, dict[int, int]] = OrderedDict()
        self._totals: dict[Window, int] = {}

    def touched(self) -> list[int]:
        """Indexes of records moved by a touch, ascending."""
        return sorted(self._touched)

    def updated(self, index: int) -> int:
        touch = self._touched.get(index)
        return touch.updated if touch else self.timeline.updated(index)

    def record(self, index: int) -> Record:
        touch = self._touched.get(index)
        return build_record(
            self.resource,
            self.seed,
            index,
            self.timeline.created(index),
            touch.updated if touch else self.timeline.updated(index),
            self.count,
            touch.times if touch else 0,
        )

    def touch(self, index: int, updated: int) -> Record:
        """Give a record a new update time and status; later pages and windows see it."""
        previous = self._touched.get(index)
        self._touched[index] = Touch(updated, previous.times + 1 if previous else 1)
        self._offsets.clear()  # both caches describe the records before this touch
        self._totals.clear()
        return self.record(index)

    def select(self, window: Window | None) -> "Selection":
        return Selection(self, window)

    def total(self, window: Window, count: Callable[[], int]) -> int:
        """The number of records in `window`, counted once until the next touch."""
        if window not in self._totals:
            self._totals[window] = count()
        return self._totals[window]

    def offset_marks(self, window: Window) -> dict[int, int]:
        """Offset → index where a page of `window` may start scanning (least recently used go)."""
        marks = self._offsets.pop(window, None) or {}
        self._offsets[window] = marks
        while len(self._offsets) > _REMEMBERED_WINDOWS:
            self._offsets.popitem(last=False)
        return marks


class Selection:
    """The records of a dataset inside a window, in index order, addressed by position."""

    def __init__(self, dataset: Dataset, window: Window | None) -> None:
        self.dataset = dataset
        self.window = window

    def indexes_from(self, position: int) -> Iterator[int]:
        """Indexes of matching records at or after index `position`, ascending."""
        data = self.dataset
        if self.window is None:
            return iter(range(max(position, 0), data.count))
        low, high = self.window
        span = data.timeline.candidates(low, high)
        # A touched record may have left its natural range: consider it wherever it is now.
        strays = [i for i in data.touched() if i >= position and not span.start <= i < span.stop]
        scan = range(max(span.start, position), span.stop)
        lowest = float("-inf") if low is None else low
        highest = float("inf") if high is None else high
        return (i for i in heapq.merge(scan, strays) if lowest <= data.updated(i) < highest)

    def count(self) -> int:
        if self.window is None:
            return self.dataset.count
        return self.dataset.total(self.window, lambda: sum(1 for _ in self.indexes_from(0)))

    def position_of(self, offset: int) -> int:
        """The index from which `indexes_from` yields the match number `offset` first."""
        if self.window is None:
            return offset
        marks = self.dataset.offset_marks(self.window)
        if offset in marks:
            return marks[offset]
        known = max((o for o in marks if o <= offset), default=0)
        start = marks.get(known, 0)
        skipped = list(islice(self.indexes_from(start), offset - known, offset - known + 1))
        return skipped[0] if skipped else self.dataset.count

    def remember(self, offset: int, position: int) -> None:
        """Note that match number `offset` is found at or after index `position`."""
        if self.window is not None:
            marks = self.dataset.offset_marks(self.window)
            if len(marks) >= _MARKS_PER_WINDOW:  # a walk with a tiny limit: start remembering anew
                marks.clear()
            marks[offset] = position
