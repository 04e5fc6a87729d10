"""A scan of everything the suite wrote for card numbers in clear: warehouses, exports, event logs
and compute logs, dlt working files, webhook stores.

Used by the reliability tests on their own output, and once more after the whole suite over its
temporary folder (`pytest_sessionfinish` below, registered through conftest's `pytest_plugins`):
a path no test thought of still gets looked at. Card numbers are found with the project's own
rule (`payments_assets.card_numbers`), limited to the brand prefixes the sandbox and the tests
write, so that float timestamps and ids in Dagster's own files are not taken for cards.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import duckdb
import pyarrow.parquet
import pytest

from payments_assets.card_numbers import find_card_numbers, may_hold_card_number
from payments_assets.sandbox.cards import BRAND_PREFIXES, TEST_BINS

PREFIXES = (*BRAND_PREFIXES, *(bin_ for bin_, _ in TEST_BINS.values()))
TEXT_SUFFIXES = (".csv", ".jsonl", ".json", ".log", ".txt", ".out", ".err", ".yaml", ".sql")
SKIPPED_FOLDERS = ("pgdata",)  # Postgres' own files: its tables are checked with SQL


# Dagster's own hashes and ids (data and code versions, run ids, storage ids): a sha256 holds a
# Luhn-valid run of 13+ digits now and then (`2159ff555279874952251d…`), which is not card data.
HASHES_AND_UUIDS = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{32,}\b",
    re.IGNORECASE,
)


def card_numbers_in(text: str) -> list[str]:
    """Full card numbers readable in `text` (digits only), on the brands tests write; hex
    digests and UUIDs are not read as text that could hold one."""
    if not may_hold_card_number(text):
        return []
    text = HASHES_AND_UUIDS.sub("#", text)
    return sorted({pan for pan in find_card_numbers(text) if pan.startswith(PREFIXES)})


def duckdb_text(database: Path) -> str:
    """Every table name, column name and value of a DuckDB file, as text."""
    parts = []
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            rows = connection.execute(f'select * from "{schema}"."{table}"').fetchall()
            names = [column[0] for column in connection.description or ()]
            parts.append(f"{schema}.{table} {names}: {rows!r}")
    return "\n".join(parts)


def sqlite_text(database: Path) -> str:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = [row[0] for row in connection.execute("select name from sqlite_master")]
        parts = []
        for table in tables:
            try:
                parts.append(repr(connection.execute(f'select * from "{table}"').fetchall()))
            except sqlite3.DatabaseError:
                continue  # an index or a virtual table
        return "\n".join(parts)


def file_text(path: Path) -> str | None:
    """A written file's content as text, read the way its format stores it; None if unknown."""
    name = path.name
    try:
        if name.endswith(".duckdb"):
            return duckdb_text(path)
        if name.endswith(".parquet"):
            return repr(pyarrow.parquet.read_table(path).to_pylist())
        if name.endswith((".sqlite", ".db")):
            return sqlite_text(path)
        if name.endswith(TEXT_SUFFIXES) or "jsonl" in name or "insert_values" in name:
            return path.read_bytes().decode("utf-8", "replace")
    except (duckdb.Error, sqlite3.Error, OSError, pyarrow.ArrowException) as error:
        return f"<unreadable: {error}>" if not isinstance(error, FileNotFoundError) else None
    return None


def written_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part in SKIPPED_FOLDERS for part in path.parts):
            yield path


def scan(root: Path) -> dict[str, list[str]]:
    """File (relative to `root`) → the card numbers in clear it holds, for every file that does."""
    found = {}
    for path in written_files(root):
        text = file_text(path)
        if text and (pans := card_numbers_in(text)):
            found[str(path.relative_to(root))] = [f"{pan[:6]}…{pan[-4:]}" for pan in pans]
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the whole suite: nothing any test wrote holds a card number in clear."""
    if exitstatus != 0 or session.config.option.collectonly:
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or session.testscollected < 50:  # a few tests, not the suite
        return
    found = scan(factory.getbasetemp())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        lines = [f"  {where}: {', '.join(pans)}" for where, pans in sorted(found.items())]
        if reporter:
            reporter.write_sep("=", "card numbers in clear in files the suite wrote", red=True)
            reporter.write_line("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("card-number scan of every file the suite wrote: none in clear")
