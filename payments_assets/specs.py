"""Provider YAML in, validated `ProviderSpec` out, and its translation to dlt's rest_api dialect.

The provider documents speak a dialect close to dlt's `rest_api_source` but not equal to it
(`oauth2` + `token_url`, `basic`, `limit` on a cursor paginator, `error_handler`). This module
accepts that dialect as written, rejects anything it does not understand with an error naming the
file, the resource and the key, and translates the rest to plain dicts. It imports neither
Dagster nor dlt, so a spec can be checked without either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROVIDERS_DIR = Path(__file__).parent / "providers"
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ProviderSpecError(ValueError):
    """A provider file that cannot be used, with the file and the key that is wrong."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvRef(_Strict):
    """A value read from the environment by name; secrets may only be written this way."""

    env: str
    default: str | None = None

    @field_validator("env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"'{value}' is not an environment variable name (A-Z, 0-9, _)")
        return value


Secret = EnvRef
UrlValue = str | EnvRef


def _no_default(ref: EnvRef) -> EnvRef:
    if ref.default is not None:
        raise ValueError("a secret cannot have a default value; set the environment variable")
    return ref


class OAuth2Auth(_Strict):
    type: Literal["oauth2", "oauth2_client_credentials"]
    client_id: Secret
    client_secret: Secret
    token_url: UrlValue
    scope: str | None = None

    _secrets = field_validator("client_id", "client_secret")(_no_default)


class ApiKeyAuth(_Strict):
    type: Literal["api_key"]
    name: str = "api_key"
    api_key: Secret
    location: Literal["query", "header"] = "header"

    _secrets = field_validator("api_key")(_no_default)


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: Secret

    _secrets = field_validator("token")(_no_default)


class BasicAuth(_Strict):
    type: Literal["basic", "http_basic"]
    username: Secret
    password: Secret

    _secrets = field_validator("username", "password")(_no_default)


AuthSpec = Annotated[OAuth2Auth | ApiKeyAuth | BearerAuth | BasicAuth, Field(discriminator="type")]

# The secret fields of each auth type, by the name the credentials resource gives them.
SECRET_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    OAuth2Auth: ("client_id", "client_secret"),
    ApiKeyAuth: ("api_key",),
    BearerAuth: ("token",),
    BasicAuth: ("username", "password"),
}


class SinglePagePaginator(_Strict):
    type: Literal["single_page"]


class CursorPaginator(_Strict):
    type: Literal["cursor"]
    cursor_path: str
    cursor_param: str
    limit: int | None = Field(default=None, gt=0)
    limit_param: str = "limit"


class OffsetPaginator(_Strict):
    type: Literal["offset"]
    limit: int = Field(gt=0)
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_path: str | None = None
    has_more_path: str | None = None
    maximum_offset: int | None = None


class PageNumberPaginator(_Strict):
    type: Literal["page_number"]
    page_param: str = "page"
    base_page: int = 0
    total_path: str | None = None


PaginatorSpec = Annotated[
    SinglePagePaginator | CursorPaginator | OffsetPaginator | PageNumberPaginator,
    Field(discriminator="type"),
]


class ErrorHandler(_Strict):
    retry_on_status_codes: tuple[int, ...] = (429, 500, 502, 503, 504)
    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_factor: float = Field(default=2, ge=0)
    max_retry_delay: float = Field(default=60, gt=0)

    @field_validator("retry_on_status_codes")
    @classmethod
    def _statuses(cls, codes: tuple[int, ...]) -> tuple[int, ...]:
        wrong = [code for code in codes if not 400 <= code <= 599]
        if wrong:
            raise ValueError(f"status codes must be 4xx or 5xx, got {wrong}")
        return codes


class IncrementalSpec(_Strict):
    """Which field dates a record, and the API's own window filter parameters, if it has any."""

    cursor_path: str
    cursor_format: Literal["iso8601", "epoch"] = "iso8601"
    start_param: str | None = None
    end_param: str | None = None

    @property
    def server_side(self) -> bool:
        return self.start_param is not None

    @model_validator(mode="after")
    def _both_or_neither(self) -> IncrementalSpec:
        if (self.start_param is None) != (self.end_param is None):
            raise ValueError("start_param and end_param go together (or neither: client-side)")
        return self


class EndpointSpec(_Strict):
    path: str | None = None
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    data_selector: str | None = None
    paginator: PaginatorSpec | None = None
    incremental: IncrementalSpec | None = None
    error_handler: ErrorHandler | None = None


