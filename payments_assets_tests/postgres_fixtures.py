"""A throwaway PostgreSQL server for the Postgres profile tests: initdb + pg_ctl, loopback only.

One server per session, on a free port of 127.0.0.1 in a temporary directory, stopped and removed
at session end even when tests fail. Skipped, with the reason, only when no server binaries exist.

Authentication is `trust`: Dagster's Postgres storage opens a new connection for every storage
call, and SCRAM's client-side key derivation (~5 ms CPU each) made the suite twice as slow. URLs
and DAGSTER_PG_PASSWORD still carry a password, as in production; the server does not check it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
# initdb refuses to run as root: as root the server runs as the first of these that exists.
UNPRIVILEGED_USERS = ("postgres", "nobody")
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


@dataclass(frozen=True)
class PostgresServer:
    """Where the test server listens (TCP on 127.0.0.1 only) and the role to log in as."""

    host: str
    port: int
    user: str
    password: str

    def url(self, database: str = "postgres") -> str:
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password)}@{self.host}:{self.port}"
            f"/{database}"
        )

    def create_database(self, prefix: str) -> str:
        """A new, empty database named `<prefix>_<random>`; returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        connection = psycopg2.connect(self.url())
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            connection.cursor().execute(f'create database "{name}"')
        finally:
            connection.close()
        return name

    def dagster_env(self, database: str) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads for Dagster's own storage."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": database,
        }


def _has_server_programs(folder: Path) -> bool:
    return all(os.access(folder / program, os.X_OK) for program in SERVER_PROGRAMS)


def server_bindir_candidates() -> list[Path]:
    """`pg_config --bindir`, the folder of `pg_ctl` on PATH, then Debian's versioned folders."""
    candidates = []
    if shutil.which("pg_config"):
        result = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10
        )
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    if pg_ctl := shutil.which("pg_ctl"):
        candidates.append(Path(pg_ctl).resolve().parent)
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versioned, key=_major_version, reverse=True)
    candidates += [Path("/usr/local/pgsql/bin")]
    return candidates


def _major_version(bindir: Path) -> int:
    return int(bindir.parent.name) if bindir.parent.name.isdigit() else 0


def find_server_bindir() -> Path | None:
    """The first folder holding initdb, pg_ctl and postgres (a client-only install has none)."""
    return next((c for c in server_bindir_candidates() if _has_server_programs(c)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _LocalCluster:
    """initdb, start, stop and remove one cluster, as an unprivileged user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="payments-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = "payments"
        self.password = secrets.token_urlsafe(16)
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            account = self._unprivileged_account()
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.run_as = ["runuser", "-u", account.pw_name, "--"]

    @staticmethod
    def _unprivileged_account() -> pwd.struct_passwd:
        if not shutil.which("runuser"):
            raise RuntimeError("running as root without `runuser`: cannot start PostgreSQL")
        for name in UNPRIVILEGED_USERS:
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise RuntimeError(f"running as root and none of the users {UNPRIVILEGED_USERS} exist")

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as, str(self.bindir / program), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    def _checked(self, program: str, *args: str) -> None:
        result = self._run(program, *args)
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
                f"{self.log_tail()}"
            )

    def log_tail(self) -> str:
        try:
            return "\nserver log:\n" + "\n".join(self.log.read_text().splitlines()[-20:])
        except OSError:
            return ""

    def init(self) -> None:
        self._checked(
            "initdb",
            *("-D", str(self.data), "-U", self.user, "--auth=trust"),
            *("--encoding=UTF8", "--no-locale", "--no-sync"),
        )

    def start(self, port: int) -> bool:
        """False when the port was taken meanwhile; raises on any other failure."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
            "-o", options, "start",
        )  # fmt: skip
        if result.returncode == 0:
            return True
        if "Address already in use" in self.log_tail():
            return False
        raise RuntimeError(
            f"pg_ctl start failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                stopped = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
                if stopped.returncode == 0:
                    break
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """A started server; stopped and its directory removed on exit, whatever happened."""
    cluster = _LocalCluster(bindir)
    try:
        cluster.init()
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            if cluster.start(port):
                break
        else:
            raise RuntimeError(f"no free port after {START_ATTEMPTS} attempts{cluster.log_tail()}")
        yield PostgresServer("127.0.0.1", port, cluster.user, cluster.password)
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session on 127.0.0.1 (skipped if none is installed)."""
    bindir = find_server_bindir()
    if bindir is None:
        looked = ", ".join(str(c) for c in server_bindir_candidates()) or "PATH"
        pytest.skip(
            f"no PostgreSQL server binaries ({', '.join(SERVER_PROGRAMS)}) found in {looked}; "
            "install PostgreSQL's server package (Debian: postgresql) to run the Postgres tests"
        )
    with running_postgres(bindir) as server:
        yield server
