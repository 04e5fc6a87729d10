"""The ingest jobs: per provider, one for its windowed resources and one for its snapshots.

Defined once and passed to `Definitions(jobs=...)`; schedules, webhook sensors and the demo's
history load run these same objects (or look them up by the names below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from ..layers import raw_key
from ..specs import ProviderSpec, ResourceView


def windowed_job_name(provider: str) -> str:
    return f"{provider}_windowed_job"


def snapshot_job_name(provider: str) -> str:
    return f"{provider}_snapshot_job"


@dataclass(frozen=True)
class ProviderJobs:
    """A provider's ingest jobs (None where it has no such resources)."""

    windowed: dg.UnresolvedAssetJobDefinition | None
    snapshots: dg.UnresolvedAssetJobDefinition | None


def _job(
    name: str, views: Sequence[ResourceView], description: str
) -> dg.UnresolvedAssetJobDefinition | None:
    if not views:
        return None
    selection = dg.AssetSelection.assets(*(raw_key(view) for view in views))
    return dg.define_asset_job(name, selection=selection, description=description)


def provider_jobs(spec: ProviderSpec) -> ProviderJobs:
    return ProviderJobs(
        windowed=_job(
            windowed_job_name(spec.name),
            spec.windowed,
            f"Load {spec.name}'s windowed resources for a range of partitions.",
        ),
        snapshots=_job(
            snapshot_job_name(spec.name),
            spec.snapshots,
            f"Reload {spec.name}'s snapshot resources.",
        ),
    )


def ingest_jobs(specs: Sequence[ProviderSpec]) -> dict[str, ProviderJobs]:
    """Provider name → its jobs."""
    return {spec.name: provider_jobs(spec) for spec in specs}


def all_jobs(jobs: dict[str, ProviderJobs]) -> list[dg.UnresolvedAssetJobDefinition]:
    return [job for pair in jobs.values() for job in (pair.windowed, pair.snapshots) if job]