class ColumnHint(_Strict):
    data_type: (
        Literal["text", "bigint", "double", "bool", "timestamp", "date", "decimal", "json"] | None
    ) = None
    nullable: bool | None = None
    precision: int | None = None
    scale: int | None = None


class QualitySpec(_Strict):
    """What the data-quality checks hold a resource's rows to."""

    required: tuple[str, ...] = ()
    amount_columns: tuple[str, ...] = ()
    currency_column: str | None = None


PrimaryKey = str | tuple[str, ...]
WriteDisposition = Literal["merge", "replace", "append"]


class ResourceDefaults(_Strict):
    primary_key: PrimaryKey | None = None
    write_disposition: WriteDisposition | None = None
    endpoint: EndpointSpec = Field(default_factory=EndpointSpec)


class ResourceSpec(_Strict):
    name: str
    description: str | None = None
    primary_key: PrimaryKey | None = None
    write_disposition: WriteDisposition | None = None
    endpoint: EndpointSpec
    columns: dict[str, ColumnHint] = Field(default_factory=dict)
    max_table_nesting: int | None = Field(default=None, ge=0)
    quality: QualitySpec = Field(default_factory=QualitySpec)

    @property
    def time_columns(self) -> tuple[str, ...]:
        """Columns the YAML types as times: a number there is an epoch time, never a card."""
        return tuple(
            name for name, hint in self.columns.items() if hint.data_type in ("timestamp", "date")
        )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # A double underscore would collide with dlt's child-table separator.
        if not _NAME.match(value) or "__" in value:
            raise ValueError(f"'{value}' must be lower_snake_case without '__'")
        return value


class ClientSpec(_Strict):
    base_url: UrlValue
    auth: AuthSpec
    headers: dict[str, str] = Field(default_factory=dict)


class PartitionSpec(_Strict):
    start: date
    granularity: Literal["hourly", "daily", "weekly", "monthly"] = "daily"
    lookback: int = Field(default=1, ge=0, le=31)


class FreshnessSpec(_Strict):
    max_lag_hours: float = Field(default=26, gt=0)


ACCOUNT_COLUMN = "_account"
DEFAULT_ACCOUNT = "default"


class AccountSpec(_Strict):
    """One of several accounts at a provider: its own credentials and, where the API has one,
    its own account header or query parameter."""

    name: str
    credentials: dict[str, EnvRef]
    base_url: UrlValue | None = None
    token_url: UrlValue | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int] = Field(default_factory=dict)

    _name = field_validator("name")(classmethod(lambda cls, value: _snake(value)))

    @field_validator("credentials")
    @classmethod
    def _secrets(cls, refs: dict[str, EnvRef]) -> dict[str, EnvRef]:
        for ref in refs.values():
            _no_default(ref)
        return refs


def _snake(value: str) -> str:
    if not _NAME.match(value) or "__" in value:
        raise ValueError(f"'{value}' must be lower_snake_case without '__'")
    return value


