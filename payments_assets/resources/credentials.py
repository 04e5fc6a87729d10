"""One provider account's endpoint and secrets, as a Dagster resource per account.

Secrets arrive as `EnvVar`s named in the provider YAML. URLs are not secret: they take the
environment's value when it is set at load and the YAML's default otherwise.

A secret variable unset when definitions load (CI, `dg check defs`, a second terminal without the
demo's `.env`) is not an `EnvVar`, whose failure at run start is a Dagster config traceback naming
a resource path: the resource keeps the variable's name, and a run that needs it fails before any
request with the provider file, the YAML key and the variable. Every process that runs a step
loads definitions itself, so one that has the variable gets the `EnvVar` as usual.
"""

from __future__ import annotations

import os
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
    unset: list[str] = Field(
        default_factory=list,
        description="`<yaml key>=<variable>` of each secret whose variable was unset at load.",
    )

    def connection(self, spec: ProviderSpec, account: str = DEFAULT_ACCOUNT) -> Connection:
        if self.unset:
            raise MissingSecretError(spec, self.unset)
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


class MissingSecretError(dg.Failure):
    """A run needs a secret whose variable is not set: says which file, key and variable."""

    def __init__(self, spec: ProviderSpec, unset: list[str]) -> None:
        pairs = [item.split("=", 1) for item in unset]
        variables = ", ".join(variable for _, variable in pairs)
        keys = ", ".join(f"{key} names {variable}" for key, variable in pairs)
        super().__init__(
            description=(
                f"{spec.name}: {variables} {'is' if len(pairs) == 1 else 'are'} not set in this "
                f"environment ({spec.file}: {keys}). Set {'it' if len(pairs) == 1 else 'them'} "
                "where the run starts and run again: `make demo` writes the sandbox's to the "
                "project's .env, `payments-sandbox env` prints them, .env.example lists them all."
            ),
            allow_retries=False,
        )


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
    environ = os.environ if environ is None else environ
    refs = spec.secret_refs(account)
    secrets: dict[str, Any] = {
        name: dg.EnvVar(ref.env) for name, ref in refs.items() if environ.get(ref.env)
    }
    unset = [
        f"{spec.secret_key(name, account)}={ref.env}"
        for name, ref in refs.items()
        if name not in secrets
    ]
    base_url = (declared and declared.base_url) or spec.client.base_url
    urls: dict[str, Any] = {}
    if not isinstance(base_url, str):
        urls["base_url"] = env_or(base_url.env, None, environ)
    if isinstance(auth, OAuth2Auth):
        token_url = (declared and declared.token_url) or auth.token_url
        if not isinstance(token_url, str):
            urls["token_url"] = env_or(token_url.env, None, environ)
    urls = {k: v for k, v in urls.items() if v is not None}
    return ProviderCredentials(**secrets, **urls, unset=unset)
