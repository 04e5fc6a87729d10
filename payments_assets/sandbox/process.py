"""Run a sandbox in a subprocess for tests and benchmarks, and steer it over HTTP.

A real process on a real port is what pipelines meet in production (sockets, uvicorn,
separate memory), and it cannot share state with the test that drives it.
"""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from payments_assets.loopback import free_port, stop
from payments_assets.sandbox.credentials import sandbox_env
from payments_assets.sandbox.options import SandboxOptions

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class SandboxStartError(RuntimeError):
    """The sandbox process died or did not answer `/__stats` in time; carries its output."""


class SandboxHandle:
    """A running sandbox: where it listens, the env that points clients at it, its controls."""

    def __init__(
        self, port: int, process: subprocess.Popen[bytes], log: Path, accounts: int = 1
    ) -> None:
        self.port = port
        self.accounts = accounts
        self.process = process
        self._log = log
        self._http = requests.Session()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return sandbox_env(HOST, self.port, self.accounts)

    def output(self) -> str:
        """Everything the server process has printed so far (stdout and stderr)."""
        return self._log.read_text(errors="replace")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, self.base_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """Everything `/__stats` reports, as docs/sandbox.md lists it: requests, faults,
        `rate_limited`, `data_requests` and `request_span_seconds` per provider, ..."""
        return self._call("GET", "/__stats")

    def reset_stats(self) -> None:
        self._call("DELETE", "/__stats")

    def inject_fault(self, path: str, kind: str, count: int | None = None) -> None:
        self._call("POST", "/__faults", {"path": path, "kind": kind, "count": count})

    def clear_faults(self) -> None:
        self._call("DELETE", "/__faults")

    def touch(
        self,
        provider: str,
        resource: str,
        id: str,
        updated_at: str | None = None,
        webhook: dict[str, bool] | None = None,
    ) -> dict[str, Any]:
        """Move a record's update time (default now, clamped into the data range).

        With `--webhook-url` this sends a `<resource>.updated` event; `webhook` forces or
        forbids faults on it: `{"duplicate": True, "out_of_order": True, "forged": True}`.
        """
        body: dict[str, Any] = {} if updated_at is None else {"updated_at": updated_at}
        if webhook is not None:
            body["webhook"] = webhook
        return self._call("POST", f"/__records/{provider}/{resource}/{id}/touch", body)

    def delete(
        self,
        provider: str,
        resource: str,
        id: str,
        deleted_at: str | None = None,
        account: int = 1,
        webhook: dict[str, bool] | None = None,
    ) -> dict[str, Any]:
        """Delete a record as its provider does (docs/sandbox.md, Deletions): marked and still
        listed, or gone from the lists and logged as an event; `<resource>.deleted` webhook."""
        body: dict[str, Any] = {} if deleted_at is None else {"deleted_at": deleted_at}
        if webhook is not None:
            body["webhook"] = webhook
        path = f"/__records/{provider}/{resource}/{id}/delete?account={account}"
        return self._call("POST", path, body)

    def wait_for_webhooks(self, timeout: float = 10.0) -> dict[str, int]:
        """Wait until every webhook sent so far was answered (or given up); returns the counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.stats()["webhooks"]
            done = counts["delivered"] + counts["refused"] + counts["failed"]
            if done >= counts["emitted"] or time.monotonic() > deadline:
                return counts
            time.sleep(0.02)

    def close(self) -> None:
        self._http.close()
        stop(self.process, STOP_TIMEOUT)


def _start(options: SandboxOptions, log: Path, popen_options: Mapping[str, Any]) -> SandboxHandle:
    port = free_port()
    command = [sys.executable, "-m", "payments_assets.sandbox", "--host", HOST, "--port", str(port)]
    # Importable even from a source tree that was never installed.
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *options.to_args()],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            **popen_options,
        )
    handle = SandboxHandle(port, process, log, options.accounts)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxStartError(
                f"sandbox on port {port} exited with code {process.returncode}:\n{handle.output()}"
            )
        try:
            handle.stats()
            return handle
        except requests.RequestException:
            time.sleep(0.05)
    handle.close()
    raise SandboxStartError(
        f"sandbox on port {port} did not answer /__stats within {START_TIMEOUT:.0f} s:\n"
        f"{handle.output()}"
    )


@contextmanager
def running_sandbox(
    popen_options: Mapping[str, Any] | None = None, **options: Any
) -> Iterator[SandboxHandle]:
    """Start `payments-sandbox` with `options` (SandboxOptions fields) on a free loopback port
    (`popen_options`: e.g. the demo's process group).

    >>> with running_sandbox(records=200, start=date(2026, 10, 1), seed=1) as sandbox:
    ...     requests.get(sandbox.env["PAYMENTS_BILLING_BASE_URL"] + "/v1/charges", ...)
    """
    settings = SandboxOptions(**options)  # bad options fail here, not in the child
    with tempfile.TemporaryDirectory(prefix="payments-sandbox-") as folder:
        log = Path(folder) / "server.log"
        for attempt in range(3):
            try:
                handle = _start(settings, log, popen_options or {})
                break
            except SandboxStartError as error:
                # Another process may grab the free port between probe and bind: try another.
                if attempt == 2 or "address already in use" not in str(error).lower():
                    raise
        try:
            yield handle
        finally:
            handle.close()
