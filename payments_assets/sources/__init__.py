"""dlt sources for provider specs: auth, retries, windows, response checks, PAN masking.

Knows dlt, not Dagster: a source can be built and run against the sandbox without Dagster.
`build_source` is imported on first use: it brings requests, dlt's REST client and pyarrow,
which loading the definitions does not need (the runs do).
"""

from typing import Any

from .connection import Connection, connection_from_environ, require_secure
from .errors import (
    InsecureURLError,
    MissingCredentialsError,
    ProviderError,
    ProviderHTTPError,
    ProviderLoadError,
    ProviderResponseError,
)
from .redaction import Redactor, redacted_errors
from .windows import Window

_ON_FIRST_USE = {"build_source", "LOADED_AT"}


def __getattr__(name: str) -> Any:
    if name in _ON_FIRST_USE:
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LOADED_AT",
    "Connection",
    "InsecureURLError",
    "MissingCredentialsError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderLoadError",
    "ProviderResponseError",
    "Redactor",
    "Window",
    "build_source",
    "connection_from_environ",
    "redacted_errors",
    "require_secure",
]
