"""Machine-like Celery workers for the distributed tests: Debian's `redis-server` as the broker on
loopback, and `dagster-celery` workers, each in its own empty folder.

Every process of a distributed run (each worker, each run's orchestrator) gets a root of its
own: its working directory, its temp dir (`TMPDIR`), its `HOME` and its `DAGSTER_HOME` (a copy
of the instance config, nothing else). What they share is only what a cluster's pods would:
environment variables naming PostgreSQL, Redis and the S3 server. Skipped, with the reason, only
when no `redis-server` binary is installed (`.ci/system-packages` installs it in CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from payments_assets.distributed import worker_config
from payments_assets.loopback import free_port, stop_group

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class RedisServer:
    url: str

    def database(self, number: int) -> str:
        return f"{self.url}/{number}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """`redis-server` on a free loopback port, in memory only; stopped at session end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "no redis-server on PATH; install Debian's redis-server package "
            "(.ci/system-packages does as root) to run the distributed tests"
        )
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="payments-redis-") as folder:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", folder, "--protected-mode", "yes"]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            client = redis.Redis(host="127.0.0.1", port=port)
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    assert process.poll() is None, "redis-server exited at start"
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.05)
            yield RedisServer(f"redis://127.0.0.1:{port}")
        finally:
            stop_group(process)


class Machine:
    """One machine-like process root: empty working dir, temp dir, home and DAGSTER_HOME."""

    def __init__(self, parent: Path, name: str, instance_yaml: Path) -> None:
        self.name = name
        self.root = parent / name
        self.cwd, self.tmp, self.home = self.root / "cwd", self.root / "tmp", self.root / "home"
        self.dagster_home = self.root / "dagster_home"
        for folder in (self.cwd, self.tmp, self.home, self.dagster_home):
            folder.mkdir(parents=True)
        shutil.copy(instance_yaml, self.dagster_home / "dagster.yaml")
        self.log = self.root / "output.log"

    def env(self, shared: Mapping[str, str]) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO),  # the code, as an image would carry it
            **shared,
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "DAGSTER_HOME": str(self.dagster_home),
        }

    def files(self) -> set[str]:
        return {str(path.relative_to(self.root)) for path in self.root.rglob("*") if path.is_file()}

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""


class CeleryWorker(Machine):
    """`dagster-celery worker start` with one prefork child (one step at a time)."""

    process: subprocess.Popen[bytes]

    def start(self, shared: Mapping[str, str], broker: str, backend: str) -> None:
        config = self.root / "celery.yaml"
        config.write_text(yaml.safe_dump(worker_config(broker, backend)))
        command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
        command += ["-y", str(config), "-n", self.name, "-l", "INFO", "--"]
        command += ["--concurrency=1", "--pool=prefork", "--without-gossip", "--without-mingle"]
        env = {**self.env(shared), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while " ready." not in self.output():
            assert self.process.poll() is None, f"worker {self.name} exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"worker {self.name} not ready:\n{self.output()}"
            time.sleep(0.2)

    def step_processes(self) -> list[int]:
        """The pids of the prefork children: the processes that execute steps."""
        main = _children(self.process.pid)  # dagster-celery → celery main
        return [child for pid in main for child in _children(pid)]

    def kill_step_process(self) -> int:
        [child] = self.step_processes()
        os.kill(child, signal.SIGKILL)
        return child

    def stop(self) -> None:
        stop_group(self.process)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@contextmanager
def celery_workers(
    parent: Path, count: int, instance_yaml: Path, shared: Mapping[str, str], redis: RedisServer
) -> Iterator[list[CeleryWorker]]:
    """`count` workers started (and ready) on the broker; all stopped on exit."""
    workers = [CeleryWorker(parent, f"worker{n}", instance_yaml) for n in range(1, count + 1)]
    try:
        for worker in workers:
            worker.start(shared, redis.database(0), redis.database(1))
        for worker in workers:
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers:
            if getattr(worker, "process", None) is not None:
                worker.stop()


def run_cli(machine: Machine, shared: Mapping[str, str], *args: Any) -> subprocess.Popen[bytes]:
    """A run's orchestrator: `dagster asset materialize …` started in `machine`'s root."""
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "payments_assets.definitions"]
    with machine.log.open("wb") as out:
        return subprocess.Popen(
            [*command, *map(str, args)], cwd=machine.cwd, env=machine.env(shared),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
