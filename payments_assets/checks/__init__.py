"""Asset checks for the raw layer, built from the provider specs: quality rules and freshness."""

from .freshness import build_freshness_checks, with_freshness_policies
from .quality import build_quality_checks

__all__ = ["build_freshness_checks", "build_quality_checks", "with_freshness_policies"]
