"""Where a provider lives and the secrets its auth needs, resolved at run time, and the checks a
connection passes before any request: every secret present, HTTPS only (loopback excepted).

No dlt and no requests here: definitions load builds placeholder connections without paying for
either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..specs import OAuth2Auth, ProviderSpec, resolve_url
from .errors import InsecureURLError, MissingCredentialsError
from .redaction import Redactor


@dataclass(frozen=True)
class Connection:
    """Where a provider lives and the secrets its auth needs, resolved at run time."""

    base_url: str
    secrets: Mapping[str, str] = field(repr=False)
    token_url: str | None = None

    @property
    def redactor(self) -> Redactor:
        return Redactor(self.secrets.values())


def _loopback(host: str | None) -> bool:
    if host in (None, ""):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)):
        return
    raise InsecureURLError(
        f"{what} {parts.scheme}://{parts.hostname}{parts.path} is not HTTPS: credentials may only "
        "travel over HTTPS (plain HTTP is allowed on loopback, for the sandbox)"
    )


def check_connection(spec: ProviderSpec, connection: Connection) -> None:
    missing = [name for name in spec.secret_fields if not connection.secrets.get(name)]
    if missing:
        raise MissingCredentialsError(
            f"{spec.name}: no value for {', '.join(missing)}; set the environment variables "
            "named in the provider YAML (see .env.example)"
        )
    require_secure(connection.base_url, f"{spec.name} base_url")
    if connection.token_url:
        require_secure(connection.token_url, f"{spec.name} token_url")


def connection_from_environ(spec: ProviderSpec, environ: Mapping[str, str]) -> Connection:
    """A connection read from an environment mapping: for scripts and tests outside Dagster."""
    auth = spec.client.auth
    secrets = {name: environ.get(getattr(auth, name).env, "") for name in spec.secret_fields}
    token_url = resolve_url(auth.token_url, environ) if isinstance(auth, OAuth2Auth) else None
    return Connection(resolve_url(spec.client.base_url, environ), secrets, token_url)
