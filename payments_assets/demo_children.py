"""The demo's children (receiver, sandbox, history load, `dg dev` and all they spawn) in one
process group of their own, so one call stops every one of them, whatever stopped the demo.

The group is not the demo's own: a terminal's Ctrl-C reaches the demo alone, which then stops
the group in order, and `kill -TERM -<pgid>` stops what a SIGKILLed demo left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops the demo: `kill`, Ctrl-C, a closed terminal."""


class DemoStopped(BaseException):
    """A stop signal arrived: unwinds whatever the demo was doing (even a history load) to the
    `finally` that stops its children. A BaseException, like KeyboardInterrupt, so no
    `except Exception` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def group_options(pgid: int) -> dict[str, Any]:
    """Popen keywords that put a child in process group `pgid` (0: a new group it leads)."""
    if sys.version_info >= (3, 11):
        return {"process_group": pgid}
    return {"preexec_fn": partial(os.setpgid, 0, pgid)}  # pragma: no cover - Python 3.10


def group_members(pgid: int) -> list[int]:
    """The live processes of group `pgid`. Zombies do not count: an orphan's zombie waits for
    an init that may never reap it (in a container), and it holds no port or file."""
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - not Linux: `kill` cannot tell zombies apart
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if int(pgrp) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


class ChildGroup:
    """One process group for every child the demo starts: the first child leads it."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self._children: list[subprocess.Popen[bytes]] = []

    @property
    def process_group(self) -> int:
        """What the next child's Popen takes: the group, or 0 (a new one) for the first."""
        return self.pgid or 0

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """Track a child started with `group_options(self.process_group)`."""
        if self.pgid is None:
            self.pgid = process.pid
        self._children.append(process)

    def popen(self, command: list[str], **options: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, **options, **group_options(self.process_group))
        self.adopt(process)
        return process

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the whole group (Dagster's webserver, daemon, code servers and run workers
        shut down on it), then SIGKILL to whatever is left after `timeout` seconds."""
        if self.pgid is None:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.pgid, signum)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._alive():
                time.sleep(0.1)
            if not self._alive():
                break
        for child in self._children:
            child.wait()

    def _alive(self) -> bool:
        running = [child for child in self._children if child.poll() is None]  # reaps ours
        return bool(running) or bool(group_members(self.pgid or 0))


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Turn SIGTERM, SIGINT and SIGHUP into `DemoStopped` for the block, then ignore them while
    the demo stops its children (a second Ctrl-C must not cut that short)."""

    def stop(signum: int, _frame: object) -> None:
        raise DemoStopped(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:  # the demo exits once stopped: nothing to restore
            signal.signal(signum, signal.SIG_IGN)
