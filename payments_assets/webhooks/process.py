"""Run `payments-webhooks` in a subprocess on a free loopback port, for tests, demo and bench.

A real process is what providers meet: its own event loop, sockets and disk flushes, and no
shared memory with the client that measures it.
"""

from __future__ import annotations

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

from .signing import secret_variable

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class ReceiverStartError(RuntimeError):
    """The receiver died or did not answer `/healthz` in time; carries its output."""


class ReceiverHandle:
    """A running receiver: its port, the URL per provider, what it logged."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.process = process
        self._log = log

    @property
    def base_url(self) -> str:
        """What the sandbox's `--webhook-url` takes: events for P go to `<base_url>/P`."""
        return f"http://{HOST}:{self.port}/webhooks"

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    def output(self) -> str:
        return self._log.read_text(errors="replace")

    def close(self) -> None:
        stop(self.process, STOP_TIMEOUT)


def _wait_until_up(handle: ReceiverHandle) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise ReceiverStartError(
                f"receiver exited with code {handle.process.returncode}:\n{handle.output()}"
            )
        try:
            requests.get(f"http://{HOST}:{handle.port}/healthz", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.05)
    handle.close()
    raise ReceiverStartError(f"receiver did not answer within {START_TIMEOUT:.0f} s")


@contextmanager
def running_receiver(
    db: str | Path,
    secrets: Mapping[str, str],
    tolerance: int | None = None,
    popen_options: Mapping[str, Any] | None = None,
) -> Iterator[ReceiverHandle]:
    """Start the receiver storing into `db` (a SQLite file or a PostgreSQL URL), with `secrets` by
    provider name. The location travels in the environment: a URL's password stays out of `ps`.
    `popen_options`: e.g. the demo's process group."""
    root = str(Path(__file__).resolve().parents[2])  # importable from an uninstalled tree
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET")},
        **{secret_variable(provider): secret for provider, secret in secrets.items()},
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        "PAYMENTS_WEBHOOK_DB": str(db),
    }
    port = free_port()
    command = [sys.executable, "-m", "payments_assets.webhooks", "--host", HOST]
    command += ["--port", str(port)]
    command += [] if tolerance is None else ["--tolerance", str(tolerance)]
    with tempfile.TemporaryDirectory(prefix="payments-webhooks-") as folder:
        log = Path(folder) / "receiver.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, **(popen_options or {})
            )
        handle = ReceiverHandle(port, process, log)
        try:
            _wait_until_up(handle)
            yield handle
        finally:
            handle.close()
