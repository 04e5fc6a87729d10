"""Fixtures for asset tests: an environment pointed at a sandbox, a temp DuckDB, a Dagster instance.

Loaded from conftest through `pytest_plugins`; kept apart so the sandbox fixtures stay small.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from payments_assets.assets.ingest import ingest_assets
from payments_assets.resources import build_resources
from payments_assets.specs import PROVIDERS_DIR, ProviderSpec, load_providers

from .source_fixtures import query as query  # re-exported: the asset tests' SQL helper


def point_env_at(monkeypatch: pytest.MonkeyPatch, sandbox: Any, folder: Path) -> Path:
    """Set every provider's variables to `sandbox`, the warehouse to a DuckDB in `folder` (and
    the webhook store to a file there)."""
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    database = folder / "warehouse.duckdb"
    monkeypatch.setenv("PAYMENTS_DUCKDB_PATH", str(database))
    monkeypatch.setenv("PAYMENTS_DLT_WORKDIR", str(folder / "dlt"))
    monkeypatch.setenv("PAYMENTS_DESTINATION", "duckdb")
    # Loads read deletion webhooks: from the test's own store, never a demo's `data/`.
    monkeypatch.setenv("PAYMENTS_WEBHOOK_DB", str(folder / "webhooks.sqlite"))
    return database


@pytest.fixture
def warehouse_path(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file, with every provider pointed at the session's sandbox."""
    return point_env_at(monkeypatch, sandbox, tmp_path)


class Loader:
    """Materializes raw assets of some providers into the test's warehouse."""

    def __init__(self, specs: Sequence[ProviderSpec], instance: dg.DagsterInstance) -> None:
        self.specs = list(specs)
        self.instance = instance
        self.assets = ingest_assets(self.specs, "duckdb")

    def resources(self) -> dict[str, Any]:
        return build_resources(self.specs, os.environ)

    def _select(self, providers: Sequence[str] | None, partitioned: bool) -> list[Any]:
        chosen = []
        for asset in self.assets:
            provider = next(iter(asset.keys)).path[0]
            if (providers is None or provider in providers) and (
                (asset.partitions_def is not None) == partitioned
            ):
                chosen.append(asset)
        return chosen

    def partition(
        self, key: str, providers: Sequence[str] | None = None, raise_on_error: bool = True
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            self._select(providers, partitioned=True),
            partition_key=key,
            resources=self.resources(),
            instance=self.instance,
            raise_on_error=raise_on_error,
        )

    def partition_range(
        self, first: str, last: str, providers: Sequence[str] | None = None
    ) -> dg.ExecuteInProcessResult:
        """One run over `first...last`, as a single-run backfill launches it."""
        return dg.materialize(
            self._select(providers, partitioned=True),
            resources=self.resources(),
            instance=self.instance,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
        )

    def snapshots(
        self, providers: Sequence[str] | None = None, raise_on_error: bool = True
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            self._select(providers, partitioned=False),
            resources=self.resources(),
            instance=self.instance,
            raise_on_error=raise_on_error,
        )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def loader(warehouse_path: Path, instance: dg.DagsterInstance) -> Loader:
    return Loader(load_providers(PROVIDERS_DIR), instance)


@pytest.fixture
def loader_for(instance: dg.DagsterInstance) -> Callable[[Sequence[ProviderSpec]], Loader]:
    """A loader for specs a test has edited (other retries, other paths)."""
    return lambda specs: Loader(specs, instance)


def warehouse_rows(warehouse: Any, sql: str) -> list[tuple[Any, ...]]:
    """`sql` on a `Warehouse` resource (DuckDB or Postgres), through its session."""
    with warehouse.session() as session:
        return session.rows(sql)


def _reader() -> requests.Session:
    """A session that reads a sandbox through its faults: 5xx and 429 are retried."""
    session = requests.Session()
    retry = Retry(
        total=10,
        backoff_factor=0.05,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
    )
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def gateway_token(sandbox: Any) -> str:
    """A gateway access token from the sandbox's OAuth2 endpoint, for reading it over HTTP."""
    env = sandbox.env
    return (
        _reader()
        .post(
            env["PAYMENTS_GATEWAY_TOKEN_URL"],
            data={"grant_type": "client_credentials"},
            auth=(env["PAYMENTS_GATEWAY_CLIENT_ID"], env["PAYMENTS_GATEWAY_CLIENT_SECRET"]),
            timeout=10,
        )
        .json()["access_token"]
    )


def balances_in_sandbox(sandbox: Any) -> int:
    """How many balances the sandbox serves (one per currency), read over HTTP."""
    response = _reader().get(
        sandbox.env["PAYMENTS_GATEWAY_BASE_URL"] + "/v1/balances",
        headers={"Authorization": f"Bearer {gateway_token(sandbox)}"},
        timeout=10,
    )
    return len(response.json()["data"])


def events_in_sandbox(sandbox: Any) -> int:
    """How many events billing's events resource lists (one per update in the records'
    history, and per touch or deletion since), read over HTTP."""
    env = sandbox.env
    response = _reader().get(
        env["PAYMENTS_BILLING_BASE_URL"] + "/v1/events",
        params={"api_key": env["PAYMENTS_BILLING_API_KEY"], "limit": 1},
        timeout=10,
    )
    return response.json()["total"]


def rows_in_sandbox(sandbox: Any, specs: Any, records: int) -> dict[str, tuple[int, int]]:
    """(rows, distinct keys) each resource of `specs` should land from a sandbox started with
    `--records records`: `records` for a list; balances and events as the sandbox serves them."""
    expected = {
        f"{spec.name}/{view.name}": (records, records) for spec in specs for view in spec.views
    }
    served = {"gateway/balances": balances_in_sandbox, "billing/events": events_in_sandbox}
    for name, count in served.items():
        if name in expected:
            expected[name] = (count(sandbox),) * 2
    return expected


def billing_charges_updated_on(sandbox: Any, day: str) -> list[dict[str, Any]]:
    """The sandbox's billing charges whose update time falls on `day`, read over HTTP."""
    env = sandbox.env
    response = requests.get(
        env["PAYMENTS_BILLING_BASE_URL"] + "/v1/charges",
        params={
            "api_key": env["PAYMENTS_BILLING_API_KEY"],
            "updated_gte": f"{day}T00:00:00Z",
            "updated_lt": f"{day}T23:59:59Z",
        },
        timeout=10,
    )
    return response.json()["data"]
