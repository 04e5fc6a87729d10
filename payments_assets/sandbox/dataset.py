"""One resource's records as a lazy, filterable sequence: nothing is stored but touched and
deleted records.

Window queries scan only the index range the timeline allows, and offset pages remember where
the previous page stopped, so walking a window page by page costs one pass, not one per page.
"""

import bisect
import hashlib
import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from payments_assets.sandbox.catalog import DELETION_MARKS, Resource
from payments_assets.sandbox.records import Record, build_record, ledger_refund
from payments_assets.sandbox.timeline import Timeline, to_iso

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
        self._vanished: set[int] = set()  # deleted records a list no longer shows
        self._marked: set[int] = set()  # deleted records still listed, marked as such
        self._offsets: OrderedDict[Window, dict[int, int]] = OrderedDict()
        self._totals: dict[Window, int] = {}

    def index_of(self, record_id: str) -> int | None:
        """Where the record with this id is in the list (None: no such record's id)."""
        return self.resource.index_of(record_id)

    def touched(self) -> list[int]:
        """Indexes of records moved by a touch, ascending."""
        return sorted(self._touched)

    def updated(self, index: int) -> int:
        """The time a window filters on: the update time, or for Stripe-shaped records (which
        change without a time a list could filter on) the creation time."""
        if self.resource.events is not None:
            return self.timeline.created(index)
        touch = self._touched.get(index)
        return touch.updated if touch else self.timeline.updated(index)

    def state(self, index: int) -> tuple[int, int]:
        """(changes so far, time of the last) of a Stripe-shaped record: one change in its
        history where the timeline updates it, then one per touch."""
        created, changed = self.timeline.created(index), self.timeline.updated(index)
        history = (1, changed) if changed > created else (0, created)
        touch = self._touched.get(index)
        return (history[0] + touch.times, touch.updated) if touch else history

    def record(self, index: int, as_of: tuple[int, int] | None = None) -> Record:
        """The record as it is now, or (Stripe-shaped records) `as_of` (changes, time)."""
        touch = self._touched.get(index)
        if self.resource.events is not None:
            changes, changed = as_of or self.state(index)
        else:
            changes = touch.times if touch else 0
            changed = touch.updated if touch else self.timeline.updated(index)
        record = build_record(
            self.resource,
            self.seed,
            index,
            self.timeline.created(index),
            changed,
            self.count,
            changes,
        )
        if index in self._marked:
            field, value = DELETION_MARKS[self.resource.deletion]
            record[field] = value
        return record

    @property
    def vanished(self) -> frozenset[int]:
        return frozenset(self._vanished)

    def is_deleted(self, index: int) -> bool:
        return index in self._vanished or index in self._marked

    def delete(self, index: int, deleted_at: int) -> Record:
        """Delete a record as its provider does (`resource.deletion`): still listed, marked and
        updated at `deleted_at` (`flag`, `status`), or gone from every list (`vanish`). Returns
        what a webhook about it carries."""
        if self.resource.deletion in DELETION_MARKS:
            self.touch(index, deleted_at)
            self._marked.add(index)
            return self.record(index)
        self._vanished.add(index)
        self._offsets.clear()
        self._totals.clear()
        return {self.resource.primary_key: self.resource.record_id(index), "deleted": True}

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


class Listing:
    """A paging fixture's list (`Resource.lists`): another resource's records, counted, selected
    and built by that resource's dataset, under the fixture's own path, paging and envelope."""

    def __init__(self, resource: Resource, records: Dataset) -> None:
        self.resource = resource
        self.records = records

    @property
    def count(self) -> int:
        return self.records.count

    def select(self, window: Window | None) -> "Selection":
        return self.records.select(window)

    def index_of(self, record_id: str) -> int | None:
        return self.records.index_of(record_id)

    def record(self, index: int) -> Record:
        return self.records.record(index)


Listed = Dataset | Listing
"""What a list endpoint pages through: a resource's records, or a paging fixture's view of them."""


