"""Everything one running sandbox remembers: datasets, tokens, faults, rate buckets, counters,
and the webhook emitter when `--webhook-url` is set.

Built once per app from `SandboxOptions`; handlers receive it explicitly, so two apps in one
process (as in-process tests may create) never share state.
"""

from payments_assets.sandbox.auth import TokenIssuer
from payments_assets.sandbox.catalog import EVENT_LOGS, PROVIDERS, RESOURCES, Resource
from payments_assets.sandbox.dataset import Dataset, EventLog, RefundLog
from payments_assets.sandbox.faults import FaultBook, RandomFailures
from payments_assets.sandbox.options import SandboxOptions
from payments_assets.sandbox.stats import Stats
from payments_assets.sandbox.throttle import TokenBucket
from payments_assets.sandbox.webhooks import WebhookEmitter, parse_fault_rates

ACCOUNT_SEED_STEP = 7919


class SandboxState:
    """The mutable state behind one sandbox app."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        # Account k has its own records (another seed) under the same ids: ids overlap across
        # accounts, as they do at real providers.
        self.accounts = {
            number: {
                resource.key: _dataset(
                    resource, options, options.seed + ACCOUNT_SEED_STEP * (number - 1)
                )
                for resource in RESOURCES
                if resource.lists is None  # a paging fixture lists another's records
            }
            for number in range(1, options.accounts + 1)
        }
        for datasets in self.accounts.values():  # an events resource logs its history
            for log in datasets.values():
                if isinstance(log, EventLog):
                    log.log_history(
                        [
                            data
                            for data in datasets.values()
                            if data.resource.provider == log.resource.provider
                            and type(data) is Dataset  # generated records, not a log
                        ]
                    )
            for refunds in datasets.values():  # a refunds list reads the events resource
                if isinstance(refunds, RefundLog) and refunds.resource.refunds_of:
                    provider = refunds.resource.provider
                    events = datasets[EVENT_LOGS[provider].key]
                    assert isinstance(events, EventLog)
                    refunds.derive_from(events, datasets[(provider, refunds.resource.refunds_of)])
        self.datasets = self.accounts[1]
        self.tokens = TokenIssuer(options.token_ttl)
        self.faults = FaultBook()
        self.failures = RandomFailures(options.fail_rate, options.seed)
        # One budget per credential (provider, account), as real providers meter per API key.
        self.buckets = {
            (provider, number): TokenBucket(options.rate_limit)
            for provider in PROVIDERS
            for number in self.accounts
        }
        self.stats = Stats()
        self.webhooks = (
            WebhookEmitter(
                options.webhook_url,
                parse_fault_rates(options.webhook_faults),
                options.seed,
                self.stats,
            )
            if options.webhook_url
            else None
        )


def _dataset(resource: Resource, options: SandboxOptions, seed: int) -> Dataset:
    """A resource's records: generated, or (events, refunds) logged as things happen."""
    start, end = options.start_epoch, options.end_epoch
    if resource.event_log:
        return EventLog(resource, start, end, seed)
    if resource.refunds_of:
        return RefundLog(resource, start, end, seed)
    return Dataset(resource, options.records, start, end, seed)
