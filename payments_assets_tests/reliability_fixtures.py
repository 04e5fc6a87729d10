"""Fixtures for the reliability tests: provider YAML with test retry policies, a Dagster home on
disk (so the event log and compute logs are written), and a scan for secrets in what was written.

Loaded from conftest through `pytest_plugins`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from payments_assets.sandbox.credentials import SECRETS
from payments_assets.specs import PROVIDERS_DIR, ProviderSpec, load_providers

from .leak_scan import card_numbers_in, duckdb_text, file_text, written_files

# The shipped YAMLs wait 2, 4, 8 s between 3 retries: too slow and too few for a test that fails
# 30% of requests on purpose. The error_handler block is the place to say so (its
# max_retry_delay also caps the sandbox's `Retry-After: 1`).
PATIENT = {"max_retries": 20, "backoff_factor": 0.01, "max_retry_delay": 0.25}
IMPATIENT = {"max_retries": 1, "backoff_factor": 0.01, "max_retry_delay": 1}
ACCESS_TOKEN = re.compile(r"gw_at_[0-9a-f]{32}")  # the sandbox's OAuth2 access tokens
UNBROKEN_CARD = re.compile(r"(?<!\d)\d{13,19}(?!\d)")


def write_providers(folder: Path, error_handler: dict[str, Any]) -> list[ProviderSpec]:
    """The shipped provider YAMLs, copied to `folder` with `error_handler` overriding theirs."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(PROVIDERS_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        handler = raw["resource_defaults"]["endpoint"].setdefault("error_handler", {})
        handler.update(error_handler)
        (folder / path.name).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_providers(folder)


@pytest.fixture
def patient_specs(tmp_path: Path) -> list[ProviderSpec]:
    """Every provider, retrying 20 times with millisecond backoff (`Retry-After` still obeyed)."""
    return write_providers(tmp_path / "patient_providers", PATIENT)


@pytest.fixture
def impatient_specs(tmp_path: Path) -> list[ProviderSpec]:
    """Every provider, retrying once: a fault that persists fails the run in a second."""
    return write_providers(tmp_path / "impatient_providers", IMPATIENT)


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
