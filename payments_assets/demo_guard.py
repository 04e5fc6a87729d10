"""Refuse to start a demo beside another one, before anything is loaded: a second demo would
load history, announce a UI it cannot bind and run a second daemon beside the first.

The running demo records itself in `data/demo.json` (its pid and its children's process group);
a SIGKILLed demo leaves that file behind, and its group tells whether its children still run.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from .demo_children import group_members
from .loopback import HOST


class DemoRefused(RuntimeError):
    """Why the demo will not start, and what to do about it."""


@dataclass(frozen=True)
class DemoRecord:
    """What a running demo writes down for the next one."""

    pid: int
    process_group: int | None
    ui_port: int

    def alive(self) -> bool:
        if self.process_group is not None and group_members(self.process_group):
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> DemoRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on `port` now (with SO_REUSEADDR, as uvicorn binds: a
    stopped demo's connections in TIME_WAIT do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def refuse_if_busy(record_path: Path, ui_port: int) -> None:
    """Raise `DemoRefused` when a previous demo (or its orphaned children) still runs, or when
    something already listens on the UI's port."""
    previous = DemoRecord.read(record_path)
    if previous is not None and previous.pid != os.getpid() and previous.alive():
        group = previous.process_group
        how = f"`kill -TERM -{group}`" if group else f"`kill -TERM {previous.pid}`"
        raise DemoRefused(
            f"a previous demo is still running (pid {previous.pid}, its Dagster UI, daemon, "
            f"sandbox and receiver in process group {group}, UI port {previous.ui_port}): "
            f"press Ctrl-C in its terminal or stop it with {how}, then start again."
        )
    if not port_is_free(ui_port):
        raise DemoRefused(
            f"port {ui_port} on {HOST} is busy (another Dagster UI?): stop what listens there "
            f"or choose another port: `make demo UI_PORT={ui_port + 1}` "
            f"(or `payments-demo --ui-port {ui_port + 1}`)."
        )
