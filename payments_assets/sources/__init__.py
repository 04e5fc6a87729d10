"""dlt sources for provider specs: auth, retries, windows, response checks, PAN masking.

Knows dlt, not Dagster: a source can be built and run against the sandbox without Dagster.
"""

from .build import LOADED_AT, Connection, build_source, connection_from_environ, require_secure
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
