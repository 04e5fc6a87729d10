"""One writer at a time on a DuckDB file, held by the kernel: a lock that its holder's death frees.

DuckDB admits one read-write process per file. A Dagster pool gave that guarantee until a run
died without releasing its slot (SIGKILL, OOM, a closed laptop): the next run then waited
forever, silently. An `flock` on `<warehouse>.lock` is released by the kernel when the process
holding it ends, however it ends; the file also says who holds it, so a waiting run can say who
it waits for and how to free it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

FIRST_NOTICE_SECONDS = 2.0
NOTICE_EVERY_SECONDS = 30.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as written in the lock file by its holder."""

    run_id: str
    pid: int
    host: str
    since: str

    @classmethod
    def me(cls, run_id: str | None) -> Holder:
        return cls(
            run_id=run_id or "(no Dagster run)",
            pid=os.getpid(),
            host=socket.gethostname(),
            since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}) since {self.since}"


def lock_path(database: str | Path) -> Path:
    """`<warehouse>.lock`, beside the DuckDB file."""
    return Path(f"{database}.lock")


def read_holder(path: Path) -> Holder | None:
    """The holder the lock file names, or None while it is being (re)written or is unreadable."""
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def waiting_notice(path: Path, waited: float) -> str:
    """What a waiting run logs: who holds the writer, since when, and how to free it."""
    holder = read_holder(path)
    who = holder.describe() if holder else "another process (it has not said who yet)"
    free = (
        f"let it finish, or stop it (terminate run {holder.run_id}, or `kill {holder.pid}` on "
        f"{holder.host})"
        if holder
        else f"stop the process that has {path} open (`fuser {path}`)"
    )
    return (
        f"Waiting {waited:.0f} s for the DuckDB writer {path.with_suffix('')}: held by {who}. "
        f"It is freed when that process ends, however it ends; to free it now, {free}."
    )


class _Held:
    """This process's hold: one open file, counted, since threads and nested calls share it
    (two `flock`s of one file in one process would wait on each other)."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.fd: int | None = None
        self.depth = 0


_HOLDS: dict[Path, _Held] = {}
_HOLDS_GUARD = threading.Lock()


def _hold_of(path: Path) -> _Held:
    with _HOLDS_GUARD:
        return _HOLDS.setdefault(path.resolve(), _Held())


def _acquire(path: Path, run_id: str | None, notify: Callable[[str], None]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
    started = time.monotonic()
    next_notice = started + FIRST_NOTICE_SECONDS
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now >= next_notice:
                    notify(waiting_notice(path, now - started))
                    next_notice = now + NOTICE_EVERY_SECONDS
                time.sleep(POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(asdict(Holder.me(run_id))).encode(), 0)
    return fd


@contextmanager
def writer_lock(
    database: str | Path, run_id: str | None, notify: Callable[[str], None]
) -> Iterator[None]:
    """Hold the one-writer lock of `database` while inside; re-entrant within a process.

    While another process holds it, `notify` hears who, within seconds and then every 30 s.
    """
    path = lock_path(database)
    hold = _hold_of(path)
    with hold.guard:
        if hold.depth == 0:
            hold.fd = _acquire(path, run_id, notify)
        hold.depth += 1
    try:
        yield
    finally:
        with hold.guard:
            hold.depth -= 1
            if hold.depth == 0 and hold.fd is not None:
                os.ftruncate(hold.fd, 0)
                os.close(hold.fd)  # closing the last descriptor releases the flock
                hold.fd = None
