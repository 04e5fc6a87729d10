"""The provider dialect, key by key: what a provider YAML may say, and what each key accepts.

Close to dlt's `rest_api_source` dialect but not equal to it (`oauth2` + `token_url`, `basic`,
`limit` on a cursor paginator, `error_handler`, and the project's own keys: partitions,
freshness, quality, statuses, accounts). Every model forbids unknown keys, so a typo fails with
the key's name instead of being ignored. The provider as a whole is `provider.ProviderSpec`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .record_shapes import NestedListSpec, NeverLandEntry
from .roles import RoleName, RoleSpec

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
SNAKE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

ACCOUNT_COLUMN = "_account"
DEFAULT_ACCOUNT = "default"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def snake_name(value: str) -> str:
    # A double underscore would collide with dlt's child-table separator.
    if not SNAKE_NAME.match(value) or "__" in value:
        raise ValueError(f"'{value}' must be lower_snake_case without '__'")
    return value


class EnvRef(Strict):
    """A value read from the environment by name; secrets may only be written this way."""

    env: str
    default: str | None = None

    @field_validator("env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(f"'{value}' is not an environment variable name (A-Z, 0-9, _)")
        return value


Secret = EnvRef
UrlValue = str | EnvRef


def no_default(ref: EnvRef) -> EnvRef:
    if ref.default is not None:
        raise ValueError("a secret cannot have a default value; set the environment variable")
    return ref


# Auth ------------------------------------------------------------------------------------------


class OAuth2Auth(Strict):
    type: Literal["oauth2", "oauth2_client_credentials"]
    client_id: Secret
    client_secret: Secret
    token_url: UrlValue
    scope: str | None = None

    _secrets = field_validator("client_id", "client_secret")(no_default)


class ApiKeyAuth(Strict):
    type: Literal["api_key"]
    name: str = "api_key"
    api_key: Secret
    location: Literal["query", "header"] = "header"

    _secrets = field_validator("api_key")(no_default)


class BearerAuth(Strict):
    type: Literal["bearer"]
    token: Secret

    _secrets = field_validator("token")(no_default)


class BasicAuth(Strict):
    type: Literal["basic", "http_basic"]
    username: Secret
    password: Secret

    _secrets = field_validator("username", "password")(no_default)


AuthSpec = Annotated[OAuth2Auth | ApiKeyAuth | BearerAuth | BasicAuth, Field(discriminator="type")]

SECRET_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    OAuth2Auth: ("client_id", "client_secret"),
    ApiKeyAuth: ("api_key",),
    BearerAuth: ("token",),
    BasicAuth: ("username", "password"),
}
"""The secret fields of each auth type, by the name the credentials resource gives them."""


# Paginators ------------------------------------------------------------------------------------


class SinglePagePaginator(Strict):
    type: Literal["single_page"]


class CursorPaginator(Strict):
    """The next page is asked for with a cursor: taken from the body (`cursor_path`) or from a
    field of the page's last record (`last_record_field`, Stripe's `starting_after`). The walk
    ends when the cursor is empty, `has_more_path` reads false, or a page comes back empty."""

    type: Literal["cursor"]
    cursor_param: str
    cursor_path: str | None = None
    last_record_field: str | None = None
    has_more_path: str | None = None
    limit: int | None = Field(default=None, gt=0)
    limit_param: str = "limit"

    @model_validator(mode="after")
    def _one_cursor(self) -> CursorPaginator:
        if (self.cursor_path is None) == (self.last_record_field is None):
            raise Located(
                ("cursor_path",),
                "say where the cursor comes from: cursor_path (a key of the response) or "
                "last_record_field (a field of the page's last record), exactly one",
            )
        return self


class NextUrlPaginator(Strict):
    """The body names the next page's full URL (`{"next": "https://…?page=2"}`); none ends it."""

    type: Literal["next_url"]
    next_url_path: str = "next"


class LinkHeaderPaginator(Strict):
    """An RFC 8288 `Link` header names the next page (`<https://…>; rel="next"`)."""

    type: Literal["link_header"]
    rel: str = "next"


class OffsetPaginator(Strict):
    type: Literal["offset"]
    limit: int = Field(gt=0)
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_path: str | None = None
    has_more_path: str | None = None
    maximum_offset: int | None = None


class PageNumberPaginator(Strict):
    """Pages by number; `total_path` names the total number of pages, when the API says it
    (else the walk ends on an empty page). `limit` goes to `limit_param` (the page size)."""

    type: Literal["page_number"]
    page_param: str = "page"
    base_page: int = 0
    total_path: str | None = None
    limit: int | None = Field(default=None, gt=0)
    limit_param: str = "per_page"


PaginatorSpec = Annotated[
    SinglePagePaginator
    | CursorPaginator
    | OffsetPaginator
    | PageNumberPaginator
    | NextUrlPaginator
    | LinkHeaderPaginator,
    Field(discriminator="type"),
]


# Endpoints and resources -----------------------------------------------------------------------


class ErrorHandler(Strict):
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


class IncrementalSpec(Strict):
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


Scalar = str | int | float | bool
ParamValue = Scalar | list[Scalar]
"""A query parameter; a list is sent as the key repeated (`expand[]: [a, b]`)."""


class EndpointSpec(Strict):
    path: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    data_selector: str | None = None
    paginator: PaginatorSpec | None = None
    incremental: IncrementalSpec | None = None
    error_handler: ErrorHandler | None = None


ColumnType = Literal["text", "bigint", "double", "bool", "timestamp", "date", "decimal", "json"]
TIME_TYPES = frozenset({"timestamp", "date"})


