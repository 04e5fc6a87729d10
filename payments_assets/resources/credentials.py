"""One provider account's endpoint and secrets, as a Dagster resource per account.

Secrets arrive as `EnvVar`s named in the provider YAML. URLs are not secret: they take the
environment's value when it is set at load and the YAML's default otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from ..sources import Connection
from ..specs import DEFAULT_ACCOUNT, OAuth2Auth, ProviderSpec, resolve_url
from .environment import env_or


class ProviderCredentials(dg.ConfigurableResource):
    """One provider account's endpoint and secrets; which secrets depends on its auth type."""

    base_url: str | None = Field(default=None, description="Overrides the YAML's base_url.")
    token_url: str | None = Field(default=None, description="Overrides the YAML's token_url.")
    client_id: str | None = None
    client_secret: str | None = None
    api_key: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None

    def connection(self, spec: ProviderSpec, account: str = DEFAULT_ACCOUNT) -> Connection:
        auth = spec.client.auth
        declared = spec.account(account)
        token_url = None
        if isinstance(auth, OAuth2Auth):
            default = (declared and declared.token_url) or auth.token_url
            token_url = self.token_url or resolve_url(default, {})
        secrets = {name: getattr(self, name) or "" for name in spec.secret_fields}
        default_base = (declared and declared.base_url) or spec.client.base_url
        base_url = self.base_url or resolve_url(default_base, {})
        return Connection(base_url=base_url, secrets=secrets, token_url=token_url)


def credentials_key(provider: str, account: str = DEFAULT_ACCOUNT) -> str:
    """The resource key of one provider account's credentials."""
    if account == DEFAULT_ACCOUNT:
        return f"{provider}_credentials"
    return f"{provider}_{account}_credentials"


def provider_credentials(
    spec: ProviderSpec, environ: Mapping[str, str] | None = None, account: str = DEFAULT_ACCOUNT
) -> ProviderCredentials:
    auth = spec.client.auth
    declared = spec.account(account)
    secrets = {name: dg.EnvVar(ref.env) for name, ref in spec.secret_refs(account).items()}
    base_url = (declared and declared.base_url) or spec.client.base_url
    urls: dict[str, Any] = {}
    if not isinstance(base_url, str):
        urls["base_url"] = env_or(base_url.env, None, environ)
    if isinstance(auth, OAuth2Auth):
        token_url = (declared and declared.token_url) or auth.token_url
        if not isinstance(token_url, str):
            urls["token_url"] = env_or(token_url.env, None, environ)
    return ProviderCredentials(**secrets, **{k: v for k, v in urls.items() if v is not None})