class Selection:
    """The records of a dataset inside a window, in index order, addressed by position."""

    def __init__(self, dataset: Dataset, window: Window | None) -> None:
        self.dataset = dataset
        self.window = window

    def indexes_from(self, position: int) -> Iterator[int]:
        """Indexes of matching records at or after index `position`, ascending (deleted records
        that vanished from the lists left out)."""
        data = self.dataset
        gone = data.vanished
        if self.window is None:
            every = range(max(position, 0), data.count)
            return iter(every) if not gone else (i for i in every if i not in gone)
        low, high = self.window
        span = data.timeline.candidates(low, high)
        # A touched record may have left its natural range: consider it wherever it is now.
        strays = [i for i in data.touched() if i >= position and not span.start <= i < span.stop]
        scan = range(max(span.start, position), span.stop)
        lowest = float("-inf") if low is None else low
        highest = float("inf") if high is None else high
        return (
            i
            for i in heapq.merge(scan, strays)
            if lowest <= data.updated(i) < highest and i not in gone
        )

    def count(self) -> int:
        if self.window is None and not self.dataset.vanished:
            return self.dataset.count
        window = self.window or (None, None)
        return self.dataset.total(window, lambda: sum(1 for _ in self.indexes_from(0)))

    def position_of(self, offset: int) -> int:
        """The index from which `indexes_from` yields the match number `offset` first."""
        if self.window is None and not self.dataset.vanished:
            return offset
        marks = self.dataset.offset_marks(self.window or (None, None))
        if offset in marks:
            return marks[offset]
        known = max((o for o in marks if o <= offset), default=0)
        start = marks.get(known, 0)
        skipped = list(islice(self.indexes_from(start), offset - known, offset - known + 1))
        return skipped[0] if skipped else self.dataset.count

    def remember(self, offset: int, position: int) -> None:
        """Note that match number `offset` is found at or after index `position`."""
        if self.window is not None or self.dataset.vanished:
            marks = self.dataset.offset_marks(self.window or (None, None))
            if len(marks) >= _MARKS_PER_WINDOW:  # a walk with a tiny limit: start remembering anew
                marks.clear()
            marks[offset] = position


class _EventTimeline:
    """The timeline of a log: its entries are kept in time order, so a window is the range of
    entries between two bisections."""

    def __init__(self, log: "_Log") -> None:
        self.log = log

    def candidates(self, low: float | None, high: float | None) -> range:
        times = self.log.times
        first = 0 if low is None else bisect.bisect_left(times, low)
        last = len(times) if high is None else bisect.bisect_left(times, high)
        return range(first, max(first, last))

    def clamp(self, moment: int) -> int:
        return moment


@dataclass(frozen=True, order=True)
class _Event:
    """One logged event: when, its number (the id), and what it says about which record; a
    Stripe-shaped event also which resource, and the record's state (its number of changes)."""

    at: int
    number: int
    kind: str
    key_field: str
    record_id: str
    resource: str = ""
    changes: int = -1


class _Log(Dataset):
    """A dataset of things that happened, kept in time order (`times`) and worked out on first
    use (`_ensure`): windows bisect the times, pages walk the positions."""

    def __init__(self, resource: Resource, start: int, end: int, seed: int) -> None:
        self._times: list[int] = []
        super().__init__(resource, 0, start, end, seed)
        self.timeline = _EventTimeline(self)  # type: ignore[assignment]

    def _ensure(self) -> None:
        """Work the entries out (or again, after a change), then `_refresh`."""

    @property  # type: ignore[override]
    def count(self) -> int:
        self._ensure()
        return self._count

    @count.setter
    def count(self, value: int) -> None:
        self._count = value

    @property
    def times(self) -> list[int]:
        self._ensure()
        return self._times

    def updated(self, index: int) -> int:
        return self.times[index]

    def _refresh(self, times: list[int]) -> None:
        self._times = times
        self.count = len(times)
        self._offsets.clear()
        self._totals.clear()