class ColumnHint(Strict):
    description: str | None = None  # shown with the column in the UI
    data_type: ColumnType | None = None
    nullable: bool | None = None
    precision: int | None = None
    scale: int | None = None


class QualitySpec(Strict):
    """What the data-quality checks hold a resource's rows to."""

    required: tuple[str, ...] = ()
    amount_columns: tuple[str, ...] = ()
    currency_column: str | None = None


CommonStatus = Literal[
    # Money movements (payments, charges, refunds, payouts): where the money is.
    "pending",
    "succeeded",
    "failed",
    "canceled",
    "refunded",
    "disputed",
    # Relationships (customers, mandates, subscriptions) and catalogue entries.
    "active",
    "inactive",
    "trialing",
    "past_due",
    "paused",
]
"""The one status vocabulary staging maps every provider's words to (`statuses:` per resource)."""

PrimaryKey = str | tuple[str, ...]
WriteDisposition = Literal["merge", "replace", "append"]


class RecordDeletion(Strict):
    """A deleted record still listed, and marked: `deleted: true`, `status: deleted`."""

    field: str
    values: tuple[Scalar, ...] = Field(min_length=1)


class EventDeletion(Strict):
    """A deletion announced as an event of one of the provider's resources (`/v1/events`),
    naming the deleted record by the id at `id_path` of the event."""

    resource: str
    types: tuple[str, ...] = Field(min_length=1)
    id_path: str = "data.object.id"


class DeleteSpec(Strict):
    """How a provider signals that a record is gone, and what the warehouse does about it.

    `mode: soft` keeps the row with `_deleted_at` set (staging and marts leave it out); `hard`
    removes it (dlt's `hard_delete` hint, and a delete for records whose deletion arrives
    another way). Signals, any of them: the record itself (`when`), an events resource
    (`events`), webhook event types (`webhooks`; the event's `data.object` names the record by
    its primary key), and, for a snapshot, absence from the latest full snapshot. `{resource}` in
    an event type stands for the resource's name, so `resource_defaults` can say it once.
    """

    mode: Literal["soft", "hard"] = "soft"
    when: RecordDeletion | None = None
    events: EventDeletion | None = None
    webhooks: tuple[str, ...] = ()
    absent_from_snapshot: bool = False


class ResourceDefaults(Strict):
    primary_key: PrimaryKey | None = None
    write_disposition: WriteDisposition | None = None
    endpoint: EndpointSpec = Field(default_factory=EndpointSpec)
    deletes: DeleteSpec | None = None


class ResourceSpec(Strict):
    name: str
    description: str | None = None
    primary_key: PrimaryKey | None = None
    write_disposition: WriteDisposition | None = None
    endpoint: EndpointSpec
    columns: dict[str, ColumnHint] = Field(default_factory=dict)
    max_table_nesting: int | None = Field(default=None, ge=0)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    statuses: dict[str, CommonStatus] = Field(default_factory=dict)
    """The API's status words (lower case) → the common vocabulary; empty: kept as sent."""
    deletes: DeleteSpec | None = None
    # Record shapes of real APIs (specs/record_shapes.py): paged nested lists, fields kept out,
    # and the parent's fields a dependent resource's rows carry.
    nested_lists: tuple[NestedListSpec, ...] = ()
    never_land: tuple[NeverLandEntry, ...] = ()
    include_from_parent: tuple[str, ...] = ()
    roles: dict[RoleName, RoleSpec] = Field(default_factory=dict)
    """What the resource is to the marts (`specs/roles.py`)."""

    _name = field_validator("name")(classmethod(lambda cls, value: snake_name(value)))

    @field_validator("statuses")
    @classmethod
    def _lower_case(cls, statuses: dict[str, str]) -> dict[str, str]:
        upper = [word for word in statuses if word != word.lower()]
        if upper:
            raise ValueError(f"write the API's status words in lower case: {upper}")
        return statuses


# The provider around its resources ------------------------------------------------------------


class ClientSpec(Strict):
    base_url: UrlValue
    auth: AuthSpec
    headers: dict[str, str] = Field(default_factory=dict)


class PartitionSpec(Strict):
    start: date
    granularity: Literal["hourly", "daily", "weekly", "monthly"] = "daily"
    lookback: int = Field(default=1, ge=0, le=31)


class FreshnessSpec(Strict):
    max_lag_hours: float = Field(default=26, gt=0)


class RateLimit(Strict):
    """The provider's published request budget: every request of a run (all its resources in
    parallel, token requests included) draws from one bucket of `burst` tokens refilled at
    `requests_per_second`."""

    requests_per_second: float = Field(gt=0)
    burst: int | None = Field(default=None, ge=1)

    @property
    def capacity(self) -> int:
        return self.burst or max(1, int(self.requests_per_second))


class AccountSpec(Strict):
    """One of several accounts at a provider: its own credentials and, where the API has one,
    its own account header or query parameter."""

    name: str
    credentials: dict[str, EnvRef]
    base_url: UrlValue | None = None
    token_url: UrlValue | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int] = Field(default_factory=dict)
    rate_limit: RateLimit | None = None
    """This account's own budget (providers budget per account: Stripe, per secret key)."""

    _name = field_validator("name")(classmethod(lambda cls, value: snake_name(value)))

    @field_validator("credentials")
    @classmethod
    def _secrets(cls, refs: dict[str, EnvRef]) -> dict[str, EnvRef]:
        for ref in refs.values():
            no_default(ref)
        return refs


class Located(ValueError):
    """A model-level error that knows which key it is about."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)