class ProviderSpec(_Strict):
    name: str
    description: str = ""
    owners: tuple[str, ...] = ()
    partitions: PartitionSpec
    freshness: FreshnessSpec = Field(default_factory=FreshnessSpec)
    client: ClientSpec
    resource_defaults: ResourceDefaults = Field(default_factory=ResourceDefaults)
    error_handler: ErrorHandler | None = None
    resources: tuple[ResourceSpec, ...] = Field(min_length=1)
    accounts: tuple[AccountSpec, ...] = ()
    account_isolation: Literal["column", "dataset"] = "column"

    _provider_name = field_validator("name")(classmethod(lambda cls, value: _snake(value)))

    @property
    def multi_account(self) -> bool:
        """Accounts declared: rows carry their account, and runs are per account."""
        return bool(self.accounts)

    @property
    def account_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts) or (DEFAULT_ACCOUNT,)

    def account(self, name: str) -> AccountSpec | None:
        """The declared account `name`; None for the implicit single account."""
        for account in self.accounts:
            if account.name == name:
                return account
        if name == DEFAULT_ACCOUNT and not self.accounts:
            return None
        raise KeyError(f"{self.name} has no account '{name}'")

    def dataset_of(self, account: str = DEFAULT_ACCOUNT) -> str:
        """The destination dataset (schema): one per provider, or per account when isolated."""
        if self.multi_account and self.account_isolation == "dataset":
            return f"{self.name}_{account}"
        return self.name

    def secret_refs(self, account: str = DEFAULT_ACCOUNT) -> dict[str, EnvRef]:
        """The environment variable of each secret, for one account."""
        declared = self.account(account)
        if declared is not None:
            return dict(declared.credentials)
        return {name: getattr(self.client.auth, name) for name in self.secret_fields}

    @property
    def retry_policy(self) -> ErrorHandler:
        return self.error_handler or self.resource_defaults.endpoint.error_handler or ErrorHandler()

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return SECRET_FIELDS[type(self.client.auth)]

    def resource(self, name: str) -> ResourceSpec:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(f"{self.name} has no resource '{name}'")

    def endpoint_of(self, resource: ResourceSpec) -> EndpointSpec:
        """The resource's endpoint with `resource_defaults.endpoint` filled in."""
        defaults = self.resource_defaults.endpoint.model_dump(exclude_unset=True)
        own = resource.endpoint.model_dump(exclude_unset=True)
        return EndpointSpec.model_validate({**defaults, **own})

    @property
    def accounts_share_tables(self) -> bool:
        return self.multi_account and self.account_isolation == "column"

    def primary_key_of(self, resource: ResourceSpec) -> PrimaryKey | None:
        """The merge key; accounts sharing a table are part of it, so equal ids never collide."""
        key = resource.primary_key or self.resource_defaults.primary_key
        if key and self.accounts_share_tables:
            return (ACCOUNT_COLUMN, *((key,) if isinstance(key, str) else key))
        return key

    def write_disposition_of(self, resource: ResourceSpec) -> WriteDisposition:
        chosen = resource.write_disposition or self.resource_defaults.write_disposition or "append"
        if chosen == "replace" and self.accounts_share_tables:
            return "merge"  # replacing the table would wipe the other accounts' snapshots
        return chosen

    def is_windowed(self, resource: ResourceSpec) -> bool:
        """Resources with a time cursor are partitioned by it; the others are snapshots."""
        return self.endpoint_of(resource).incremental is not None

    @model_validator(mode="after")
    def _consistent(self) -> ProviderSpec:
        seen: set[str] = set()
        for index, resource in enumerate(self.resources):
            if resource.name in seen:
                raise _Located(
                    ("resources", index, "name"), f"duplicate resource '{resource.name}'"
                )
            seen.add(resource.name)
            endpoint = self.endpoint_of(resource)
            where = ("resources", index)
            if not endpoint.path:
                raise _Located((*where, "endpoint", "path"), "every resource needs a path")
            if endpoint.paginator is None:
                raise _Located(
                    (*where, "endpoint", "paginator"),
                    "no paginator: declare one (single_page for unpaged endpoints)",
                )
            if not endpoint.data_selector:
                raise _Located(
                    (*where, "endpoint", "data_selector"),
                    "no data_selector: name the key that holds the records ('$' for a bare list)",
                )
            if resource.endpoint.error_handler and resource.endpoint.error_handler != (
                self.retry_policy
            ):
                raise _Located(
                    (*where, "endpoint", "error_handler"),
                    "retries are per provider: put error_handler in resource_defaults.endpoint",
                )
            write = self.write_disposition_of(resource)
            if write == "merge" and not self.primary_key_of(resource):
                raise _Located((*where, "primary_key"), "merge needs a primary_key")
        self._check_accounts()
        return self

    def _check_accounts(self) -> None:
        names: set[str] = set()
        for index, account in enumerate(self.accounts):
            where = ("accounts", index)
            if account.name in names:
                raise _Located((*where, "name"), f"duplicate account '{account.name}'")
            names.add(account.name)
            given, needed = set(account.credentials), set(self.secret_fields)
            if given != needed:
                raise _Located(
                    (*where, "credentials"),
                    f"{self.client.auth.type} auth needs exactly {sorted(needed)}, "
                    f"got {sorted(given)}",
                )
            if account.token_url is not None and not isinstance(self.client.auth, OAuth2Auth):
                raise _Located((*where, "token_url"), "token_url is for oauth2 auth only")