class EventLog(_Log):
    """A provider's events resource: `<resource>.updated` for every record its history updated
    after creation, then one event per touch and per deletion through the control API.

    Listed, windowed (by `created`) and paged like any resource, in time order; an event's
    `data.object` names its record (and says `deleted: true` or the new `updated_at`).
    """

    def __init__(self, resource: Resource, start: int, end: int, seed: int) -> None:
        self._history: list[Dataset] = []
        self._sources: dict[str, Dataset] = {}
        self._events: list[_Event] = []
        super().__init__(resource, start, end, seed)

    def log_history(self, datasets: list[Dataset]) -> None:
        """The updates `datasets`' records went through before the sandbox started; listed
        from the first request on (worked out then: a big sandbox starts as fast as ever)."""
        self._history = datasets

    @property
    def events(self) -> list["_Event"]:
        """Every logged event, in time order."""
        self._ensure()
        return self._events

    def _ensure(self) -> None:
        if not self._history:
            return
        datasets, self._history = self._history, []
        self._sources = {data.resource.name: data for data in datasets}
        found = [
            (data.timeline.updated(i), f"{data.resource.name}.updated", data.resource, i, -1)
            for data in datasets
            if data.resource.events is None
            for i in range(data.count)
            if data.timeline.updated(i) > data.timeline.created(i)
        ]
        for data in datasets:  # Stripe-shaped: every creation and every change is an event
            if data.resource.events is None:
                continue
            on_create, on_change = data.resource.events
            for i in range(data.count):
                created, changed = data.timeline.created(i), data.timeline.updated(i)
                found.append((created, on_create, data.resource, i, 0))
                if changed > created:
                    found.append((changed, on_change, data.resource, i, 1))
        found.sort(key=lambda item: (item[0], item[1], item[3]))
        self._events = [
            _Event(
                at,
                number,
                kind,
                resource.primary_key,
                resource.record_id(i),
                resource.name if changes >= 0 else "",
                changes,
            )
            for number, (at, kind, resource, i, changes) in enumerate(found, start=1)
        ]
        self._refresh([event.at for event in self._events])

    def record(self, index: int, as_of: tuple[int, int] | None = None) -> Record:
        self._ensure()
        event = self._events[index]
        if event.changes >= 0:
            return self._stripe_event(event)
        change = {"deleted": True} if event.kind.endswith(".deleted") else {}
        return {
            "id": f"{self.resource.id_prefix}{event.number:06d}",
            "object": "event",
            "type": event.kind,
            "created": event.at if self.resource.time_format == "epoch" else to_iso(event.at),
            "data": {
                "object": {
                    event.key_field: event.record_id,
                    **(change or {"updated_at": to_iso(event.at)}),
                }
            },
        }

    def _stripe_event(self, event: _Event) -> Record:
        """A Stripe event: its type, epoch `created`, and the object's whole state then."""
        source = self._sources[event.resource]
        index = source.resource.index_of(event.record_id)
        assert index is not None
        state = source.record(index, as_of=(event.changes, event.at))
        return {
            "id": f"{self.resource.id_prefix}{event.number:06d}",
            "object": "event",
            "type": event.kind.format(status=state.get("status", "")),
            "created": event.at,
            "livemode": False,
            "data": {"object": state},
        }

    def append(
        self,
        kind: str,
        record_id_field: str,
        record_id: str,
        at: int,
        resource: str = "",
        changes: int = -1,
    ) -> Record:
        """Log a `<resource>.<action>` event about a record, as the provider's events list it
        (a Stripe-shaped one names its resource and the record's number of changes)."""
        self._ensure()
        number = len(self._events) + 1
        event = _Event(at, number, kind, record_id_field, record_id, resource, changes)
        bisect.insort(self._events, event)
        self._refresh([event.at for event in self._events])
        return self.record(self._events.index(event))


@dataclass(frozen=True)
class _Refund:
    """One rise of a record's `amount_refunded`: when, the event that told it (its number gives
    the refund's id), which record and by how much."""

    at: int
    number: int
    index: int
    changes: int
    amount: int


class RefundLog(_Log):
    """Stripe's refunds list, derived from the event log: one refund per change event of the
    `refunds_of` resource (the ledger's charges) that raised `amount_refunded`, for that rise,
    dated by the event. The refunds of a charge so add up to its current `amount_refunded`,
    whatever touches did; ids follow the events' numbers, so a later touch moves none."""

    def __init__(self, resource: Resource, start: int, end: int, seed: int) -> None:
        self._log: EventLog | None = None
        self._source: Dataset | None = None
        self._seen = 0  # how many events the refunds were derived from
        self._refunds: list[_Refund] = []
        self._positions: dict[int, int] = {}  # event number → position in the list
        self._rises: dict[tuple[int, int], int] = {}  # (record, changes) → the rise then
        super().__init__(resource, start, end, seed)

    def derive_from(self, log: EventLog, source: Dataset) -> None:
        """Read the refunds off `log`'s change events of `source`'s records."""
        self._log, self._source = log, source

    def _ensure(self) -> None:
        log, source = self._log, self._source
        if log is None or source is None or log.count == self._seen:
            return
        self._seen = log.count
        self._refunds = []
        for event in log.events:  # in time order, so the refunds are too
            if event.resource != source.resource.name or event.changes < 1:
                continue  # a creation, a deletion, or another resource's event
            index = source.index_of(event.record_id)
            assert index is not None, event
            rise = self._rise(source, index, event.changes)
            if rise > 0:  # a pending or failed charge, or one refunded whole, changes by 0
                self._refunds.append(_Refund(event.at, event.number, index, event.changes, rise))
        self._positions = {refund.number: i for i, refund in enumerate(self._refunds)}
        self._refresh([refund.at for refund in self._refunds])

    def _rise(self, source: Dataset, index: int, changes: int) -> int:
        """How much the record's `changes`-th change raised its `amount_refunded`."""
        key = (index, changes)
        if key not in self._rises:
            now, before = (  # the amount depends on the number of changes, not their time
                source.record(index, as_of=(n, 0))["amount_refunded"]
                for n in (changes, changes - 1)
            )
            self._rises[key] = now - before
        return self._rises[key]

    def index_of(self, record_id: str) -> int | None:
        position = self.resource.index_of(record_id)  # `re_000042` → 41: event number 42
        self._ensure()
        return None if position is None else self._positions.get(position + 1)

    def record(self, index: int, as_of: tuple[int, int] | None = None) -> Record:
        self._ensure()
        refund = self._refunds[index]
        assert self._source is not None
        charge = self._source.record(refund.index, as_of=(refund.changes, refund.at))
        return ledger_refund(
            self.resource, self.seed, refund.number, charge, refund.amount, refund.at
        )
