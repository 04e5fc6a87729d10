"""Asset checks and freshness for the raw layer, built from the provider specs."""

from .freshness import build_freshness_checks, build_freshness_sensor, with_freshness_policies
from .quality import build_quality_checks

__all__ = [
    "build_freshness_checks",
    "build_freshness_sensor",
    "build_quality_checks",
    "with_freshness_policies",
]
