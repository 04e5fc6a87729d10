"""A partition's time window, written the way each API and dlt's incremental compare it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..specs import IncrementalSpec


@dataclass(frozen=True)
class Window:
    """Half-open `[start, end)` in UTC: consecutive partitions neither overlap nor leave gaps."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment.tzinfo is None:
                raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty window {self.start} .. {self.end}")

    def __str__(self) -> str:
        return f"[{_iso(self.start)}, {_iso(self.end)})"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cursor_value(moment: datetime, incremental: IncrementalSpec) -> Any:
    """A bound in the cursor's own format, so dlt compares like with like."""
    if incremental.cursor_format == "epoch":
        return int(moment.timestamp())
    return _iso(moment)


def incremental_config(window: Window, incremental: IncrementalSpec) -> dict[str, Any]:
    """dlt's rest_api `incremental` block for one window.

    With `end_value` set dlt keeps no cursor state, so a backfill of an old window never makes a
    later run skip rows. Without start/end params dlt still filters the rows client-side.
    """
    config: dict[str, Any] = {
        "cursor_path": incremental.cursor_path,
        "initial_value": cursor_value(window.start, incremental),
        "end_value": cursor_value(window.end, incremental),
        "range_start": "closed",
        "range_end": "open",
        "on_cursor_value_missing": "raise",
    }
    if incremental.server_side:
        config["start_param"] = incremental.start_param
        config["end_param"] = incremental.end_param
    return config
