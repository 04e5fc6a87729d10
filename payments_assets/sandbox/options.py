"""The sandbox's knobs, shared by the CLI, the app factory and the subprocess launcher.

One dataclass means `running_sandbox(records=...)`, `payments-sandbox --records` and
`create_app(SandboxOptions(records=...))` cannot drift apart.
"""

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone

from payments_assets.sandbox.webhooks import WebhookFaultError, parse_fault_rates


def default_start() -> date:
    """Thirty days before today (UTC), so the demo always shows fresh data."""
    return datetime.now(timezone.utc).date() - timedelta(days=30)


@dataclass(frozen=True)
class SandboxOptions:
    """Data size and shape, credentials lifetime and fault rates of one sandbox."""

    records: int = 1000
    start: date = field(default_factory=default_start)
    days: int = 30
    seed: int = 1
    fail_rate: float = 0.0
    rate_limit: float = 0.0
    latency_ms: int = 0
    token_ttl: int = 3600
    accounts: int = 1
    webhook_url: str | None = None
    webhook_faults: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.start, str):  # running_sandbox(start="2026-10-01") reads naturally
            object.__setattr__(self, "start", date.fromisoformat(self.start))
        problems = [
            "records must be >= 0" if self.records < 0 else "",
            "days must be >= 1" if self.days < 1 else "",
            "fail_rate must be between 0 and 1" if not 0 <= self.fail_rate <= 1 else "",
            "rate_limit must be >= 0 (0 = unlimited)" if self.rate_limit < 0 else "",
            "latency_ms must be >= 0" if self.latency_ms < 0 else "",
            "token_ttl must be >= 1 second" if self.token_ttl < 1 else "",
            "accounts must be >= 1" if self.accounts < 1 else "",
        ]
        try:
            parse_fault_rates(self.webhook_faults)
        except WebhookFaultError as error:
            problems.append(str(error))
        if any(problems):
            raise ValueError("; ".join(p for p in problems if p))

    @property
    def start_epoch(self) -> int:
        return int(datetime(*self.start.timetuple()[:3], tzinfo=timezone.utc).timestamp())

    @property
    def end_epoch(self) -> int:
        return self.start_epoch + self.days * 86400

    def to_args(self) -> list[str]:
        """The command-line flags that reproduce these options (`--fail-rate 0.2`, ...)."""
        args: list[str] = []
        for option in fields(self):
            value = getattr(self, option.name)
            if value is not None:
                args += [f"--{option.name.replace('_', '-')}", str(value)]
        return args
