"""Fixtures for trust tests: raw assets run together with their checks, and a webhook receiver.

Loaded from conftest through `pytest_plugins`, next to the warehouse fixtures it builds on.
"""

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from payments_assets.checks import build_freshness_checks, build_quality_checks
from payments_assets.checks.freshness import Clock, utc_now
from payments_assets.specs import ProviderSpec, load_providers

from .warehouse_fixtures import Loader


class CheckedLoader:
    """Materializes raw assets of some providers with their checks (and any test assets)."""

    def __init__(self, loader: Loader, now: Clock = utc_now) -> None:
        self.loader = loader
        self.instance = loader.instance
        self.checks = [
            *build_quality_checks(loader.specs),
            *build_freshness_checks(loader.specs, now=now),
        ]

    def at(self, moment: datetime) -> "CheckedLoader":
        """The same loader, with freshness judged as if it were `moment`."""
        return CheckedLoader(self.loader, now=lambda: moment)

    def _keys(self, partitioned: bool | None) -> list[dg.AssetKey]:
        return [
            key
            for asset in self.loader.assets
            if partitioned is None or (asset.partitions_def is not None) == partitioned
            for key in asset.keys
        ]

    def _run(
        self, selection: dg.AssetSelection, extra: Sequence[Any], **options: Any
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*self.loader.assets, *self.checks, *extra],
            selection=selection,
            resources=self.loader.resources(),
            instance=self.instance,
            raise_on_error=False,
            **options,
        )

    def partition(
        self, key: str, downstream: Sequence[dg.AssetsDefinition] = ()
    ) -> dg.ExecuteInProcessResult:
        keys = self._keys(partitioned=True)
        selection = dg.AssetSelection.assets(*keys, *downstream)
        selection |= dg.AssetSelection.checks_for_assets(*keys)
        return self._run(selection, downstream, partition_key=key)

    def partition_range(self, first: str, last: str) -> dg.ExecuteInProcessResult:
        keys = self._keys(partitioned=True)
        selection = dg.AssetSelection.assets(*keys) | dg.AssetSelection.checks_for_assets(*keys)
        tags = {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        }
        return self._run(selection, (), tags=tags)

    def snapshots(self) -> dg.ExecuteInProcessResult:
        keys = self._keys(partitioned=False)
        selection = dg.AssetSelection.assets(*keys) | dg.AssetSelection.checks_for_assets(*keys)
        return self._run(selection, ())

    def checks_only(self, *keys: dg.AssetCheckKey) -> dg.ExecuteInProcessResult:
        """Evaluate these checks without loading anything."""
        return self._run(dg.AssetSelection.checks(*keys), ())


def evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], Any]:
    """`(asset, check) → AssetCheckEvaluation` for every check the run evaluated."""
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def execute(database: Path, sql: str) -> None:
    """Change the warehouse behind the pipeline's back, as a bad load or a person would."""
    with duckdb.connect(str(database)) as connection:
        connection.execute(sql)


@pytest.fixture
def checked_for(
    loader_for: Callable[[Sequence[ProviderSpec]], Loader], warehouse_path: Path
) -> Callable[..., CheckedLoader]:
    """`checked_for("commerce")`: a checked loader for some providers (fewer assets to run)."""

    def make(*providers: str) -> CheckedLoader:
        return CheckedLoader(loader_for([s for s in load_providers() if s.name in providers]))

    return make


class AlertReceiver:
    """Where test alerts are posted: 127.0.0.1 on a free port; records posts, fails on demand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, Any]] = []
        self.failures: list[int] = []  # statuses to answer, one per request, before succeeding
        self.always_fail_with: int | None = None


@pytest.fixture
def alert_receiver() -> Iterator[AlertReceiver]:
    """Stops with the test; its path carries a token, as real webhook URLs do."""
    receiver: AlertReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append({"path": self.path, "json": json.loads(body or b"null")})
            status = receiver.always_fail_with or (
                receiver.failures.pop(0) if receiver.failures else 200
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": %s}' % (b"true" if status == 200 else b"false"))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = AlertReceiver(f"http://127.0.0.1:{server.server_port}/hooks/T0KEN-s3cr3t-9f2a")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
