"""What the resources read from the environment when definitions load, and how.

A variable set at load becomes an `EnvVar` (the UI, run config and snapshots show its name, never
its value); unset, the field keeps its default. Nothing below definitions reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import dagster as dg

DestinationKind = Literal["duckdb", "postgres"]


def env_or(name: str, default: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`EnvVar(name)` when the variable is set at load (its value stays out of the UI)."""
    environ = os.environ if environ is None else environ
    return dg.EnvVar(name) if environ.get(name) else default


def destination_kind(environ: Mapping[str, str] | None = None) -> DestinationKind:
    environ = os.environ if environ is None else environ
    kind = environ.get("PAYMENTS_DESTINATION", "duckdb")
    if kind not in ("duckdb", "postgres"):
        raise ValueError(f"PAYMENTS_DESTINATION must be duckdb or postgres, not '{kind}'")
    return kind  # type: ignore[return-value]
