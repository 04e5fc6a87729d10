"""Everything one running sandbox remembers: datasets, tokens, faults, rate buckets, counters.

Built once per app from `SandboxOptions`; handlers receive it explicitly, so two apps in one
process (as in-process tests may create) never share state.
"""

from payments_assets.sandbox.auth import TokenIssuer
from payments_assets.sandbox.catalog import PROVIDERS, RESOURCES
from payments_assets.sandbox.dataset import Dataset
from payments_assets.sandbox.faults import FaultBook, RandomFailures
from payments_assets.sandbox.options import SandboxOptions
from payments_assets.sandbox.stats import Stats
from payments_assets.sandbox.throttle import TokenBucket


class SandboxState:
    """The mutable state behind one sandbox app."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.datasets = {
            resource.key: Dataset(
                resource, options.records, options.start_epoch, options.end_epoch, options.seed
            )
            for resource in RESOURCES
        }
        self.tokens = TokenIssuer(options.token_ttl)
        self.faults = FaultBook()
        self.failures = RandomFailures(options.fail_rate, options.seed)
        self.buckets = {provider: TokenBucket(options.rate_limit) for provider in PROVIDERS}
        self.stats = Stats()
