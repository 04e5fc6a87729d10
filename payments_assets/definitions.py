"""The code location: one `Definitions`, read like a table of contents."""

from __future__ import annotations

import dagster as dg

from .assets.ingest import ingest_assets
from .automation.schedules import ingest_schedules
from .resources import build_resources, destination_kind
from .specs import load_providers

PROVIDERS = load_providers()
DESTINATION = destination_kind()


def _pool(provider: str) -> str:
    # DuckDB takes one writer at a time; a server warehouse takes one run per provider API.
    return "duckdb_writer" if DESTINATION == "duckdb" else f"{provider}_api"


defs = dg.Definitions(
    assets=[*ingest_assets(PROVIDERS, DESTINATION, _pool)],
    schedules=[*ingest_schedules(PROVIDERS)],
    resources=build_resources(PROVIDERS),
)
