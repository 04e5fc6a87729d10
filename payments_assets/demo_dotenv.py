"""The demo's variables in the project folder's `.env`, so `dg` and `dagster` run from a second
terminal (in the project folder) reach the same sandbox, warehouse and instance.

Both CLIs load a `.env` from their working directory before they read `DAGSTER_HOME` or the
code location. The file is the demo's only while it runs: written at start, removed at stop, and
a `.env` of the user's own (without the first line below) is never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

HEADER = "# Written by payments-demo while it runs; removed when it stops. Do not edit.\n"


def is_demos(path: Path) -> bool:
    try:
        with path.open() as file:
            return file.readline() == HEADER
    except OSError:
        return False


def _line(name: str, value: str) -> str:
    # Single quotes: python-dotenv takes the value as written (paths, URLs, secrets alike).
    if "'" in value or "\n" in value:
        raise ValueError(f"{name}: a quote or newline cannot be written to .env")
    return f"{name}='{value}'\n"


def write_dotenv(path: Path, variables: Mapping[str, str]) -> bool:
    """Write `variables` to `path` unless a `.env` of the user's own is there (then False)."""
    if path.exists() and not is_demos(path):
        return False
    lines = [HEADER, *(_line(name, variables[name]) for name in sorted(variables))]
    path.touch(mode=0o600)  # test-mode secrets, still nobody else's to read
    path.write_text("".join(lines))
    return True


def remove_dotenv(path: Path) -> None:
    """Remove the demo's `.env`, never the user's own."""
    if is_demos(path):
        path.unlink()