class _Located(ValueError):
    """A model-level error that knows which key it is about."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


def _describe_location(loc: Iterable[Any], raw: Mapping[str, Any]) -> str:
    """`('resources', 1, 'endpoint')` → `resources[invoices].endpoint`, as a reader names it.

    Pydantic puts union tags (`'cursor'`) and member names (`'EnvRef'`) in locations; they are
    not keys of the file, so they are left out.
    """
    parts: list[str] = []
    node: Any = raw
    items = list(loc)
    for position, item in enumerate(items):
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node):
                name = node[item].get("name") if isinstance(node[item], dict) else None
                label = str(name) if name else label
                node = node[item]
            parts[-1:] = [f"{parts[-1]}[{label}]"] if parts else [f"[{label}]"]
            continue
        last = position == len(items) - 1
        if isinstance(node, dict) and node.get("type") == item and not last:
            continue  # the discriminator's value, not a key
        if not last and (not isinstance(node, dict) or item not in node):
            continue  # a union member's name, not a key
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _errors(exc: ValidationError, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for error in exc.errors():
        loc = error["loc"]
        message = error["msg"]
        ctx_error = error.get("ctx", {}).get("error")
        if isinstance(ctx_error, _Located):
            loc = (*loc, *ctx_error.loc)
            message = str(ctx_error)
        elif error["type"] == "model_type" and "EnvRef" in message:
            message = "write secrets and URLs as {env: VARIABLE_NAME}, never as literal values"
        elif error["type"] == "missing":
            message = "missing: this key is required here"
        elif error["type"] == "extra_forbidden":
            message = "unknown key (not part of the provider dialect)"
        elif error["type"] == "union_tag_invalid":
            given, expected = error["input"].get("type"), error["ctx"]["expected_tags"]
            message = f"unknown type {given!r}; expected one of {expected}"
        message = message.removeprefix("Value error, ")
        found.append((_describe_location(loc, raw), message))
    return found


def parse_provider(text: str, file: str, name: str) -> ProviderSpec:
    """Validate one provider document; `file` and `name` say where it came from."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ProviderSpecError(
            file, where, f"not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(raw, dict):
        raise ProviderSpecError(file, "", "a provider file must be a mapping of keys to values")
    if raw.get("name", name) != name:
        raise ProviderSpecError(
            file, "name", f"'{raw['name']}' differs from the file name '{name}'"
        )
    try:
        return ProviderSpec.model_validate({**raw, "name": name})
    except ValidationError as exc:
        key, problem = _errors(exc, raw)[0]
        raise ProviderSpecError(file, key, problem) from None


def load_provider(path: Path) -> ProviderSpec:
    return parse_provider(path.read_text(encoding="utf-8"), file=_display(path), name=path.stem)


def load_providers(directory: Path = PROVIDERS_DIR) -> list[ProviderSpec]:
    """Every `*.yaml` in `directory`, sorted by name: adding a provider is adding a file."""
    return [load_provider(path) for path in sorted(directory.glob("*.yaml"))]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return f"{path.parent.name}/{path.name}"


def resolve_url(value: UrlValue, environ: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if environ.get(value.env):
        return environ[value.env]
    if value.default is None:
        raise KeyError(value.env)
    return value.default


def paginator_config(paginator: PaginatorSpec) -> dict[str, Any]:
    """The dlt paginator dict for a dialect paginator (`limit` on a cursor goes to the params)."""
    if isinstance(paginator, CursorPaginator):
        return {
            "type": "cursor",
            "cursor_path": paginator.cursor_path,
            "cursor_param": paginator.cursor_param,
        }
    if isinstance(paginator, OffsetPaginator):
        # Without a total or has_more in the response, the end is an empty page; dlt's default
        # (total_path="total") would fail after the first page of such an API.
        return {
            "type": "offset",
            "limit": paginator.limit,
            "offset_param": paginator.offset_param,
            "limit_param": paginator.limit_param,
            "total_path": paginator.total_path,
            "has_more_path": paginator.has_more_path,
            "maximum_offset": paginator.maximum_offset,
            "stop_after_empty_page": True,
        }
    if isinstance(paginator, PageNumberPaginator):
        return {
            "type": "page_number",
            "page_param": paginator.page_param,
            "base_page": paginator.base_page,
            "total_path": paginator.total_path,
            "stop_after_empty_page": True,
        }
    return {"type": "single_page"}


def endpoint_params(endpoint: EndpointSpec) -> dict[str, Any]:
    params: dict[str, Any] = dict(endpoint.params)
    if isinstance(endpoint.paginator, CursorPaginator) and endpoint.paginator.limit:
        params.setdefault(endpoint.paginator.limit_param, endpoint.paginator.limit)
    return params


def columns_config(spec: ProviderSpec, resource: ResourceSpec) -> dict[str, dict[str, Any]]:
    """Column hints for dlt; the cursor decides which version of a key wins within one load."""
    columns = {name: hint.model_dump(exclude_none=True) for name, hint in resource.columns.items()}
    endpoint = spec.endpoint_of(resource)
    if endpoint.incremental and spec.write_disposition_of(resource) == "merge":
        columns.setdefault(endpoint.incremental.cursor_path, {})["dedup_sort"] = "desc"
    return columns
