"""Fixtures that need neither Dagster nor a network beyond the sandbox: provider YAMLs with test
retry policies, and SQL on a DuckDB file. `test_sources.py` uses nothing else.

Loaded from conftest through `pytest_plugins`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from payments_assets.specs import PROVIDERS_DIR, ProviderSpec, load_provider, load_providers

# The shipped YAMLs wait 2, 4, 8 s between 3 retries: too slow and too few for a test that fails
# 30% of requests on purpose. The error_handler block is the place to say so (its
# max_retry_delay also caps the sandbox's `Retry-After: 1`).
PATIENT = {"max_retries": 20, "backoff_factor": 0.01, "max_retry_delay": 0.25}
IMPATIENT = {"max_retries": 1, "backoff_factor": 0.01, "max_retry_delay": 1}


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


LEDGER_YAML = Path(__file__).parents[1] / "docs" / "providers" / "ledger.yaml"
"""The documented Stripe-shaped provider (README's example), which the sandbox serves."""


def ledger_spec(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None
) -> ProviderSpec:
    """The documented ledger YAML, edited (page sizes, budget, resources) for a test."""
    raw = yaml.safe_load(LEDGER_YAML.read_text())
    if edit is not None:
        edit(raw)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "ledger.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_provider(path)


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()
