"""The only doors to the outside world: provider credentials, the warehouse, the notifier.

Secrets arrive as `EnvVar`s, so the UI, run config and snapshots show a variable's name, never its
value. URLs and paths are not secret: they take the environment's value when it is set at load
and the provider YAML's default otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from .pipelines import duckdb_destination, postgres_destination, run_pipeline
from .sources import Connection
from .specs import DEFAULT_ACCOUNT, OAuth2Auth, ProviderSpec, resolve_url

DEFAULT_DUCKDB_PATH = "data/payments.duckdb"


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


class Warehouse(dg.ConfigurableResource):
    """Where the data lands: DuckDB by default, Postgres by configuration; and SQL on it."""

    kind: str = Field(default="duckdb", description="duckdb or postgres")
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_url: str | None = Field(default=None, description="postgresql://… (secret)")
    workdir: str = Field(default="data/dlt", description="Parent of per-run dlt working dirs.")

    def dataset(self, provider: str) -> str:
        return provider

    def dlt_destination(self) -> Any:
        if self.kind == "postgres":
            if not self.postgres_url:
                raise ValueError("PAYMENTS_DESTINATION=postgres needs PAYMENTS_POSTGRES_URL")
            return postgres_destination(self.postgres_url)
        return duckdb_destination(self.duckdb_path)

    @contextmanager
    def pipeline(self, provider: str, dataset: str | None = None) -> Iterator[Any]:
        with run_pipeline(
            provider, self.dlt_destination(), dataset or self.dataset(provider), Path(self.workdir)
        ) as pipeline:
            yield pipeline

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A DB-API connection to the warehouse (DuckDB or psycopg2), closed afterwards."""
        if self.kind == "postgres":
            import psycopg2

            connection = psycopg2.connect(self.postgres_url)
            try:
                yield connection
                connection.commit()
            finally:
                connection.close()
            return
        import duckdb

        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(self.duckdb_path)
        try:
            yield connection
        finally:
            connection.close()

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect() as connection:
            cursor = connection.cursor()
            cursor.execute(sql, params) if params is not None else cursor.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []

    def table_exists(self, schema: str, table: str) -> bool:
        with self.connect() as connection:
            return self._table_exists(connection.cursor(), schema, table)

    def row_count(
        self, schema: str, table: str, where: tuple[str, Any] | None = None
    ) -> int | None:
        """Rows of `schema.table` (those whose column `where[0]` equals `where[1]`), or None when
        the table does not exist yet; one connection, as it runs after every load."""
        with self.connect() as connection:
            cursor = connection.cursor()
            if not self._table_exists(cursor, schema, table):
                return None
            sql, params = f'select count(*) from "{schema}"."{table}"', ()
            if where is not None:
                sql, params = f'{sql} where "{where[0]}" = {self._placeholder}', (where[1],)
            cursor.execute(sql, params)
            return int(cursor.fetchone()[0])

    @property
    def _placeholder(self) -> str:
        return "%s" if self.kind == "postgres" else "?"

    def _table_exists(self, cursor: Any, schema: str, table: str) -> bool:
        mark = self._placeholder
        cursor.execute(
            "select count(*) from information_schema.tables "
            f"where table_schema = {mark} and table_name = {mark}",
            (schema, table),
        )
        return bool(cursor.fetchone()[0])


def env_or(name: str, default: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`EnvVar(name)` when the variable is set at load (its value stays out of the UI)."""
    environ = os.environ if environ is None else environ
    return dg.EnvVar(name) if environ.get(name) else default


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


def destination_kind(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    kind = environ.get("PAYMENTS_DESTINATION", "duckdb")
    if kind not in ("duckdb", "postgres"):
        raise ValueError(f"PAYMENTS_DESTINATION must be duckdb or postgres, not '{kind}'")
    return kind


def warehouse(environ: Mapping[str, str] | None = None) -> Warehouse:
    return Warehouse(
        kind=destination_kind(environ),
        duckdb_path=env_or("PAYMENTS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH, environ),
        postgres_url=env_or("PAYMENTS_POSTGRES_URL", None, environ),
        workdir=env_or("PAYMENTS_DLT_WORKDIR", "data/dlt", environ),
    )


def build_resources(
    specs: Sequence[ProviderSpec], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every resource the code location needs, reading which variables are set in `environ`."""
    from dagster_dlt import DagsterDltResource

    return {
        "dlt": DagsterDltResource(),
        "warehouse": warehouse(environ),
        **{
            credentials_key(spec.name, account): provider_credentials(spec, environ, account)
            for spec in specs
            for account in spec.account_names
        },
    }
