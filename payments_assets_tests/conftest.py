"""Shared fixtures: one sandbox for the whole session, and a factory for sandboxes with options."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from typing import Any

import pytest

from payments_assets.sandbox import SandboxHandle, running_sandbox

pytest_plugins = [
    "payments_assets_tests.leak_scan",
    "payments_assets_tests.card_fixtures",
    "payments_assets_tests.source_fixtures",
    "payments_assets_tests.warehouse_fixtures",
    "payments_assets_tests.webhook_fixtures",
    "payments_assets_tests.postgres_fixtures",
    "payments_assets_tests.object_store_fixtures",
    "payments_assets_tests.distributed_fixtures",
    "payments_assets_tests.marts_fixtures",
    "payments_assets_tests.trust_fixtures",
    "payments_assets_tests.reliability_fixtures",
]

SANDBOX_DEFAULTS: dict[str, Any] = {
    "records": 200,
    "start": date(2026, 10, 1),
    "days": 30,
    "seed": 1,
}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """A sandbox with 200 records per resource over October 2026, seed 1, no faults."""
    with running_sandbox(**SANDBOX_DEFAULTS) as handle:
        yield handle


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes with the session defaults overridden by keyword; all stop at test end."""
    with ExitStack() as stack:

        def start(**options: Any) -> SandboxHandle:
            return stack.enter_context(running_sandbox(**{**SANDBOX_DEFAULTS, **options}))

        yield start
