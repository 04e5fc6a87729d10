"""Fixtures for the reliability tests: a Dagster home on disk (so the event log and compute logs
are written), and a scan for secrets in what was written.

Loaded from conftest through `pytest_plugins`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from payments_assets.sandbox.credentials import SECRETS

from .leak_scan import card_numbers_in, duckdb_text, file_text, written_files

ACCESS_TOKEN = re.compile(r"gw_at_[0-9a-f]{32}")  # the sandbox's OAuth2 access tokens
UNBROKEN_CARD = re.compile(r"(?<!\d)\d{13,19}(?!\d)")


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance on disk under a temp DAGSTER_HOME: runs, event log, compute logs."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def secret_values(extra: Iterable[str] = ()) -> list[str]:
    """Every sandbox secret, and any wrong secret a test sent on purpose."""
    return [*SECRETS, *extra]


def leaks(
    text: str, secrets: Iterable[str], card_numbers: Iterable[str], binary: bool = False
) -> list[str]:
    """What of `secrets`, access tokens or full card numbers `text` holds (none, we hope).

    `binary`: raw bytes of a database file, where values sit next to each other without
    delimiters (`2026-10-272026-10-31`): only unbroken card numbers are looked for there.
    """
    found = [f"secret {s[:4]}…" for s in secrets if s in text]
    found += [f"access token {t[:9]}…" for t in set(ACCESS_TOKEN.findall(text))]
    found += [f"card number {c[:6]}…" for c in card_numbers if c in text]
    written = UNBROKEN_CARD.findall(text) if binary else card_numbers_in(text)
    found += [f"card number {c[:6]}… (written form)" for c in card_numbers_in(" ".join(written))]
    return found


def files_text(root: Path) -> Iterator[tuple[Path, str]]:
    """Every file under `root`, as text: databases and parquet read as such, other binary
    files decoded leniently."""
    for path in written_files(root):
        text = file_text(path)
        yield path, text if text is not None else path.read_bytes().decode("utf-8", "replace")


__all__ = ["duckdb_text", "files_text", "leaks", "secret_values"]
