"""Fixtures for staging, marts and exports: a warehouse built once per module, and the sandbox's
own records fetched over HTTP, so tests compare mart values with numbers computed independently.

Loaded from conftest through `pytest_plugins`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest
import requests

from payments_assets.assets.exports import export_assets
from payments_assets.assets.marts import mart_assets
from payments_assets.assets.staging import staging_assets
from payments_assets.resources import Warehouse, reporting_exports
from payments_assets.specs import load_providers

from .warehouse_fixtures import Loader, point_env_at

ALL_DAYS = ("2026-10-01", "2026-10-30")
TIMEOUT = 10


def downstream_assets(destination_kind: str = "duckdb") -> list[dg.AssetsDefinition]:
    """Staging, marts and exports, as the code location defines them."""
    return [
        *staging_assets(load_providers(), destination_kind),
        *mart_assets(destination_kind),
        *export_assets(destination_kind),
    ]


def load_everything(loader: Loader, warehouse: Warehouse) -> dg.ExecuteInProcessResult:
    """The whole sandbox month and the snapshots into raw, then every downstream asset."""
    loader.partition_range(*ALL_DAYS)
    loader.snapshots()
    return dg.materialize(
        downstream_assets(warehouse.kind),
        resources={"warehouse": warehouse, "exports": reporting_exports()},
        instance=loader.instance,
    )


@dataclass(frozen=True)
class BuiltWarehouse:
    """A DuckDB warehouse with raw, staging and marts filled, and the exports folder."""

    database: Path
    exports: Path
    result: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def built(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    """Every layer built once for the module (a load takes seconds; tests only read it)."""
    folder = tmp_path_factory.mktemp("marts")
    with pytest.MonkeyPatch.context() as patch, dg.DagsterInstance.ephemeral() as instance:
        database = point_env_at(patch, sandbox, folder)
        patch.setenv("PAYMENTS_EXPORT_DIR", str(folder / "exports"))
        loader = Loader(load_providers(), instance)
        result = load_everything(loader, Warehouse(duckdb_path=str(database)))
        yield BuiltWarehouse(database, folder / "exports", result)


class SandboxRecords:
    """Every record of a sandbox resource over plain HTTP, as the provider documents serve them
    (docs/sandbox.md), without the project's specs, sources or dlt."""

    PATHS: ClassVar[dict[str, tuple[str, str, str]]] = {  # name → (path, data key, paging)
        "gateway/transactions": ("/gateway/v1/transactions", "data", "next_cursor"),
        "gateway/list_payments": ("/gateway/v1/payments", "data", "has_more"),
        **{
            f"billing/{name}": (f"/billing/v1/{name}", "data", "total")
            for name in ("customers", "invoices", "charges", "subscriptions", "refunds")
        },
        **{
            f"direct_debit/{name}": (f"/direct_debit/v1/{name}", name, "after")
            for name in ("payments", "refunds", "mandates", "payouts")
        },
        **{
            f"commerce/{name}": (f"/commerce/v1/{name}", "data", "short_page")
            for name in ("charges", "products", "customers", "subscriptions")
        },
    }
    LIMIT = 100  # the largest page every provider accepts

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.env = sandbox.env
        self.http = requests.Session()
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def _auth(self, provider: str) -> dict[str, Any]:
        env = self.env
        if provider == "gateway":
            token = self.http.post(
                env["PAYMENTS_GATEWAY_TOKEN_URL"],
                data={"grant_type": "client_credentials"},
                auth=(env["PAYMENTS_GATEWAY_CLIENT_ID"], env["PAYMENTS_GATEWAY_CLIENT_SECRET"]),
                timeout=TIMEOUT,
            ).json()["access_token"]
            return {"headers": {"Authorization": f"Bearer {token}"}}
        if provider == "billing":
            return {"params": {"api_key": env["PAYMENTS_BILLING_API_KEY"]}}
        if provider == "direct_debit":
            token = env["PAYMENTS_DIRECT_DEBIT_ACCESS_TOKEN"]
            return {"headers": {"Authorization": f"Bearer {token}"}}
        return {"auth": (env["PAYMENTS_COMMERCE_USERNAME"], env["PAYMENTS_COMMERCE_PASSWORD"])}

    def __call__(self, name: str) -> list[dict[str, Any]]:
        """All records of `provider/resource`, e.g. `records("billing/charges")`."""
        if name not in self._cache:
            self._cache[name] = self._walk(name)
        return self._cache[name]

    def _walk(self, name: str) -> list[dict[str, Any]]:
        path, data_key, paging = self.PATHS[name]
        auth = self._auth(name.split("/")[0])
        params: dict[str, Any] = {"limit": self.LIMIT, **auth.pop("params", {})}
        rows: list[dict[str, Any]] = []
        while True:
            response = self.http.get(
                self.sandbox.base_url + path, params=params, timeout=TIMEOUT, **auth
            )
            response.raise_for_status()
            body = response.json()
            page = body[data_key]
            rows += page
            if paging == "next_cursor":
                params["cursor"] = body["next_cursor"]
                last = params["cursor"] is None
            elif paging == "after":
                params["after"] = body["meta"]["cursors"]["after"]
                last = params["after"] is None
            else:
                params["offset"] = params.get("offset", 0) + self.LIMIT
                if paging == "has_more":
                    last = not body["has_more"]
                elif paging == "total":
                    last = params["offset"] >= body["total"]
                else:
                    last = len(page) < self.LIMIT
            if last:
                return rows


@pytest.fixture(scope="module")
def records(sandbox: Any) -> SandboxRecords:
    """The session sandbox's records, fetched over HTTP on first use and kept for the module."""
    return SandboxRecords(sandbox)
